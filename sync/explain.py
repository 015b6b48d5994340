"""`stockbridge explain`: why the systems disagree on a key, from their movements.

For each key of the filter: every source's current figure and freshness,
the open conflict if any, and each pair of systems' movements over a window
lined up (`stockbridge.sync.matching`), the unmatched ones first. Only
sources that feed movements for the key's warehouse are compared: a source
known only from stock snapshots would make every movement of the other
look unmatched.

Movements a little outside the window (by the time tolerance) are matched
too, so a pair that straddles the window's edge is not reported as two
unmatched lines; only what lies in the window is reported.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Engine

from stockbridge.store.explain_queries import (
    KEY_COLUMNS,
    KeyFilter,
    consolidated_rows,
    held_warehouses,
    movement_feeders,
    open_conflicts,
    snapshot_figures,
    window_movements,
)
from stockbridge.sync.matching import Comparison, Line, MatchRules, Unmatched, compare

__all__ = ["ConflictInfo", "KeyReport", "SourceFigure", "StockKey", "explain"]


class StockKey(NamedTuple):
    material: str
    site: str
    warehouse: str
    location: str
    batch: str
    status: str


@dataclass(frozen=True, slots=True)
class SourceFigure:
    """What one source says about a key now, and what it moved in the window.

    `quantity` is None when the source's snapshot does not cover the key's
    warehouse (it is known here only from its movements).
    """

    source: str
    quantity: Decimal | None
    unit: str
    as_of: datetime | None
    movements: int
    net: Decimal
    compared: bool


@dataclass(frozen=True, slots=True)
class ConflictInfo:
    difference: Decimal
    first_seen_at: datetime


@dataclass(frozen=True, slots=True)
class KeyReport:
    key: StockKey
    since: datetime
    until: datetime
    figures: tuple[SourceFigure, ...]
    consolidated: Decimal | None
    chosen_source: str | None
    conflict: ConflictInfo | None
    comparisons: tuple[Comparison, ...]
    lines: Mapping[str, tuple[Line, ...]]
    """Every source's lines in the window, in posting order."""

    @property
    def findings(self) -> list[Unmatched]:
        """The unmatched lines of every comparison, plain ones first."""
        found = [u for c in self.comparisons for u in c.unmatched]
        return sorted(found, key=lambda u: (u.suspicion is not None, u.line.posted_at))


def _key(row: Mapping[str, Any]) -> StockKey:
    return StockKey(*(str(row[name]) for name in KEY_COLUMNS))


def _line(row: Mapping[str, Any]) -> Line:
    return Line(
        source=row["source"],
        document=row["document"],
        line=row["line"],
        year=row["year"],
        kind=row["kind"],
        quantity=row["quantity"],
        unit=row["unit"],
        original_quantity=row["original_quantity"],
        original_unit=row["original_unit"],
        posted_at=row["posted_at"],
        entered_at=row["entered_at"],
        reverses=row["reverses"],
        order_ref=row["order_ref"],
    )


def _in_window(line: Line, since: datetime, until: datetime) -> bool:
    return since <= line.posted_at <= until


def _clip(comparison: Comparison, since: datetime, until: datetime) -> Comparison:
    """Keep what lies in the window: a pair if either of its lines does."""
    return Comparison(
        comparison.a,
        comparison.b,
        tuple(
            p
            for p in comparison.pairs
            if _in_window(p.a, since, until) or _in_window(p.b, since, until)
        ),
        tuple(u for u in comparison.unmatched if _in_window(u.line, since, until)),
    )


def _figures(
    sources: Iterable[str],
    *,
    snapshot: Mapping[str, Mapping[str, Any]],
    held: Mapping[str, datetime],
    lines: Mapping[str, Sequence[Line]],
    compared: set[str],
    unit: str,
) -> tuple[SourceFigure, ...]:
    figures = []
    for source in sorted(sources):
        row = snapshot.get(source)
        own = lines.get(source, ())
        if row is not None:
            quantity, as_of = row["quantity"], row["as_of"]
        elif source in held:
            quantity, as_of = Decimal(0), held[source]
        else:
            quantity, as_of = None, None
        figures.append(
            SourceFigure(
                source=source,
                quantity=quantity,
                unit=row["unit"] if row is not None else unit,
                as_of=as_of,
                movements=len(own),
                net=sum((line.quantity for line in own), Decimal(0)),
                compared=source in compared,
            )
        )
    return tuple(figures)


def explain(
    engine: Engine,
    where: KeyFilter,
    *,
    since: datetime,
    until: datetime,
    rules: MatchRules | None = None,
) -> list[KeyReport]:
    """Explain every key the filter selects; keys in conflict first."""
    rules = rules or MatchRules()
    margin = rules.time_tolerance
    rows = window_movements(engine, where, since=since - margin, until=until + margin)
    by_key: dict[StockKey, dict[str, list[Line]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for row in rows:
        by_key[_key(row)][row["source"]].append(_line(row))
    snapshot: dict[StockKey, dict[str, Mapping[str, Any]]] = defaultdict(dict)
    for row in snapshot_figures(engine, where):
        snapshot[_key(row)][row["source"]] = row
    published = {_key(row): row for row in consolidated_rows(engine, where)}
    conflicts = {_key(row): row for row in open_conflicts(engine, where)}
    keys = set(by_key) | set(snapshot) | set(published) | set(conflicts)
    places = sorted({(k.site, k.warehouse) for k in keys})
    held: dict[tuple[str, str], dict[str, datetime]] = defaultdict(dict)
    for row in held_warehouses(engine, places):
        held[(row["site"], row["warehouse"])][row["source"]] = row["as_of"]
    feeders = {
        place: movement_feeders(
            engine, place, sources=held[place], since=since - margin, until=until
        )
        for place in places
    }
    reports = []
    for key in keys:
        place = (key.site, key.warehouse)
        lines = by_key.get(key, {})
        compared = feeders[place] | set(lines)
        comparisons = tuple(
            _clip(
                compare(a, lines.get(a, []), b, lines.get(b, []), rules), since, until
            )
            for a, b in itertools.combinations(sorted(compared), 2)
        )
        shown = {
            source: tuple(line for line in own if _in_window(line, since, until))
            for source, own in lines.items()
        }
        chosen = published.get(key)
        conflict = conflicts.get(key)
        sources = set(held[place]) | set(snapshot.get(key, {})) | set(lines)
        reports.append(
            KeyReport(
                key=key,
                since=since,
                until=until,
                figures=_figures(
                    sources,
                    snapshot=snapshot.get(key, {}),
                    held=held[place],
                    lines=shown,
                    compared=compared,
                    unit=chosen["unit"] if chosen is not None else "",
                ),
                consolidated=chosen["quantity"] if chosen is not None else None,
                chosen_source=chosen["chosen_source"] if chosen is not None else None,
                conflict=None
                if conflict is None
                else ConflictInfo(conflict["difference"], conflict["first_seen_at"]),
                comparisons=comparisons,
                lines=shown,
            )
        )
    reports.sort(key=lambda r: (r.conflict is None, not r.findings, r.key))
    return reports
