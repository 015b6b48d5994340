"""The SOAP simulators' own databases, cut from the ground truth and indexed for paging.

Each simulator reads its system's share of `truth.sqlite` once, renders it in
the system's codes (SAP internal keys and units, local times), and keeps it in
a SQLite file beside its work directory, indexed on exactly the keys its
operations page by, so a page costs an index seek whatever the truth's size.
A share is rebuilt only when the truth file changes; it is written under a
temporary name and renamed, so a reader never sees half a share.

Late movements (`movements.late = 1`) stay in the share, flagged, for the app
to hide while the `late_postings` knob is on. Each stock row also carries
`quantity_early`, its quantity without the late lines' effect, which the app
serves while the knob is on: like the other simulators, a posting the system
has not entered yet has no effect anywhere, neither in its movements nor in
its stock.
"""

from __future__ import annotations

import os
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from stockbridge.simulators.soap_ecc_codes import (
    SAP_UNITS,
    Counterpart,
    movement_type,
    quantity_text,
    reversal_type,
    sap_padded,
    stock_type_indicator,
)
from stockbridge.simulators.soap_wsdl import ECC_GOODSMVT_FIELDS

__all__ = [
    "ECC_MOVEMENT_FIELDS",
    "build_ecc_share",
    "build_mes_share",
    "local_time",
    "open_share",
]

_SHARE_VERSION = "3"
_BATCH = 5_000

_ECC_DDL = """
CREATE TABLE share_meta (stamp TEXT NOT NULL, now_at TEXT NOT NULL);
CREATE TABLE plants (werks TEXT PRIMARY KEY);
CREATE TABLE stock (
    werks TEXT NOT NULL, matnr TEXT NOT NULL, lgort TEXT NOT NULL,
    charg TEXT NOT NULL, status TEXT NOT NULL, quantity TEXT NOT NULL,
    meins TEXT NOT NULL,
    quantity_early TEXT NOT NULL  -- without the late lines (while they are held back)
);
CREATE INDEX stock_by_key ON stock (werks, matnr, lgort, charg);
CREATE TABLE mard_keys (
    werks TEXT NOT NULL, matnr TEXT NOT NULL, lgort TEXT NOT NULL,
    PRIMARY KEY (werks, matnr, lgort)
) WITHOUT ROWID;
CREATE TABLE mseg (
    werks TEXT NOT NULL, skey TEXT NOT NULL, late INTEGER NOT NULL,
    mblnr TEXT, mjahr TEXT, zeile TEXT, bwart TEXT, shkzg TEXT, insmk TEXT,
    matnr TEXT, lgort TEXT, charg TEXT, menge TEXT, meins TEXT, erfmg TEXT,
    erfme TEXT, budat TEXT, cpudt TEXT, cputm TEXT, smbln TEXT, smblp TEXT,
    sjahr TEXT, aufnr TEXT, ebeln TEXT, kdauf TEXT
);
CREATE INDEX mseg_by_entry ON mseg (werks, skey);
"""
ECC_MOVEMENT_FIELDS = tuple(name.lower() for name, _ in ECC_GOODSMVT_FIELDS)
"""The share's MSEG columns, in the order of ZMM_S_GOODSMVT."""

_MES_DDL = """
CREATE TABLE share_meta (stamp TEXT NOT NULL, now_at TEXT NOT NULL);
CREATE TABLE stock (
    factory TEXT NOT NULL, warehouse TEXT NOT NULL, material TEXT NOT NULL,
    name TEXT NOT NULL, batch TEXT NOT NULL, status TEXT NOT NULL,
    quantity TEXT NOT NULL, reserved TEXT NOT NULL, unit TEXT NOT NULL,
    quantity_early TEXT NOT NULL,  -- without the late lines (while they are held back)
    shown INTEGER NOT NULL,        -- quantity is not zero (the MES drops zero rows)
    shown_early INTEGER NOT NULL   -- quantity_early is not zero
);
CREATE INDEX stock_by_factory ON stock (factory, warehouse, material, batch, status);
CREATE TABLE trans (
    entry_key TEXT NOT NULL, late INTEGER NOT NULL,
    seq_all INTEGER NOT NULL, seq_ontime INTEGER,
    document TEXT, line INTEGER, kind TEXT, direction INTEGER, factory TEXT,
    warehouse TEXT, material TEXT, batch TEXT, status TEXT, quantity TEXT,
    unit TEXT, posted_at TEXT, entered_at TEXT, order_ref TEXT,
    reverses_document TEXT, reverses_line INTEGER
);
CREATE INDEX trans_by_entry ON trans (entry_key, seq_all);
CREATE UNIQUE INDEX trans_by_seq_all ON trans (seq_all);
CREATE UNIQUE INDEX trans_by_seq_ontime ON trans (seq_ontime);
CREATE TABLE materials (
    seq INTEGER PRIMARY KEY, code TEXT NOT NULL, name TEXT NOT NULL,
    name_en TEXT NOT NULL, unit TEXT NOT NULL, batch_managed INTEGER NOT NULL,
    safety_stock TEXT NOT NULL
);
"""


def local_time(iso_utc: str, zone: ZoneInfo) -> datetime:
    """A truth timestamp as the system's naive local wall-clock time."""
    return datetime.fromisoformat(iso_utc).astimezone(zone).replace(tzinfo=None)


def open_share(path: Path) -> sqlite3.Connection:
    """A read-only connection; one per request, since requests run on threads."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _stamp(truth_path: Path, zone: ZoneInfo) -> str:
    status = truth_path.stat()
    return f"{_SHARE_VERSION}:{status.st_size}:{status.st_mtime_ns}:{zone.key}"


def _current(share_path: Path, stamp: str) -> bool:
    if not share_path.exists():
        return False
    with closing(open_share(share_path)) as share:
        try:
            row = share.execute("SELECT stamp FROM share_meta").fetchone()
        except sqlite3.DatabaseError:
            return False
    return row is not None and row[0] == stamp


def _rows(truth: sqlite3.Connection, sql: str, *params: object) -> Iterator[Any]:
    cursor = truth.execute(sql, params)
    while batch := cursor.fetchmany(_BATCH):
        yield from batch


class _StockRow(NamedTuple):
    site: str
    material: str
    warehouse: str
    batch: str
    status: str
    quantity: str
    reserved: str
    quantity_early: str


def _stock_rows(truth: sqlite3.Connection, system: str) -> Iterator[_StockRow]:
    """`system`'s stock rows, each with its quantity without the late lines.

    A key that only late lines touch and whose stock the system dropped at
    zero (the MES does) comes back as a zero row: without those lines it is
    not zero.
    """
    late: dict[tuple[str, str, str, str, str], Decimal] = defaultdict(Decimal)
    for site, material, warehouse, batch, status, quantity in _rows(
        truth,
        "SELECT site, material, warehouse, batch, status, quantity FROM movements"
        " WHERE system = ? AND late = 1 AND effective = 1",
        system,
    ):
        late[site, material, warehouse, batch, status] += Decimal(quantity)
    for site, material, warehouse, batch, status, quantity, reserved in _rows(
        truth,
        "SELECT site, material, warehouse, batch, status, quantity, reserved"
        " FROM stock WHERE system = ?",
        system,
    ):
        held = late.pop((site, material, warehouse, batch, status), Decimal(0))
        early = format(Decimal(quantity) - held, "f") if held else quantity
        yield _StockRow(
            site, material, warehouse, batch, status, quantity, reserved, early
        )
    for (site, material, warehouse, batch, status), held in late.items():
        yield _StockRow(
            site, material, warehouse, batch, status, "0", "0", format(-held, "f")
        )


def _build(
    truth_path: Path,
    share_path: Path,
    zone: ZoneInfo,
    ddl: str,
    fill: Callable[[sqlite3.Connection, sqlite3.Connection, ZoneInfo], None],
) -> Path:
    stamp = _stamp(truth_path, zone)
    if _current(share_path, stamp):
        return share_path
    share_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = share_path.with_name(f"{share_path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    with (
        closing(sqlite3.connect(f"file:{truth_path}?mode=ro", uri=True)) as truth,
        closing(sqlite3.connect(temporary)) as share,
    ):
        share.executescript(ddl)
        fill(truth, share, zone)
        now_at = truth.execute("SELECT now_at FROM meta").fetchone()[0]
        share.execute("INSERT INTO share_meta VALUES (?, ?)", (stamp, now_at))
        share.commit()
    temporary.replace(share_path)
    return share_path


def build_ecc_share(truth_path: Path, share_path: Path, zone: ZoneInfo) -> Path:
    """The SAP ECC share: MARD/MCHB stock and MKPF/MSEG lines of system `ecc`."""
    return _build(truth_path, share_path, zone, _ECC_DDL, _fill_ecc)


def _fill_ecc(
    truth: sqlite3.Connection, share: sqlite3.Connection, zone: ZoneInfo
) -> None:
    share.executemany(
        "INSERT INTO plants VALUES (?)",
        truth.execute("SELECT site FROM sites WHERE erp = 'ecc'"),
    )
    units = dict(truth.execute("SELECT material, base_unit FROM materials"))
    stock_rows = (
        (
            row.site,
            sap_padded(row.material, 18),
            row.warehouse,
            row.batch.upper(),
            row.status,
            row.quantity,
            SAP_UNITS[units[row.material]],
            row.quantity_early,
        )
        for row in _stock_rows(truth, "ecc")
    )
    share.executemany("INSERT INTO stock VALUES (?, ?, ?, ?, ?, ?, ?, ?)", stock_rows)
    share.execute(
        "INSERT INTO mard_keys SELECT DISTINCT werks, matnr, lgort FROM stock"
    )
    reversed_ids = {
        row[0]
        for row in truth.execute(
            "SELECT reverses FROM movements WHERE system = 'ecc'"
            " AND reverses IS NOT NULL"
        )
    }
    original_types: dict[int, tuple[str, str]] = {}
    placeholders = ", ".join("?" * (3 + len(ECC_MOVEMENT_FIELDS)))
    share.executemany(
        f"INSERT INTO mseg (werks, skey, late, {', '.join(ECC_MOVEMENT_FIELDS)})"  # noqa: S608 - fixed column names
        f" VALUES ({placeholders})",
        (
            _ecc_movement(row, zone, reversed_ids, original_types)
            for row in _rows(
                truth,
                "SELECT m.id, m.document, m.line, m.year, m.kind, m.material, m.site,"
                " m.warehouse, m.batch, m.status, m.quantity, m.entry_unit,"
                " m.entry_quantity, m.posted_at, m.entered_at, m.reverses,"
                " m.order_ref, m.late, mat.base_unit, o.document, o.line, o.year,"
                " cp.site, cp.warehouse, cp.status"
                " FROM movements m JOIN materials mat ON mat.material = m.material"
                " LEFT JOIN movements o ON o.id = m.reverses"
                " LEFT JOIN movements cp ON cp.id = m.counterpart"
                " WHERE m.system = 'ecc' AND m.effective = 1 ORDER BY m.id",
            )
        ),
    )


_ORDER_FIELDS = {
    "production_issue": 0,
    "production_receipt": 0,
    "receipt": 1,
    "return": 1,
    "sales_issue": 2,
}
"""Which of AUFNR, EBELN, KDAUF carries the order reference, by kind."""
_ORDER_WIDTHS = (12, 10, 10)


def _ecc_movement(
    row: Any,
    zone: ZoneInfo,
    reversed_ids: set[int],
    original_types: dict[int, tuple[str, str]],
) -> tuple[str, ...]:
    (
        movement_id,
        document,
        line,
        year,
        kind,
        material,
        site,
        warehouse,
        batch,
        status,
        quantity,
        entry_unit,
        entry_quantity,
        posted_at,
        entered_at,
        reverses,
        order_ref,
        late,
        base_unit,
        original_document,
        original_line,
        original_year,
        *counterpart,
    ) = row
    inward = Decimal(quantity) > 0
    if reverses is not None:
        if reverses not in original_types:
            msg = f"ecc movement {movement_id} reverses {reverses}, not an earlier ecc line"
            raise ValueError(msg)
        original_type, order_kind = original_types[reverses]
        bwart = reversal_type(original_type)
    else:
        order_kind = kind
        bwart = movement_type(
            kind,
            status,
            inward=inward,
            site=site,
            warehouse=warehouse,
            counterpart=Counterpart(*counterpart) if counterpart[0] else None,
        )
    if movement_id in reversed_ids:
        original_types[movement_id] = (bwart, order_kind)
    orders = ["", "", ""]
    if order_ref and order_kind in _ORDER_FIELDS:
        slot = _ORDER_FIELDS[order_kind]
        orders[slot] = sap_padded(order_ref, _ORDER_WIDTHS[slot])
    posted = local_time(posted_at, zone)
    entered = local_time(entered_at, zone)
    mjahr = year or str(posted.year)
    zeile = f"{line:04d}"
    cpudt, cputm = entered.strftime("%Y-%m-%d"), entered.strftime("%H:%M:%S")
    skey = f"{entered:%Y%m%d%H%M%S}{mjahr}{document:>10}{zeile}"
    return (
        site,
        skey,
        late,
        document,
        mjahr,
        zeile,
        bwart,
        "S" if inward else "H",
        stock_type_indicator(status),
        sap_padded(material, 18),
        site,
        warehouse,
        batch.upper(),
        quantity_text(quantity.lstrip("-")),
        SAP_UNITS[base_unit],
        quantity_text(entry_quantity),
        SAP_UNITS[entry_unit],
        posted.strftime("%Y-%m-%d"),
        cpudt,
        cputm,
        original_document or "",
        f"{original_line or 0:04d}",
        "0000" if original_document is None else (original_year or mjahr),
        *orders,
    )


def build_mes_share(truth_path: Path, share_path: Path, zone: ZoneInfo) -> Path:
    """The MES share: line-side stock, transactions and materials of system `mes`."""
    return _build(truth_path, share_path, zone, _MES_DDL, _fill_mes)


def _fill_mes(
    truth: sqlite3.Connection, share: sqlite3.Connection, zone: ZoneInfo
) -> None:
    del zone  # MES rows keep UTC in the share; the app renders local time
    materials = {
        material: (name, unit)
        for material, name, unit in truth.execute(
            "SELECT material, name, base_unit FROM materials"
        )
    }
    share.executemany(
        "INSERT INTO stock VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (
                row.site,
                row.warehouse,
                row.material,
                materials[row.material][0],
                row.batch,
                row.status,
                row.quantity,
                row.reserved,
                materials[row.material][1],
                row.quantity_early,
                int(Decimal(row.quantity) != 0),
                int(Decimal(row.quantity_early) != 0),
            )
            for row in _stock_rows(truth, "mes")
        ),
    )
    counters = {"all": 0, "ontime": 0}

    def numbered(row: Any) -> tuple[object, ...]:
        late = row[1]
        counters["all"] += 1
        if not late:
            counters["ontime"] += 1
        entry_key = f"{datetime.fromisoformat(row[0]):%Y%m%d%H%M%S}"
        ontime = None if late else counters["ontime"]
        return (entry_key, late, counters["all"], ontime, *row[2:])

    share.executemany(
        "INSERT INTO trans VALUES"
        " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            numbered(row)
            for row in _rows(
                truth,
                "SELECT m.entered_at, m.late, m.document, m.line, m.kind,"
                " CASE WHEN m.quantity LIKE '-%' THEN -1 ELSE 1 END, m.site,"
                " m.warehouse, m.material, m.batch, m.status, ltrim(m.quantity, '-'),"
                " mat.base_unit, m.posted_at, m.entered_at, m.order_ref,"
                " o.document, o.line"
                " FROM movements m JOIN materials mat ON mat.material = m.material"
                " LEFT JOIN movements o ON o.id = m.reverses"
                " WHERE m.system = 'mes' AND m.effective = 1"
                " ORDER BY m.entered_at, m.document, m.line, m.id",
            )
        ),
    )
    share.executemany(
        "INSERT INTO materials (code, name, name_en, unit, batch_managed,"
        " safety_stock) VALUES (?, ?, ?, ?, ?, ?)",
        _rows(
            truth,
            "SELECT material, name, name_en, base_unit, batch_managed, safety_stock"
            " FROM materials ORDER BY material",
        ),
    )
