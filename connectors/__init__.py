"""Connectors: all knowledge of each source system, one module per system."""
