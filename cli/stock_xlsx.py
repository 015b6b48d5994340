"""The consolidated table as an Excel workbook, for planners.

The workbook is written streaming (openpyxl's write-only mode, rows straight
from the store's cursor), so memory stays flat however many rows there are;
past Excel's 1,048,576 rows a sheet, the rows go on in a further sheet with
the same header. The header row is frozen and filterable; headers and
statuses are Chinese with `lang="zh"`, English otherwise.

Excel holds a number as a binary double and shows at most 15 significant
digits. A quantity with at most 15 significant digits is written as a
number: the double nearest to it prints back as exactly those digits, in
Excel and through openpyxl. One with more (the store keeps six decimals, so
a stock past a billion units may have more) is written as text, exactly,
rather than as a number that is silently another. Times are shown in the
config's zone, named in the header: Excel has no zones.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from datetime import datetime, time
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from stockbridge.store.stock_queries import days_of_cover

__all__ = [
    "EXCEL_DIGITS",
    "MAX_DATA_ROWS",
    "Lang",
    "excel_number",
    "header_row",
    "write_stock_xlsx",
]

EXCEL_DIGITS = 15
"""Significant digits Excel keeps of a number."""

MAX_DATA_ROWS = 1_048_575
"""Excel's 1,048,576 rows a sheet, less the header."""

INTEGER_FORMAT = "#,##0"
QUANTITY_FORMAT = "#,##0.######"
"""Up to the store's six decimals; whole numbers get `#,##0`, without a dot."""
COVER_FORMAT = "0.0"
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DATE_FORMAT = "yyyy-mm-dd"


class Lang(StrEnum):
    EN = "en"
    ZH = "zh"


_HEADERS: dict[str, tuple[str, str]] = {
    "material": ("material", "物料"),
    "site": ("site", "工厂"),
    "warehouse": ("warehouse", "仓库"),
    "location": ("location", "库位"),
    "batch": ("batch", "批次"),
    "status": ("status", "状态"),
    "quantity": ("quantity", "数量"),
    "unit": ("unit", "单位"),
    "reserved": ("reserved", "预留"),
    "available": ("available", "可用"),
    "safety_stock": ("safety stock", "安全库存"),
    "consumption_per_day": ("consumption per day", "日均消耗"),
    "days_of_cover": ("days of cover", "可用天数"),
    "stockout_date": ("stock-out date", "预计缺货日"),
    "conflict": ("conflict", "冲突"),
    "chosen_source": ("chosen source", "采用来源"),
    "rule": ("rule", "规则"),
    "as_of": ("as of", "截至"),
}
_SOURCE_HEADER = ("source {name}", "来源 {name}")
_ZONED = frozenset({"stockout_date", "as_of"})
_STATUSES_ZH = {
    "unrestricted": "非限制",
    "quality_inspection": "质检",
    "blocked": "冻结",
    "in_transit": "在途",
    "restricted": "受限",
}
_RULES_ZH = {
    "only source": "唯一来源",
    "system of record": "指定系统",
    "priority": "优先级",
    "freshest": "最新",
}
_YES = ("yes", "是")
_QUANTITIES = (
    "quantity",
    "reserved",
    "available",
    "safety_stock",
    "consumption_per_day",
)


def excel_number(value: Decimal) -> float | str:
    """`value` as Excel can hold it exactly: a number, or else its text."""
    digits = value.normalize().as_tuple().digits
    if len(digits) <= EXCEL_DIGITS:
        return float(value)
    return str(value)


def header_row(sources: Sequence[str], lang: Lang, zone: str) -> list[str]:
    """The column titles, in the order `write_stock_xlsx` fills them."""
    n = 1 if lang is Lang.ZH else 0
    titles = [
        f"{words[n]} ({zone})" if column in _ZONED else words[n]
        for column, words in _HEADERS.items()
    ]
    return titles + [_SOURCE_HEADER[n].format(name=name) for name in sources]


class _Cells:
    """Typed, formatted cells for one sheet (openpyxl caches the styles)."""

    def __init__(self, sheet: Worksheet, zone: ZoneInfo) -> None:
        self.sheet = sheet
        self.zone = zone

    def formatted(self, value: float | datetime, number_format: str) -> Cell:
        cell = WriteOnlyCell(self.sheet, value)
        cell.number_format = number_format
        return cell

    def quantity(self, value: Decimal | None) -> Cell | str | None:
        if value is None:
            return None
        number = excel_number(value)
        if isinstance(number, str):
            return number
        whole = value == value.to_integral_value()
        return self.formatted(number, INTEGER_FORMAT if whole else QUANTITY_FORMAT)

    def moment(self, value: datetime) -> Cell:
        local = value.astimezone(self.zone).replace(tzinfo=None)
        return self.formatted(local, TIME_FORMAT)

    def day(self, value: datetime) -> Cell:
        """The local calendar day of `value` (midnight, shown as a date)."""
        day = value.astimezone(self.zone).date()
        return self.formatted(datetime.combine(day, time()), DATE_FORMAT)


def _row(
    record: dict[str, Any], cells: _Cells, sources: Sequence[str], lang: Lang
) -> list[object]:
    zh = lang is Lang.ZH
    cover = days_of_cover(record)
    stockout: datetime | None = record["stockout_at"]
    status, rule = str(record["status"]), str(record["rule"])
    values: dict[str, object] = {
        "material": record["material"],
        "site": record["site"],
        "warehouse": record["warehouse"],
        "location": record["location"],
        "batch": record["batch"],
        "status": _STATUSES_ZH.get(status, status) if zh else status,
        "unit": record["unit"],
        "days_of_cover": None
        if cover is None
        else cells.formatted(float(cover), COVER_FORMAT),
        "stockout_date": None if stockout is None else cells.day(stockout),
        "conflict": _YES[zh] if record["conflict"] else None,
        "chosen_source": record["chosen_source"],
        "rule": _RULES_ZH.get(rule, rule) if zh else rule,
        "as_of": cells.moment(record["as_of"]),
    }
    for column in _QUANTITIES:
        values[column] = cells.quantity(record[column])
    by_source: dict[str, Decimal] = record["sources"]
    return [values[column] for column in _HEADERS] + [
        cells.quantity(by_source.get(name)) for name in sources
    ]


def _new_sheet(book: Workbook, header: list[str], number: int, lang: Lang) -> Worksheet:
    """A new sheet with its header row, frozen.

    A write-only sheet has a `Worksheet`'s column widths and auto-filter,
    which openpyxl's type stubs leave out: hence the annotation.
    """
    title = "库存" if lang is Lang.ZH else "stock"
    sheet: Worksheet = book.create_sheet(title if number == 1 else f"{title} {number}")
    sheet.freeze_panes = "A2"
    for index, text in enumerate(header, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(10, len(text) + 4)
    sheet.append(header)
    return sheet


def write_stock_xlsx(
    rows: Iterable[dict[str, Any]],
    path: Path,
    *,
    sources: Sequence[str],
    lang: Lang,
    timezone: str,
) -> int:
    """Write `rows` (from `iter_consolidated`) to `path`; returns how many.

    The file appears whole or not at all: it is written beside `path` and
    moved into place at the end.
    """
    header = header_row(sources, lang, timezone)
    last_column = get_column_letter(len(header))
    book = Workbook(write_only=True)
    count, sheets = 0, 0
    sheet: Worksheet | None = None
    cells: _Cells | None = None
    in_sheet = 0
    zone = ZoneInfo(timezone)
    for record in rows:
        if sheet is None or cells is None or in_sheet == MAX_DATA_ROWS:
            if sheet is not None:
                sheet.auto_filter.ref = f"A1:{last_column}{in_sheet + 1}"
            sheets += 1
            sheet, in_sheet = _new_sheet(book, header, sheets, lang), 0
            cells = _Cells(sheet, zone)
        sheet.append(_row(record, cells, sources, lang))
        in_sheet += 1
        count += 1
    if sheet is None:
        sheet = _new_sheet(book, header, 1, lang)
    sheet.auto_filter.ref = f"A1:{last_column}{in_sheet + 1}"
    path = path.resolve()
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    os.close(handle)
    try:
        book.save(temporary)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count
