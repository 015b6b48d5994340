"""The state and tools the goods flows share: sites, quantities, documents, opening stock.

`truth_events` writes the day-to-day events and `truth_faults` the injected
discrepancies, both through one `Flows`: it draws quantities, numbers
documents, keeps the batches on hand (`Lots`) and remembers recent lines that
a later reversal may cancel or inspected receipts still to be released.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

from stockbridge.simulators.truth_ledger import (
    Clock,
    Document,
    Entry,
    Key,
    Ledger,
    Numbering,
    format_milli,
)
from stockbridge.simulators.truth_lots import UNRESTRICTED, Lots
from stockbridge.simulators.truth_master import (
    FINISHED_WAREHOUSE,
    LINE_SIDE,
    MES_SITES,
    RAW_WAREHOUSE,
    SITES,
    MaterialSpec,
)

__all__ = ["QUALITY", "Flows", "PostedLine", "Site"]

QUALITY = "quality_inspection"
_YEAR_SYSTEMS = frozenset({"sap", "ecc"})
_REVERSIBLE_KEPT = 64
_ALT_ENTRY_SHARE = 0.5
_ROUND_SHARE = 0.6


PostedLine = tuple[int, Key, int, Entry, str]
"""(id, key, quantity, entry, order_ref) of a line that may be reversed later."""


@dataclass(frozen=True, slots=True)
class Site:
    code: str
    erp: str
    mes: bool

    @property
    def line_side_systems(self) -> tuple[str, ...]:
        return (self.erp, "mes") if self.mes else (self.erp,)


class Flows:
    """What every event needs: the ledger, numbering, batches on hand, recent lines."""

    def __init__(
        self,
        rng: random.Random,
        ledger: Ledger,
        clock: Clock,
        materials: list[MaterialSpec],
    ) -> None:
        self.rng = rng
        self.ledger = ledger
        self.clock = clock
        self.numbering = Numbering()
        self.lots = Lots(clock, ledger.balance)
        self.raw = [m for m in materials if not m.finished]
        self.finished = [m for m in materials if m.finished]
        self.sites = [Site(code, erp, code in MES_SITES) for code, _, erp in SITES]
        self.day = 0
        self.reversible = {
            s.code: deque[tuple[str, list[PostedLine]]]() for s in self.sites
        }
        self.pending_qi = {
            s.code: deque[tuple[int, MaterialSpec, Key, int]]() for s in self.sites
        }
        self._work_order = {s.code: self.numbering.order(s.erp, 1) for s in self.sites}

    # --- helpers ------------------------------------------------------------------

    def start_day(self, day: int) -> None:
        self.day = day
        self.lots.start_day(day)

    def site(self, code: str) -> Site:
        return next(s for s in self.sites if s.code == code)

    def document(
        self, system: str, flow: str, kind: str, t: int, order: str = ""
    ) -> Document:
        """A new document posted at `t`; the MES records in real time, ERP users minutes later."""
        posted = self.clock.iso(t)
        entered = (
            posted
            if system == "mes"
            else self.clock.iso(t + self.rng.randint(60, 1800))
        )
        year = self.clock.year(t) if system in _YEAR_SYSTEMS else ""
        number = self.numbering.document(system, flow)
        return Document(system, number, year, kind, posted, entered, order)

    def draw(self, material: MaterialSpec, low_pct: int, high_pct: int) -> int:
        """A quantity between two percentages of the material's lot, in thousandths."""
        rng = self.rng
        if material.whole_units:
            units = material.lot // 1000
            return (
                rng.randint(
                    max(1, units * low_pct // 100), max(1, units * high_pct // 100)
                )
                * 1000
            )
        quantity = rng.randint(
            max(1, material.lot * low_pct // 100), material.lot * high_pct // 100
        )
        if quantity >= 1000 and rng.random() < _ROUND_SHARE:
            quantity -= quantity % 1000
        return quantity

    def entry(self, material: MaterialSpec, quantity: int) -> tuple[int, Entry]:
        """How the line is keyed in: now and then in cartons/boxes (rounding down to whole ones)."""
        per_alt = material.alt_factor * 1000
        if per_alt and quantity >= per_alt and self.rng.random() < _ALT_ENTRY_SHARE:
            quantity -= quantity % per_alt
            return quantity, (material.alt_unit, str(quantity // per_alt))
        return quantity, (material.base_unit, format_milli(quantity))

    def work_order(self, site: Site) -> str:
        if self.rng.random() < 0.25:
            self._work_order[site.code] = self.numbering.order(site.erp, 1)
        return self._work_order[site.code]

    def some(self, materials: list[MaterialSpec]) -> list[MaterialSpec]:
        return self.rng.sample(
            materials, min(self.rng.choice((1, 1, 2, 3)), len(materials))
        )

    def keep_reversible(self, site: Site, flow: str, lines: list[PostedLine]) -> None:
        kept = self.reversible[site.code]
        kept.append((flow, lines))
        if len(kept) > _REVERSIBLE_KEPT:
            kept.popleft()

    def legs(
        self,
        document: Document,
        event: int,
        source: Key,
        target: Key,
        *,
        quantity: int,
        entry: Entry,
    ) -> tuple[int, int]:
        """The two lines of a transfer, each naming the other; returns (out, in) ids."""
        first = self.ledger.count + 1
        self.ledger.line(
            document, event, source, -quantity, entry, counterpart=first + 1
        )
        self.ledger.line(document, event, target, quantity, entry, counterpart=first)
        return first, first + 1

    # --- opening stock ------------------------------------------------------------

    def open_stock(self) -> None:
        """Raw material in RM01 and LS01 (ERP and MES alike), finished goods in FG01."""
        ledger = self.ledger
        for site in self.sites:
            for material in self.raw:
                batches = self._opening_batches(material, 2)
                for batch in batches:
                    key = (
                        site.erp,
                        material.code,
                        site.code,
                        RAW_WAREHOUSE,
                        batch,
                        UNRESTRICTED,
                    )
                    ledger.opening(key, self.draw(material, 150, 400))
                    self.lots.add(key)
                quantity = self.draw(material, 100, 200)
                for system in site.line_side_systems:
                    key = (
                        system,
                        material.code,
                        site.code,
                        LINE_SIDE,
                        batches[0],
                        UNRESTRICTED,
                    )
                    ledger.opening(key, quantity)
                    self.lots.add(key)
            for material in self.finished:
                batch = self._opening_batches(material, 1)[0]
                key = (
                    site.erp,
                    material.code,
                    site.code,
                    FINISHED_WAREHOUSE,
                    batch,
                    UNRESTRICTED,
                )
                ledger.opening(key, self.draw(material, 200, 500))
                self.lots.add(key)

    def _opening_batches(self, material: MaterialSpec, count: int) -> list[str]:
        """Batches received before the first day, oldest first; [''] if not batch-managed."""
        if not material.batch_managed:
            return [""]
        days = sorted(self.rng.sample(range(-40, 0), count))
        return [self.lots.fresh_batch(material, day) for day in days]
