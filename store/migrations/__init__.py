"""Alembic migrations of the central store."""
