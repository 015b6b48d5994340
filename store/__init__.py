"""The central store: the only place that speaks SQL to the central database.

Start at `stockbridge.store.database.open_store(url)`: an engine for SQLite
(embedded, upgraded on first use) or PostgreSQL (upgraded only by
`stockbridge db upgrade`). The tables are in `schema`, the exact quantity
and UTC time column types in `types`, the Alembic revisions in `migrations`.
"""
