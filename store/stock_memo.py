"""What the web remembers about one version of the consolidated stock table.

Consolidation replaces `consolidated_stock` wholesale in one transaction and
stamps every row with the same `updated_at`, so any row's `updated_at` names
the version a reader sees. Until it changes, a filter's number of matches
and the table's material codes stay the same; recounting a million rows for
every page (20-40 ms on SQLite) and matching a search against every row
(0.5-1 s) would repeat work for an identical answer.

Search matches each material's code and its master-data names as they were
when the version was first searched: a renamed material is found by its new
name from the next consolidation on (every sync ends with one).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, select

from stockbridge.store.schema import consolidated_stock, materials
from stockbridge.store.stock_queries import StockFilter

__all__ = ["TableMemo", "memo_for", "table_version"]

MAX_TOTALS = 4096
"""Distinct filters remembered per version; more start the memo afresh."""


def table_version(conn: Connection) -> datetime | None:
    """The version of `consolidated_stock` this connection sees; None when empty."""
    version: datetime | None = conn.execute(
        select(consolidated_stock.c.updated_at).limit(1)
    ).scalar()
    return version


def _searchable(conn: Connection) -> list[tuple[str, str]]:
    """Each material in stock with its code and names, lowercased, in one string."""
    names: dict[str, list[str]] = defaultdict(list)
    for material, name in conn.execute(
        select(materials.c.material, materials.c.name).where(materials.c.name != "")
    ):
        names[material].append(name)
    codes = conn.execute(select(consolidated_stock.c.material).distinct()).scalars()
    return [(m, "\n".join([m, *names.get(m, ())]).lower()) for m in codes]


@dataclass
class TableMemo:
    """Totals per filter and the searchable materials of one table version."""

    version: datetime | None
    totals: dict[StockFilter, int] = field(default_factory=dict)
    _search: list[tuple[str, str]] | None = None

    def remember_total(self, where: StockFilter, total: int) -> None:
        if len(self.totals) >= MAX_TOTALS:
            self.totals.clear()
        self.totals[where] = total

    def matching_materials(self, conn: Connection, text: str) -> list[str]:
        """Materials in stock whose code or a master-data name contains `text`."""
        if self._search is None:
            self._search = _searchable(conn)
        needle = text.lower()
        return [material for material, words in self._search if needle in words]


_lock = threading.Lock()
_memos: WeakKeyDictionary[Engine, TableMemo] = WeakKeyDictionary()


def memo_for(engine: Engine, version: datetime | None) -> TableMemo:
    """The memo of the store's table at `version`, started afresh for a new one."""
    with _lock:
        memo = _memos.get(engine)
        if memo is None or memo.version != version:
            memo = TableMemo(version)
            _memos[engine] = memo
        return memo
