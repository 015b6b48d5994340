"""stockbridge: one consolidated, trustworthy stock table from the systems a factory runs."""

__version__ = "0.1.0"
