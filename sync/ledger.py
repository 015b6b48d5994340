"""The ledger check: does each source's stock move exactly as its movements say?

Per source and key, between two consecutive snapshots at t0 and t1:
snapshot(t1) - snapshot(t0) must equal the movements entered in between
(see `stockbridge.store.ledger_queries` for what "in between" means). A
break is a document the movement feed never showed (missed, deleted or
still unposted), a posting the stock never felt (an un-audited voucher
read as posted), or a stock change made outside documents. Figures are
given so a person can tell which.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine

from stockbridge.store.ledger_queries import iter_ledger_breaks

__all__ = ["LedgerBreak", "check_ledger"]


@dataclass(frozen=True, slots=True)
class LedgerBreak:
    """One key of one source whose snapshots and movements disagree."""

    source: str
    scope: str
    material: str
    site: str
    warehouse: str
    location: str
    batch: str
    status: str
    t0: datetime
    t1: datetime
    opening: Decimal
    moved: Decimal
    lines: int
    closing: Decimal
    unit: str

    @property
    def expected(self) -> Decimal:
        """What the snapshot at t1 should say: opening + movements."""
        return self.opening + self.moved

    @property
    def difference(self) -> Decimal:
        """Snapshot(t1) minus what the movements say it should be."""
        return self.closing - self.expected

    @property
    def reading(self) -> str:
        """What a break of this sign usually means."""
        gap = abs(self.difference).normalize()
        if self.difference < 0:
            return (
                f"stock fell {gap:f} {self.unit} more than the movements say: "
                "an issue missing from the feed (deleted, or not loaded yet), "
                "or a receipt loaded that the stock never took"
            )
        return (
            f"stock rose {gap:f} {self.unit} more than the movements say: "
            "a receipt missing from the feed (deleted, or not loaded yet), "
            "or an issue loaded that the stock never felt (an un-audited voucher?)"
        )


def check_ledger(
    engine: Engine,
    *,
    source: str | None = None,
    since: datetime | None = None,
    tolerance: Decimal = Decimal(0),
) -> list[LedgerBreak]:
    """The breaks of the latest snapshot pair per source, or of every pair after `since`."""
    return [
        LedgerBreak(
            source=row["source"],
            scope=row["scope"],
            material=row["material"],
            site=row["site"],
            warehouse=row["warehouse"],
            location=row["location"],
            batch=row["batch"],
            status=row["status"],
            t0=row["t0"],
            t1=row["t1"],
            opening=row["opening"],
            moved=row["moved"],
            lines=int(row["lines"]),
            closing=row["closing"],
            unit=row["unit"] or "",
        )
        for row in iter_ledger_breaks(
            engine, source=source, since=since, tolerance=tolerance
        )
    ]
