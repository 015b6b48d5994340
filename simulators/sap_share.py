"""The SAP share of the ground truth, rebuilt as the simulated system's own database.

A real S/4HANA answers a million-document query from indexed tables, not by
re-deriving anything per request. So, once at start-up, the SAP rows of
`truth.sqlite` (system "sap", plant 1000) are rendered into `sap.sqlite` in SAP's
own spelling (movement types, debit/credit, commercial units, padded batches,
local dates) with indexes, and every request is one parameterised SQL query
over it. The file is reused while the truth file and build options are
unchanged; goods movements posted over the API are written into it.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from stockbridge.simulators.sap_codes import (
    STATUS_TO_STOCK_TYPE,
    commercial_unit,
    debit_credit,
    external_batch,
    external_material,
    movement_coding,
    reversal_type,
    transfer_type,
)

__all__ = ["SHARE_DDL", "build_sap_share", "open_share"]

_BUILD_VERSION = "sap-share-1"

SHARE_DDL = """
CREATE TABLE build_info (fingerprint TEXT NOT NULL);
CREATE TABLE material (
    material TEXT PRIMARY KEY, base_unit TEXT NOT NULL, batch_managed INTEGER NOT NULL
);
CREATE TABLE uom (
    product TEXT NOT NULL, alt_unit TEXT NOT NULL, numerator TEXT NOT NULL,
    denominator TEXT NOT NULL, base_unit TEXT NOT NULL, PRIMARY KEY (product, alt_unit)
);
CREATE TABLE stock (
    material TEXT NOT NULL, plant TEXT NOT NULL, sloc TEXT NOT NULL, batch TEXT NOT NULL,
    stock_type TEXT NOT NULL, base_unit TEXT NOT NULL,
    qty TEXT NOT NULL,        -- everything posted
    qty_early TEXT NOT NULL,  -- without the late postings (while they are held back)
    PRIMARY KEY (material, plant, sloc, batch, stock_type)
);
CREATE TABLE item (
    year TEXT NOT NULL, doc TEXT NOT NULL, item INTEGER NOT NULL,
    mov_id INTEGER, rev_mov_id INTEGER,
    material TEXT NOT NULL, plant TEXT NOT NULL, sloc TEXT NOT NULL, batch TEXT NOT NULL,
    mvt_type TEXT, stock_type TEXT NOT NULL, base_unit TEXT NOT NULL, qty_base TEXT NOT NULL,
    entry_unit TEXT NOT NULL, qty_entry TEXT NOT NULL, dc TEXT NOT NULL,
    mfg_order TEXT NOT NULL, purchase_order TEXT NOT NULL, delivery TEXT NOT NULL,
    cost_center TEXT NOT NULL,
    irc_material TEXT NOT NULL, irc_batch TEXT NOT NULL, irc_plant TEXT NOT NULL,
    irc_sloc TEXT NOT NULL, irc_stock_type TEXT NOT NULL, auto_created TEXT NOT NULL,
    rev_year TEXT NOT NULL, rev_doc TEXT NOT NULL, rev_item TEXT NOT NULL,
    cancelled INTEGER NOT NULL,  -- 0 no, 1 only by late reversals, 2 by a visible one
    late INTEGER NOT NULL,
    posting_date TEXT NOT NULL, creation_date TEXT NOT NULL, creation_time TEXT NOT NULL,
    created_by TEXT NOT NULL, gm_code TEXT NOT NULL, itt TEXT NOT NULL,
    fiscal_period TEXT NOT NULL
);
CREATE TABLE header (
    year TEXT NOT NULL, doc TEXT NOT NULL, itt TEXT NOT NULL, document_date TEXT NOT NULL,
    posting_date TEXT NOT NULL, creation_date TEXT NOT NULL, creation_time TEXT NOT NULL,
    created_by TEXT NOT NULL, header_text TEXT NOT NULL, reference TEXT NOT NULL,
    gm_code TEXT NOT NULL, late INTEGER NOT NULL,
    PRIMARY KEY (year, doc)
);
"""

_INDEXES = """
CREATE UNIQUE INDEX item_key ON item (year, doc, item);
CREATE INDEX item_material ON item (material, plant, sloc);
CREATE INDEX header_created ON header (creation_date, creation_time, year, doc);
CREATE INDEX header_posted ON header (posting_date);
"""

_USERS = ("ZHANGWEI", "LIUYANG", "WANGFANG")
_INTERFACE_USER = "MES_RFC"  # production postings arrive from the MES interface

_MOVEMENTS = """
SELECT m.id, m.document, m.line, m.year, m.kind, m.material, m.site, m.warehouse,
       m.batch, m.status, m.quantity, m.entry_unit, m.entry_quantity, m.posted_at,
       m.entered_at, m.reverses, m.order_ref, m.late,
       c.material, c.site, c.warehouse, c.batch, c.status
FROM movements m LEFT JOIN movements c ON c.id = m.counterpart
WHERE m.system = 'sap' AND m.site = ? AND m.effective = 1
"""


@lru_cache(maxsize=4096)
def _local_date_time(iso_utc: str, zone: ZoneInfo) -> tuple[str, str]:
    """('YYYY-MM-DDT00:00:00', 'HH:MM:SS') of a UTC instant in the system's zone."""
    local = datetime.fromisoformat(iso_utc).astimezone(zone).isoformat()
    return f"{local[:10]}T00:00:00", local[11:19]


def open_share(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _fingerprint(truth_path: Path, timezone: str, plant: str) -> str:
    stat = truth_path.stat()
    return f"{_BUILD_VERSION}|{truth_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{timezone}|{plant}"


def _built_from(db_path: Path) -> str | None:
    probe = sqlite3.connect(db_path)
    try:
        row = probe.execute("SELECT fingerprint FROM build_info").fetchone()
    except sqlite3.DatabaseError:
        return None
    finally:
        probe.close()
    return str(row[0]) if row else None


def build_sap_share(
    truth_path: Path, db_path: Path, *, timezone: str = "UTC", plant: str = "1000"
) -> None:
    """Write `db_path` from the truth unless an up-to-date copy is already there."""
    fingerprint = _fingerprint(truth_path, timezone, plant)
    if db_path.exists() and _built_from(db_path) == fingerprint:
        return
    tmp = db_path.with_suffix(".building")
    for stale in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        stale.unlink(missing_ok=True)
    truth = sqlite3.connect(f"file:{truth_path}?mode=ro", uri=True)
    out = sqlite3.connect(tmp)
    try:
        out.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SHARE_DDL
        )
        with out:
            units = _copy_materials(truth, out)
            _copy_items(truth, out, units, ZoneInfo(timezone), plant)
            out.executescript(_INDEXES)
            _resolve_reversals(out)
            _derive_headers(out)
            _copy_stock(truth, out, units, plant)
            out.execute("INSERT INTO build_info VALUES (?)", (fingerprint,))
        out.execute("ANALYZE")
    finally:
        truth.close()
        out.close()
    for stale in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        stale.unlink(missing_ok=True)
    tmp.replace(db_path)


def _copy_materials(
    truth: sqlite3.Connection, out: sqlite3.Connection
) -> dict[str, str]:
    """Materials and their units of measure; returns material -> base unit (SAP code)."""
    base_units: dict[str, str] = {}
    rows = truth.execute(
        "SELECT material, base_unit, alt_unit, alt_factor, batch_managed FROM materials"
    )
    for material, base, alt, factor, batch_managed in rows:
        product = external_material(material)
        base_code = commercial_unit(base)
        base_units[material] = base_code
        out.execute(
            "INSERT INTO material VALUES (?, ?, ?)", (product, base_code, batch_managed)
        )
        out.execute(
            "INSERT INTO uom VALUES (?, ?, '1', '1', ?)",
            (product, base_code, base_code),
        )
        if alt:
            ratio = Fraction(Decimal(factor))
            out.execute(
                "INSERT INTO uom VALUES (?, ?, ?, ?, ?)",
                (
                    product,
                    commercial_unit(alt),
                    str(ratio.numerator),
                    str(ratio.denominator),
                    base_code,
                ),
            )
    return base_units


def _quantity3(text: str) -> str:
    """Unsigned ABAP QUAN 13,3 text: three decimals, more only if the truth has them."""
    digits = text.lstrip("+-")
    whole, _, fraction = digits.partition(".")
    return f"{whole}.{fraction.ljust(3, '0')}"


def _item_rows(
    truth: sqlite3.Connection, units: dict[str, str], zone: ZoneInfo, plant: str
) -> Iterator[tuple[object, ...]]:
    for (
        mov_id,
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
        c_material,
        c_site,
        c_warehouse,
        c_batch,
        c_status,
    ) in truth.execute(_MOVEMENTS, (plant,)):
        sign = -1 if quantity.startswith("-") else 1
        posting_date, _ = _local_date_time(posted_at, zone)
        creation_date, creation_time = _local_date_time(entered_at, zone)
        irc = ("", "", "", "", "")
        auto_created = ""
        mvt_type: str | None
        if kind == "reversal":
            mvt_type, gm_code, itt = None, "06", ""
        else:
            transfer = ""
            if kind == "transfer" and c_material is not None:
                transfer = transfer_type(
                    material=material,
                    site=site,
                    status=status,
                    other_material=c_material,
                    other_site=c_site,
                    other_status=c_status,
                    incoming=sign > 0,
                )
                irc = (
                    external_material(c_material),
                    external_batch(c_batch),
                    c_site,
                    c_warehouse,
                    STATUS_TO_STOCK_TYPE[c_status],
                )
                auto_created = "X" if sign > 0 else ""
            elif kind == "transfer":
                transfer = "311"
            coding = movement_coding(kind, sign, transfer=transfer)
            mvt_type, gm_code, itt = (
                coding.movement_type,
                coding.goods_movement_code,
                coding.transaction_type,
            )
        production = kind in ("production_issue", "production_receipt")
        user = (
            _INTERFACE_USER
            if production
            else _USERS[zlib.crc32(document.encode()) % len(_USERS)]
        )
        yield (
            year,
            document,
            line,
            mov_id,
            reverses,
            external_material(material),
            site,
            warehouse,
            external_batch(batch),
            mvt_type,
            STATUS_TO_STOCK_TYPE[status],
            units[material],
            _quantity3(quantity),
            commercial_unit(entry_unit),
            _quantity3(entry_quantity),
            debit_credit(sign),
            order_ref if production else "",
            order_ref if kind == "receipt" else "",
            order_ref if kind == "sales_issue" else "",
            order_ref if kind in ("issue", "scrap") else "",
            *irc,
            auto_created,
            "0000",
            "",
            "0",
            0,
            late,
            posting_date,
            creation_date,
            creation_time,
            user,
            gm_code,
            itt,
            f"{posting_date[:4]}{int(posting_date[5:7]):03d}",
        )


def _copy_items(
    truth: sqlite3.Connection,
    out: sqlite3.Connection,
    units: dict[str, str],
    zone: ZoneInfo,
    plant: str,
) -> None:
    insert = f"INSERT INTO item VALUES ({', '.join('?' * 38)})"  # noqa: S608 - fixed text
    batch: list[tuple[object, ...]] = []
    for row in _item_rows(truth, units, zone, plant):
        batch.append(row)
        if len(batch) >= 20_000:
            out.executemany(insert, batch)
            batch.clear()
    out.executemany(insert, batch)


def _resolve_reversals(out: sqlite3.Connection) -> None:
    """Give reversal items their type (original + 1) and back-references.

    Repeated so that a reversal of a reversal resolves once its original has.
    """
    out.execute("CREATE INDEX item_mov ON item (mov_id)")
    while True:
        rows = out.execute(
            "SELECT r.rowid, o.mvt_type, o.year, o.doc, o.item, o.itt FROM item r"
            " JOIN item o ON o.mov_id = r.rev_mov_id"
            " WHERE r.mvt_type IS NULL AND o.mvt_type IS NOT NULL"
        ).fetchall()
        if not rows:
            break
        out.executemany(
            "UPDATE item SET mvt_type = ?, rev_year = ?, rev_doc = ?, rev_item = ?, itt = ? WHERE rowid = ?",
            [
                (reversal_type(t), y, d, str(i), itt, rowid)
                for rowid, t, y, d, i, itt in rows
            ],
        )
    orphan = out.execute(
        "SELECT mov_id, rev_mov_id FROM item WHERE mvt_type IS NULL LIMIT 1"
    ).fetchone()
    if orphan:
        msg = f"truth movement {orphan[0]} reverses {orphan[1]}, which is not in the SAP share"
        raise ValueError(msg)
    out.execute(
        "UPDATE item SET cancelled = r.state FROM"
        " (SELECT rev_mov_id, CASE WHEN MIN(late) = 0 THEN 2 ELSE 1 END AS state"
        "  FROM item WHERE rev_mov_id IS NOT NULL GROUP BY rev_mov_id) AS r"
        " WHERE item.mov_id = r.rev_mov_id"
    )


def _derive_headers(out: sqlite3.Connection) -> None:
    """One header per document, dated like its first item; hidden only when all items are late."""
    out.execute(
        "INSERT INTO header SELECT year, doc, itt, posting_date, posting_date, creation_date,"
        " creation_time, created_by, '', '', gm_code, late FROM"
        " (SELECT year, doc, MIN(item), itt, posting_date, creation_date, creation_time,"
        "  created_by, gm_code, (SELECT MIN(late) FROM item i2 WHERE i2.year = item.year"
        "  AND i2.doc = item.doc) AS late FROM item GROUP BY year, doc)"
    )


def _copy_stock(
    truth: sqlite3.Connection,
    out: sqlite3.Connection,
    units: dict[str, str],
    plant: str,
) -> None:
    late: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
    for material, warehouse, batch, status, quantity in truth.execute(
        "SELECT material, warehouse, batch, status, quantity FROM movements"
        " WHERE system = 'sap' AND site = ? AND late = 1 AND effective = 1",
        (plant,),
    ):
        late[material, warehouse, batch, status] += Decimal(quantity)
    rows = []
    for material, warehouse, batch, status, quantity in truth.execute(
        "SELECT material, warehouse, batch, status, quantity FROM stock WHERE system = 'sap' AND site = ?",
        (plant,),
    ):
        held_back = late.get((material, warehouse, batch, status))
        early = quantity if held_back is None else str(Decimal(quantity) - held_back)
        rows.append(
            (
                external_material(material),
                plant,
                warehouse,
                external_batch(batch),
                STATUS_TO_STOCK_TYPE[status],
                units[material],
                quantity,
                early,
            )
        )
    out.executemany("INSERT INTO stock VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
