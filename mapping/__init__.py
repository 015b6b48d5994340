"""Canonical model, units and code crosswalks: no I/O, no knowledge of any system."""
