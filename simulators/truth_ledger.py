"""Writing the truth: movement lines in chunks, running stock per system and key.

Memory stays flat in the number of movements: lines go to SQLite in chunks
of `CHUNK` rows, and only the running balance per (system, key) is kept,
which grows with the number of stock keys, not with the movements.
Quantities are integer thousandths of the base unit until written, so the
arithmetic is exact and cheap; `format_milli` turns them into decimal text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = [
    "CHUNK",
    "Clock",
    "Document",
    "Entry",
    "Key",
    "Ledger",
    "Numbering",
    "format_milli",
]

CHUNK = 10_000

Key = tuple[str, str, str, str, str, str]
"""(system, material, site, warehouse, batch, status)."""

Entry = tuple[str, str]
"""(unit, quantity) as the line was entered."""

MovementRow = tuple[
    int, int, str, str, int, str, str, str, str, str, str, str, str, str, str, str,
    str, int | None, str, int, int, int | None,
]  # fmt: skip

_INSERT_MOVEMENT = "INSERT INTO movements VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_SECONDS_PER_DAY = 86_400


def format_milli(value: int) -> str:
    """Thousandths as a plain decimal string: 12500 -> '12.5', -3000 -> '-3'."""
    sign = "-" if value < 0 else ""
    whole, fraction = divmod(abs(value), 1000)
    if fraction == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:03d}".rstrip("0")


class Clock:
    """Seconds since the first posting day's midnight UTC, as ISO 8601 text.

    Formatting by hand from a table of day strings is several times faster
    than `datetime.isoformat`, which matters at a million lines.
    """

    def __init__(self, start: date, days: int) -> None:
        self.start = start
        self._days = [(start + timedelta(days=d)).isoformat() for d in range(days + 8)]

    def iso(self, seconds: int) -> str:
        day, rest = divmod(seconds, _SECONDS_PER_DAY)
        hour, rest = divmod(rest, 3600)
        minute, second = divmod(rest, 60)
        return f"{self._days[day]}T{hour:02d}:{minute:02d}:{second:02d}+00:00"

    def year(self, seconds: int) -> str:
        return self._days[seconds // _SECONDS_PER_DAY][:4]

    def yymmdd(self, day: int) -> str:
        """Date code of day `day` (negative: before the first day), for batch numbers."""
        return (self.start + timedelta(days=day)).strftime("%y%m%d")


# Document number (prefix, digits) by system and flow. SAP numbers goods
# receipts in the 50... range and other goods movements in 49...; U8 numbers
# vouchers with ten digits; Kingdee prefixes by bill type (K3 Cloud 'CGRK00001',
# K3 WISE 'WIN000001'), and a Kingdee reversal is a return bill (Cloud) or a
# red-ink bill of the original type (WISE).
_K3CLOUD = {
    "purchase_receipt": "CGRK",
    "qi_release": "XTZH",
    "transfer": "ZJDB",
    "production_issue": "SCLL",
    "production_receipt": "SCRK",
    "sales_issue": "XSCKD",
    "scrap": "QTCKD",
    "count_gain": "PY",
    "count_loss": "PK",
    "reverse_purchase_receipt": "CGTL",
    "reverse_production_issue": "SCTL",
    "reverse_production_receipt": "SCTK",
    "reverse_sales_issue": "XSTHD",
}
_K3WISE = {
    "purchase_receipt": "WIN",
    "qi_release": "CHG",
    "transfer": "CHG",
    "production_issue": "SOUT",
    "production_receipt": "CIN",
    "sales_issue": "XOUT",
    "scrap": "QOUT",
    "count_gain": "PY",
    "count_loss": "PK",
}
_MES = {"transfer": "MES-TR-", "production_issue": "MES-PI-", "scrap": "MES-SC-"}
_ORDERS = {  # (purchase, work, sales) order number formats per system
    "sap": ("45{:08d}", "{:07d}", "{:010d}"),
    "ecc": ("45{:08d}", "{:07d}", "{:010d}"),
    "u8": ("{:010d}", "{:010d}", "{:010d}"),
    "k3cloud": ("CGDD{:06d}", "MO{:06d}", "XSDD{:06d}"),
    "k3wise": ("POORD{:06d}", "WORK{:06d}", "SEORD{:06d}"),
}
_ORDER_BASE = {"sap": 1_000_000, "ecc": 1_000_000}


def _document_format(system: str, flow: str) -> tuple[str, int]:
    original = flow.removeprefix("reverse_")
    if system in ("sap", "ecc"):
        receipt = flow in ("purchase_receipt", "production_receipt")
        return ("50" if receipt else "49"), 8
    if system == "u8":
        return "", 10
    if system == "k3cloud":
        return _K3CLOUD.get(flow, _K3CLOUD[original]), 5
    if system == "k3wise":
        return _K3WISE[original], 6
    return ("MES-RV-" if flow != original else _MES[flow]), 6


class Numbering:
    """Each system's next document and order numbers, unique within the system."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], int] = {}
        self._forms: dict[tuple[str, str], tuple[str, int]] = {}

    def _next(self, system: str, series: str) -> int:
        number = self._last.get((system, series), 0) + 1
        self._last[system, series] = number
        return number

    def document(self, system: str, flow: str) -> str:
        form = self._forms.get((system, flow))
        if form is None:
            form = self._forms[system, flow] = _document_format(system, flow)
        prefix, digits = form
        return f"{prefix}{self._next(system, prefix):0{digits}d}"

    def order(self, system: str, which: int) -> str:
        """A new order number: `which` 0 purchase, 1 work, 2 sales order."""
        number = self._next(system, f"order{which}") + _ORDER_BASE.get(system, 0)
        return _ORDERS[system][which].format(number)


@dataclass(slots=True)
class Document:
    """A document header: its lines share system, number, kind, times and order."""

    system: str
    number: str
    year: str
    kind: str
    posted_at: str
    entered_at: str
    order_ref: str = ""
    lines: int = 0


class Ledger:
    """Movement lines on their way to SQLite, and every system's running stock."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._rows: list[MovementRow] = []
        self.balance: dict[Key, int] = {}
        self.count = 0
        self._next_event = 1
        self.discrepancies: list[tuple[object, ...]] = []

    def event(self) -> int:
        event = self._next_event
        self._next_event += 1
        return event

    @property
    def events(self) -> int:
        return self._next_event - 1

    def opening(self, key: Key, quantity: int) -> None:
        self.balance[key] = self.balance.get(key, 0) + quantity

    def write_opening(self) -> None:
        """The balances so far are the opening stock; call once, before any line."""
        self._conn.executemany(
            "INSERT INTO opening_stock VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(*key, format_milli(qty)) for key, qty in self.balance.items()],
        )

    def line(
        self,
        document: Document,
        event: int,
        key: Key,
        quantity: int,
        entry: Entry,
        *,
        reverses: int | None = None,
        counterpart: int | None = None,
        effective: int = 1,
        late: int = 0,
    ) -> int:
        """Record the next line of `document` (`key[0]` is its system); returns its id."""
        self.count += 1
        line_id = self.count
        document.lines += 1
        _, material, site, warehouse, batch, status = key
        self._rows.append(
            (line_id, event, document.system, document.number, document.lines, document.year,
             document.kind, material, site, warehouse, batch, status, format_milli(quantity),
             entry[0], entry[1], document.posted_at, document.entered_at, reverses,
             document.order_ref, effective, late, counterpart)
        )  # fmt: skip
        if effective:
            self.balance[key] = self.balance.get(key, 0) + quantity
        if len(self._rows) >= CHUNK:
            self.flush()
        return line_id

    def flush(self) -> None:
        self._conn.executemany(_INSERT_MOVEMENT, self._rows)
        self._rows.clear()

    def write_stock(self, reserved: Callable[[Key, int], int]) -> int:
        """Write the closing stock; MES drops rows at zero, the ERPs keep them."""
        rows = [
            (*key, format_milli(qty), format_milli(reserved(key, qty)))
            for key, qty in self.balance.items()
            if qty or key[0] != "mes"
        ]
        self._conn.executemany(
            "INSERT INTO stock VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows
        )
        return len(rows)

    def write_discrepancies(self) -> None:
        self._conn.executemany(
            "INSERT INTO discrepancies VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(number, *row) for number, row in enumerate(self.discrepancies, 1)],
        )
