"""The K3 Cloud simulator's own SQLite database: its layout and the helpers around it.

One `bill_rows` row per bill entry (header columns repeated, as ExecuteBillQuery
returns them) and one `inventory` row per T_STK_INVENTORY key. Quantities are
kept twice: as the exact decimal text that is returned, and as an integer
scaled by 10^10 (K3's decimal(23,10)) that filters and sorts use, so no float
ever touches a quantity. Times are China local time in a fixed-width text form
('2026-03-23 10:44:38.640') that sorts as it reads. The `*_held` views are what
the late-postings knob shows: late lines hidden, and their effect taken out of
the inventory. `k3cloud_load` fills the store from the truth.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

__all__ = [
    "CHINA",
    "INDEXES",
    "ORG_ID",
    "SCHEMA",
    "china_text",
    "connect",
    "fingerprint",
    "now_text",
    "render_qty",
    "scaled",
    "store_is_current",
]

CHINA = timezone(timedelta(hours=8), "CST")
SCALE = 10
STORE_VERSION = 1
"""Bump when the layout changes, so stores built by older code are rebuilt."""
ORG_ID = 1
"""The one stock organisation (the site) every row belongs to."""

SCHEMA = """
CREATE TABLE built_from (truth TEXT, size INTEGER, mtime_ns INTEGER, version INTEGER);
CREATE TABLE orgs (id INTEGER PRIMARY KEY, number TEXT NOT NULL, name TEXT NOT NULL);
CREATE TABLE materials (
    id INTEGER PRIMARY KEY, number TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    base_unit_id INTEGER NOT NULL, alt_unit_id INTEGER NOT NULL,
    alt_factor TEXT NOT NULL, batch_managed INTEGER NOT NULL);
CREATE TABLE stocks (id INTEGER PRIMARY KEY, number TEXT NOT NULL UNIQUE, name TEXT NOT NULL);
CREATE TABLE lots (
    id INTEGER PRIMARY KEY, number TEXT NOT NULL, name TEXT NOT NULL,
    material_id INTEGER NOT NULL, UNIQUE (material_id, number));
CREATE INDEX lots_by_number ON lots (number);
CREATE TABLE stock_statuses (id INTEGER PRIMARY KEY, number TEXT NOT NULL UNIQUE, name TEXT NOT NULL);
CREATE TABLE units (id INTEGER PRIMARY KEY, number TEXT NOT NULL UNIQUE, name TEXT NOT NULL);
CREATE TABLE bill_types (id TEXT PRIMARY KEY, number TEXT NOT NULL UNIQUE, name TEXT NOT NULL);
CREATE INDEX orgs_by_number ON orgs (number);
CREATE TABLE bill_rows (
    entry_id INTEGER PRIMARY KEY, form TEXT NOT NULL, fid INTEGER NOT NULL,
    seq INTEGER NOT NULL, bill_no TEXT NOT NULL, bill_type_id TEXT NOT NULL,
    date TEXT NOT NULL, document_status TEXT NOT NULL, cancel_status TEXT NOT NULL,
    create_date TEXT NOT NULL, modify_date TEXT NOT NULL, approve_date TEXT,
    stock_org_id INTEGER NOT NULL, note TEXT NOT NULL,
    material_id INTEGER NOT NULL, unit_id INTEGER NOT NULL, base_unit_id INTEGER NOT NULL,
    stock_id INTEGER NOT NULL, lot_id INTEGER NOT NULL, status_id INTEGER NOT NULL,
    dest_stock_id INTEGER NOT NULL, dest_lot_id INTEGER NOT NULL,
    dest_status_id INTEGER NOT NULL,
    qty TEXT NOT NULL, qty_i INTEGER NOT NULL,
    base_qty TEXT NOT NULL, base_qty_i INTEGER NOT NULL,
    order_ref TEXT NOT NULL, late INTEGER NOT NULL);
CREATE VIEW bill_rows_held AS SELECT * FROM bill_rows WHERE late = 0;
CREATE TABLE inventory (
    row_id INTEGER PRIMARY KEY, fid TEXT NOT NULL UNIQUE,
    stock_org_id INTEGER NOT NULL, material_id INTEGER NOT NULL,
    stock_id INTEGER NOT NULL, lot_id INTEGER NOT NULL, status_id INTEGER NOT NULL,
    base_unit_id INTEGER NOT NULL,
    qty TEXT NOT NULL, qty_i INTEGER NOT NULL,
    lock_qty TEXT NOT NULL, lock_qty_i INTEGER NOT NULL,
    avb_qty TEXT NOT NULL, avb_qty_i INTEGER NOT NULL, update_time TEXT NOT NULL,
    held_qty TEXT NOT NULL, held_qty_i INTEGER NOT NULL,
    held_avb_qty TEXT NOT NULL, held_avb_qty_i INTEGER NOT NULL,
    held_update_time TEXT NOT NULL,
    UNIQUE (material_id, stock_id, lot_id, status_id));
CREATE VIEW inventory_held AS SELECT
    row_id, fid, stock_org_id, material_id, stock_id, lot_id, status_id, base_unit_id,
    held_qty AS qty, held_qty_i AS qty_i, lock_qty, lock_qty_i,
    held_avb_qty AS avb_qty, held_avb_qty_i AS avb_qty_i,
    held_update_time AS update_time
    FROM inventory;
"""

INDEXES = """
CREATE INDEX bill_rows_by_fid ON bill_rows (
    form, fid, entry_id, late, modify_date, document_status, cancel_status);
CREATE INDEX bill_rows_by_modify ON bill_rows (
    form, modify_date, fid, entry_id, late, document_status, cancel_status);
CREATE INDEX bill_rows_by_approve ON bill_rows (form, approve_date, fid, entry_id, late);
CREATE INDEX bill_rows_by_bill_no ON bill_rows (form, bill_no);
CREATE INDEX inventory_by_update ON inventory (update_time);
"""


def scaled(value: Decimal) -> int:
    """The integer that filters and sorts use: the quantity times 10^10, exactly."""
    return int(value.scaleb(SCALE).to_integral_value())


def render_qty(text: str) -> str:
    """The JSON number K3 writes for a quantity: no exponent, at least one decimal."""
    out = format(Decimal(text).normalize(), "f")
    return out if "." in out else f"{out}.0"


def china_text(moment: datetime) -> str:
    """A moment as the store keeps it: China local time, millisecond, sortable text."""
    local = moment.astimezone(CHINA)
    return local.strftime("%Y-%m-%d %H:%M:%S.") + f"{local.microsecond // 1000:03d}"


def connect(path: Path) -> sqlite3.Connection:
    """A connection for one request; autocommit, so writes say BEGIN themselves."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.execute("PRAGMA busy_timeout = 30000")
    return db


def fingerprint(truth: Path) -> tuple[str, int, int, int]:
    """What `built_from` records: the truth file's identity and the store layout."""
    stat = truth.stat()
    return str(truth.resolve()), stat.st_size, stat.st_mtime_ns, STORE_VERSION


def store_is_current(store: Path, truth: Path) -> bool:
    """True if `store` was built from this very truth file by this store layout."""
    if not store.exists():
        return False
    with closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
        try:
            row = db.execute("SELECT * FROM built_from").fetchone()
        except sqlite3.DatabaseError:
            return False
    return row is not None and tuple(row) == fingerprint(truth)


def now_text() -> str:
    """The current moment in the store's time form (for saved and audited bills)."""
    return china_text(datetime.now(UTC))
