"""Sync: drives connectors, mapping and the store."""
