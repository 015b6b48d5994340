"""The MES REST simulator's own database, cut from the truth's `mes` rows.

The MES tracks the line-side warehouses of the sites whose `warehouses.systems`
names it. This module reads that share through `truth_share.TruthShare` (one
site at a time), renders it the way the MES keeps it (MES unit codes, naive
China local times, transaction ids and types, quantities with three decimals)
and writes it to a SQLite file numbered in serving order, so every page of
every pagination style is an index range whatever the truth's size.

Late lines (`movements.late = 1`) stay in the share, flagged. While the
`late_postings` knob is on the app hides them and serves the stock without
their effect (`qty_early`, `update_time_early`), like the other simulators: a
system that has not recorded a movement has not booked its stock either.

The share is rebuilt only when the truth file changes, written under a
temporary name and renamed, so a reader never sees half of one.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from stockbridge.simulators.truth_share import Line, TruthShare

__all__ = [
    "MES_STATUS",
    "MES_TRANSACTION_TYPES",
    "MES_UNITS",
    "build_mes_rest_share",
    "open_share",
    "quantity_text",
    "share_is_current",
    "truth_stamp",
    "txn_id",
]

_SHARE_VERSION = "1"

MES_UNITS = {
    "H87": "PCS",
    "KGM": "KG",
    "GRM": "G",
    "TNE": "T",
    "MTR": "M",
    "LTR": "L",
    "CT": "CTN",
    "BX": "BOX",
}
"""MES unit codes by UN/ECE code."""

MES_STATUS = "OK"
"""The only status served: `TruthShare` hands out unrestricted stock only (the
MES statuses for inspection and blocked stock would be 'QC' and 'HOLD')."""

MES_TRANSACTION_TYPES = {
    "production_issue": "CONSUME",
    "scrap": "SCRAP",
    "adjustment": "ADJUST",
    "reversal": "REVERSAL",
    "receipt": "RECEIVE",
    "issue": "ISSUE",
    "production_receipt": "OUTPUT",
    "sales_issue": "SHIP",
    "return": "RETURN",
}
"""`txnType` by truth kind; transfers are 'TRANSFER_IN' or 'TRANSFER_OUT' by sign."""

_DDL = """
CREATE TABLE share_meta (stamp TEXT NOT NULL);
CREATE TABLE stock (
    seq INTEGER PRIMARY KEY,  -- serving order: factory, warehouse, material, lot
    factory TEXT NOT NULL, warehouse TEXT NOT NULL, material TEXT NOT NULL,
    name TEXT NOT NULL, lot TEXT NOT NULL, status TEXT NOT NULL, unit TEXT NOT NULL,
    qty TEXT NOT NULL, qty_early TEXT NOT NULL, reserved TEXT NOT NULL,
    update_time TEXT NOT NULL, update_time_early TEXT NOT NULL
);
CREATE INDEX stock_by_factory ON stock (factory, seq);
CREATE TABLE staged_txn (
    late INTEGER NOT NULL, txn_id TEXT NOT NULL, txn_type TEXT NOT NULL,
    direction TEXT NOT NULL, work_order TEXT NOT NULL, material TEXT NOT NULL,
    lot TEXT NOT NULL, qty TEXT NOT NULL, unit TEXT NOT NULL,
    from_location TEXT NOT NULL, to_location TEXT NOT NULL, factory TEXT NOT NULL,
    warehouse TEXT NOT NULL, txn_time TEXT NOT NULL, create_time TEXT NOT NULL,
    reversed_txn_id TEXT NOT NULL
);
"""
_TXN_DDL = """
CREATE TABLE txn (seq INTEGER PRIMARY KEY, {columns});
INSERT INTO txn SELECT NULL, * FROM staged_txn ORDER BY create_time, txn_id;
DROP TABLE staged_txn;
CREATE INDEX txn_by_create ON txn (create_time);
CREATE INDEX txn_by_factory ON txn (factory, seq);
"""
_TXN_COLUMNS = (
    "late, txn_id, txn_type, direction, work_order, material, lot, qty, unit,"
    " from_location, to_location, factory, warehouse, txn_time, create_time,"
    " reversed_txn_id"
)

# The other warehouse of a transfer (or of a transfer's reversal): the ERP
# leg of the same physical event with the opposite sign.
_OTHER_WAREHOUSE = """
SELECT m.id, MIN(o.warehouse) FROM movements m
JOIN movements o ON o.event = m.event AND o.site = m.site
    AND o.warehouse <> m.warehouse
    AND (o.quantity LIKE '-%') <> (m.quantity LIKE '-%')
WHERE m.system = 'mes' AND m.kind IN ('transfer', 'reversal')
GROUP BY m.id
"""


def open_share(path: Path) -> sqlite3.Connection:
    """A read-only connection; one per request, since requests run on threads."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def quantity_text(quantity: Decimal) -> str:
    """The MES's DECIMAL(18,3) as text: '1433.000', '-0.154'."""
    return f"{quantity.quantize(Decimal('0.001')):f}"


def txn_id(document: str, line: int) -> str:
    """The MES transaction id of a truth document line: 'MES-PI-000002-003'."""
    return f"{document}-{line:03d}"


def truth_stamp(truth_path: Path, version: str) -> str:
    """What identifies a truth file's content cheaply, for a share built from it."""
    status = truth_path.stat()
    return f"{version}:{status.st_size}:{status.st_mtime_ns}"


def share_is_current(share_path: Path, stamp: str) -> bool:
    """Whether `share_path` exists with `stamp` in its `share_meta` table."""
    if not share_path.exists():
        return False
    with closing(open_share(share_path)) as share:
        try:
            row = share.execute("SELECT stamp FROM share_meta").fetchone()
        except sqlite3.DatabaseError:
            return False
    return row is not None and row[0] == stamp


def build_mes_rest_share(truth_path: Path, share_path: Path) -> Path:
    """Write (or keep, if current) the share of `truth_path` at `share_path`."""
    truth_path = Path(truth_path).resolve()
    stamp = truth_stamp(truth_path, _SHARE_VERSION)
    if share_is_current(share_path, stamp):
        return share_path
    share_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = share_path.with_name(f"{share_path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    with (
        closing(sqlite3.connect(f"file:{truth_path}?mode=ro", uri=True)) as truth,
        closing(sqlite3.connect(temporary)) as share,
    ):
        # A half-written temporary file is thrown away, so skip the journal and fsyncs.
        share.execute("PRAGMA journal_mode=OFF")
        share.execute("PRAGMA synchronous=OFF")
        share.executescript(_DDL)
        sites = [
            row[0]
            for row in truth.execute(
                "SELECT DISTINCT site FROM warehouses"
                " WHERE instr(',' || systems || ',', ',mes,') > 0 ORDER BY site"
            )
        ]
        other_warehouse = dict(truth.execute(_OTHER_WAREHOUSE).fetchall())
        for site in sites:
            with TruthShare(truth_path, "mes", site) as site_share:
                _fill_site(share, site_share, other_warehouse)
        share.executescript(_TXN_DDL.format(columns=_TXN_COLUMNS))
        share.execute("INSERT INTO share_meta VALUES (?)", (stamp,))
        share.commit()
    temporary.replace(share_path)
    return share_path


def _fill_site(
    share: sqlite3.Connection, truth: TruthShare, other_warehouse: dict[int, str]
) -> None:
    materials = {m.material: m for m in truth.materials()}
    opened = _local_text(truth.start_at)
    late_effect: dict[tuple[str, str, str], Decimal] = {}
    updated: dict[tuple[str, str, str], str] = {}
    updated_early: dict[tuple[str, str, str], str] = {}

    def transactions() -> Iterator[tuple[object, ...]]:
        for line in truth.lines():
            if not line.effective:
                continue  # a voided or unposted line never reached the MES ledger
            entered = _local_text(line.entered_at)
            updated[line.key] = max(updated.get(line.key, opened), entered)
            if line.late:
                late_effect[line.key] = (
                    late_effect.get(line.key, Decimal(0)) + line.quantity
                )
            else:
                updated_early[line.key] = max(
                    updated_early.get(line.key, opened), entered
                )
            unit = MES_UNITS[materials[line.key[0]].base_unit]
            yield _transaction(truth.site, line, unit, entered, other_warehouse)

    share.executemany(
        "INSERT INTO staged_txn VALUES"
        " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        transactions(),
    )
    stock = []
    for balance in truth.stock():
        material, warehouse, lot = balance.key
        info = materials[material]
        early = balance.quantity - late_effect.get(balance.key, Decimal(0))
        stock.append(
            (
                truth.site,
                warehouse,
                material,
                info.name,
                lot,
                MES_STATUS,
                MES_UNITS[info.base_unit],
                quantity_text(balance.quantity),
                quantity_text(early),
                quantity_text(balance.reserved),
                updated.get(balance.key, opened),
                updated_early.get(balance.key, opened),
            )
        )
    stock.sort(key=lambda row: (row[0], row[1], row[2], row[4]))
    share.executemany(
        "INSERT INTO stock (factory, warehouse, material, name, lot, status, unit,"
        " qty, qty_early, reserved, update_time, update_time_early)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        stock,
    )


def _local_text(moment: datetime) -> str:
    """'yyyy-MM-dd HH:mm:ss', as the MES writes its naive local times."""
    return moment.isoformat(" ", "seconds")


def _transaction(
    site: str, line: Line, unit: str, entered: str, other_warehouse: dict[int, str]
) -> tuple[object, ...]:
    """One staged `txn` row: unsigned quantity, `direction` 'IN' or 'OUT' of the warehouse."""
    inward = line.quantity > 0
    warehouse = line.key[1]
    other = other_warehouse.get(line.id, "")
    if line.kind == "transfer":
        txn_type = "TRANSFER_IN" if inward else "TRANSFER_OUT"
    else:
        txn_type = MES_TRANSACTION_TYPES[line.kind]
    from_location, to_location = (other, warehouse) if inward else (warehouse, other)
    return (
        int(line.late),
        txn_id(line.document, line.line),
        txn_type,
        "IN" if inward else "OUT",
        line.order_ref,
        line.key[0],
        line.key[2],
        quantity_text(abs(line.quantity)),
        unit,
        from_location,
        to_location,
        site,
        warehouse,
        _local_text(line.posted_at),
        entered,
        "" if line.reversed_ref is None else txn_id(*line.reversed_ref),
    )
