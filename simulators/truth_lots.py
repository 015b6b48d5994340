"""Where stock is, by batch: what issues take from and what receipts create.

Issues take the oldest batch first, and never more than every system
holding the key has on hand, which is what keeps warehouses from going
negative. Batch numbers are ten digits: the receipt day as YYMMDD and a
per-material sequence for that day ('2603150001'), the form SAP shows with
its leading zeros kept.
"""

from __future__ import annotations

from stockbridge.simulators.truth_ledger import Clock, Key
from stockbridge.simulators.truth_master import MaterialSpec

__all__ = ["UNRESTRICTED", "Lots"]

UNRESTRICTED = "unrestricted"


class Lots:
    """Batches per (material, site, warehouse, status), in receipt order.

    The index only ever grows with the number of batches (stock keys), not
    with the number of movements, so memory stays flat while streaming.
    """

    def __init__(self, clock: Clock, balance: dict[Key, int]) -> None:
        self._clock = clock
        self._balance = balance
        # (material, site, warehouse, status) -> batches, a dict used as ordered set
        self._lots: dict[tuple[str, str, str, str], dict[str, None]] = {}
        self._day = 0
        self._todays: dict[tuple[str, str], str] = {}
        self._sequence: dict[tuple[str, int], int] = {}

    def start_day(self, day: int) -> None:
        self._day = day
        self._todays.clear()
        self._sequence.clear()

    def fresh_batch(self, material: MaterialSpec, day: int) -> str:
        """A new batch number dated day `day` (negative: before the first day)."""
        sequence = self._sequence.get((material.code, day), 0) + 1
        self._sequence[material.code, day] = sequence
        return f"{self._clock.yymmdd(day)}{sequence:04d}"

    def receipt_batch(self, material: MaterialSpec, site: str) -> str:
        """The batch of today's receipts of `material` at `site`; '' if not batch-managed."""
        if not material.batch_managed:
            return ""
        batch = self._todays.get((material.code, site))
        if batch is None:
            batch = self.fresh_batch(material, self._day)
            self._todays[material.code, site] = batch
        return batch

    def add(self, key: Key) -> None:
        """Note that `key` holds stock (any system: the index is by physical place)."""
        _, material, site, warehouse, batch, status = key
        self._lots.setdefault((material, site, warehouse, status), {})[batch] = None

    def batches(self, material: str, site: str, warehouse: str) -> list[str]:
        return list(self._lots.get((material, site, warehouse, UNRESTRICTED), ()))

    def available(
        self,
        systems: tuple[str, ...],
        material: str,
        site: str,
        warehouse: str,
        batch: str,
    ) -> int:
        """Unrestricted stock that every system in `systems` has of this batch."""
        balance = self._balance
        least = balance.get(
            (systems[0], material, site, warehouse, batch, UNRESTRICTED), 0
        )
        for system in systems[1:]:
            least = min(
                least,
                balance.get(
                    (system, material, site, warehouse, batch, UNRESTRICTED), 0
                ),
            )
        return least

    def pick(
        self, systems: tuple[str, ...], material: str, site: str, warehouse: str
    ) -> tuple[str, int] | None:
        """The oldest batch with unrestricted stock in all `systems`, and how much."""
        lots = self._lots.get((material, site, warehouse, UNRESTRICTED))
        while lots:
            batch = next(iter(lots))
            available = self.available(systems, material, site, warehouse, batch)
            if available > 0:
                return batch, available
            del lots[batch]
        return None
