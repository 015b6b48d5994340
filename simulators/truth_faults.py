"""The injected discrepancies: known mistakes, each listed with its exact effect.

Each fault is a real-world way an ERP and the MES come apart at a line-side
warehouse (or, for red ink, a way they must *not* come apart). It writes its
lines through the same helpers as the normal traffic and lists itself in
`discrepancies` with `difference` = its effect on the listed system's
`stock` snapshot against the physical truth, in the base unit. At a
line-side key of a MES site the MES is the physical truth, so there
ERP stock − MES stock = the sum of the differences listed for that key.

A late posting and a red-ink reversal leave the snapshot right, so their
difference is 0: the late line only hides from the movement feed while the
`late_postings` knob is on (then the ERP's movements fall short of its
snapshot by the line's quantity), and the red-ink line nets out its receipt.
"""

from __future__ import annotations

from collections.abc import Callable

from stockbridge.simulators.truth_events import post_transfer
from stockbridge.simulators.truth_flows import Flows, Site
from stockbridge.simulators.truth_ledger import Document, Key, format_milli
from stockbridge.simulators.truth_lots import UNRESTRICTED
from stockbridge.simulators.truth_master import (
    LINE_SIDE,
    RAW_WAREHOUSE,
    SYSTEM_NAMES,
    MaterialSpec,
)

__all__ = ["FAULT_KINDS", "Faults"]

FAULT_KINDS = (
    "mes_only_issue",
    "late_posting",
    "duplicate_posting",
    "unit_slip",
    "unaudited_voucher",
    "red_ink_reversal",
)
_MAX_LATE_DAYS = 4

Issue = tuple[MaterialSpec, str, int]
"""(material, batch, quantity) of a faulty production issue at LS01."""


def _amount(material: MaterialSpec, quantity: int) -> str:
    return f"{format_milli(abs(quantity))} {material.base_unit}"


class Faults:
    """Injects one discrepancy at a time into the traffic of a site."""

    def __init__(self, flows: Flows, last_day: int) -> None:
        self.flows = flows
        self.ledger = flows.ledger
        self.last_day = last_day
        self.day = 0
        self._kinds: dict[str, Callable[[Site, int], bool]] = {
            "mes_only_issue": self.mes_only_issue,
            "late_posting": self.late_posting,
            "duplicate_posting": self.duplicate_posting,
            "unit_slip": self.unit_slip,
            "unaudited_voucher": self.unaudited_voucher,
            "red_ink_reversal": self.red_ink_reversal,
        }

    def inject(self, kind: str, site: str, day: int, t: int) -> bool:
        """Inject `kind` at `site` at time `t` of `day`; False if the stock does not allow it."""
        self.day = day
        return self._kinds[kind](self.flows.site(site), t)

    def _list(
        self, kind: str, line: int, key: Key, difference: int, description: str
    ) -> None:
        self.ledger.discrepancies.append(
            (kind, key[0], line, *key[1:], format_milli(difference), description)
        )

    def _largest(
        self, site: Site, warehouse: str, systems: tuple[str, ...], unit: str = ""
    ) -> Issue | None:
        """The raw material and batch with the most stock that all `systems` have."""
        lots, best = self.flows.lots, None
        for material in self.flows.raw:
            if unit and material.base_unit != unit:
                continue
            for batch in lots.batches(material.code, site.code, warehouse):
                available = lots.available(
                    systems, material.code, site.code, warehouse, batch
                )
                if best is None or available > best[2]:
                    best = (material, batch, available)
        return best if best is not None and best[2] > 0 else None

    def _issue(
        self, site: Site, systems: tuple[str, ...], percent: int, unit: str = ""
    ) -> Issue | None:
        """A part of the largest line-side stock, whole pieces for pieces."""
        largest = self._largest(site, LINE_SIDE, systems, unit)
        if largest is None:
            return None
        material, batch, available = largest
        quantity = available * percent // 100
        if material.whole_units:
            quantity -= quantity % 1000
        return material, batch, quantity if quantity > 0 else available

    def _post_issue(
        self, system: str, site: Site, t: int, issue: Issue, event: int
    ) -> tuple[int, Document]:
        material, batch, quantity = issue
        doc = self.flows.document(
            system,
            "production_issue",
            "production_issue",
            t,
            self.flows.work_order(site),
        )
        key = (system, material.code, site.code, LINE_SIDE, batch, UNRESTRICTED)
        return self.ledger.line(
            doc, event, key, -quantity, (material.base_unit, format_milli(quantity))
        ), doc

    def mes_only_issue(self, site: Site, t: int) -> bool:
        issue = self._issue(site, ("mes",), 30)
        if issue is None:
            return False
        material, batch, quantity = issue
        line, doc = self._post_issue("mes", site, t, issue, self.ledger.event())
        name, amount = SYSTEM_NAMES[site.erp], _amount(material, quantity)
        key = (site.erp, material.code, site.code, LINE_SIDE, batch, UNRESTRICTED)
        self._list(
            "mes_only_issue",
            line,
            key,
            quantity,
            f"production issue {doc.number} of {amount} of {material.code} for {doc.order_ref} posted in MES, "
            f"missing in {name}: {name} shows {amount} more at {LINE_SIDE} than MES",
        )
        return True

    def late_posting(self, site: Site, t: int) -> bool:
        days_late = min(_MAX_LATE_DAYS, self.last_day - self.day)
        issue = (
            self._issue(site, site.line_side_systems, 20) if days_late >= 1 else None
        )
        if issue is None:
            return False
        event = self.ledger.event()
        self._post_issue("mes", site, t, issue, event)
        material, batch, quantity = issue
        doc = self.flows.document(
            site.erp,
            "production_issue",
            "production_issue",
            t,
            self.flows.work_order(site),
        )
        doc.entered_at = self.flows.clock.iso(
            t + days_late * 86_400 + self.flows.rng.randint(600, 7200)
        )
        key = (site.erp, material.code, site.code, LINE_SIDE, batch, UNRESTRICTED)
        line = self.ledger.line(
            doc,
            event,
            key,
            -quantity,
            (material.base_unit, format_milli(quantity)),
            late=1,
        )
        name, amount = SYSTEM_NAMES[site.erp], _amount(material, quantity)
        self._list(
            "late_posting",
            line,
            key,
            0,
            f"production issue {doc.number} of {amount} of {material.code} posted {doc.posted_at} but entered in "
            f"{name} {doc.entered_at}: while the late_postings knob holds it back, {name}'s movements are "
            f"{amount} short of its stock; its snapshot agrees with MES",
        )
        return True

    def duplicate_posting(self, site: Site, t: int) -> bool:
        """The same transfer RM01 -> LS01 saved twice in the ERP; the MES has it once."""
        largest = self._largest(site, RAW_WAREHOUSE, (site.erp,))
        if largest is None:
            return False
        material, batch, available = largest
        quantity = available // 4
        if material.whole_units:
            quantity -= quantity % 1000
        if quantity <= 0:
            return False
        lot, entry = (
            (material, batch, quantity),
            (material.base_unit, format_milli(quantity)),
        )
        event = self.ledger.event()
        post_transfer(self.flows, site, lot, entry, t=t, event=event)
        out_leg, in_leg = post_transfer(
            self.flows, site, lot, entry, t=t, event=event, with_mes=False
        )
        name, amount = SYSTEM_NAMES[site.erp], _amount(material, quantity)
        what = f"transfer of {amount} of {material.code} {RAW_WAREHOUSE}->{LINE_SIDE} saved twice in {name}"
        key = (site.erp, material.code, site.code, LINE_SIDE, batch, UNRESTRICTED)
        self._list(
            "duplicate_posting",
            in_leg,
            key,
            quantity,
            f"{what}: {name} shows {amount} more at {LINE_SIDE} than MES",
        )
        key = (site.erp, material.code, site.code, RAW_WAREHOUSE, batch, UNRESTRICTED)
        self._list(
            "duplicate_posting",
            out_leg,
            key,
            -quantity,
            f"{what}: {name} shows {amount} less at {RAW_WAREHOUSE} than is there",
        )
        return True

    def unit_slip(self, site: Site, t: int) -> bool:
        """An issue of N kg keyed as N g: the ERP issues a thousandth of it."""
        issue = self._issue(site, site.line_side_systems, 20, unit="KGM")
        if issue is None or issue[2] < 1000:
            return False
        material, batch, quantity = issue
        kilograms = quantity // 1000
        event = self.ledger.event()
        _, mes_doc = self._post_issue(
            "mes", site, t, (material, batch, kilograms * 1000), event
        )
        doc = self.flows.document(
            site.erp, "production_issue", "production_issue", t, mes_doc.order_ref
        )
        key = (site.erp, material.code, site.code, LINE_SIDE, batch, UNRESTRICTED)
        line = self.ledger.line(doc, event, key, -kilograms, ("GRM", str(kilograms)))
        name, difference = SYSTEM_NAMES[site.erp], kilograms * 1000 - kilograms
        self._list(
            "unit_slip",
            line,
            key,
            difference,
            f"production issue {doc.number} of {kilograms} KGM of {material.code} keyed as {kilograms} GRM in {name}: "
            f"{name} issued {format_milli(kilograms)} KGM and shows {format_milli(difference)} KGM more at "
            f"{LINE_SIDE} than MES",
        )
        return True

    def unaudited_voucher(self, site: Site, t: int) -> bool:
        issue = self._issue(site, site.line_side_systems, 20)
        if issue is None:
            return False
        material, batch, quantity = issue
        event = self.ledger.event()
        _, mes_doc = self._post_issue("mes", site, t, issue, event)
        doc = self.flows.document(
            site.erp, "production_issue", "production_issue", t, mes_doc.order_ref
        )
        key = (site.erp, material.code, site.code, LINE_SIDE, batch, UNRESTRICTED)
        line = self.ledger.line(
            doc,
            event,
            key,
            -quantity,
            (material.base_unit, format_milli(quantity)),
            effective=0,
        )
        name, amount = SYSTEM_NAMES[site.erp], _amount(material, quantity)
        self._list(
            "unaudited_voucher",
            line,
            key,
            quantity,
            f"production issue {doc.number} of {amount} of {material.code} saved but not audited in {name}, so "
            f"its stock has not moved; MES recorded the issue: {name} shows {amount} more at {LINE_SIDE} than MES",
        )
        return True

    def red_ink_reversal(self, site: Site, t: int) -> bool:
        """A purchase receipt cancelled by a red-ink voucher of its own type: it must net out."""
        flows, erp = self.flows, site.erp
        material = flows.rng.choice(flows.raw)
        quantity = flows.draw(material, 100, 300)
        entry = (material.base_unit, format_milli(quantity))
        batch = flows.lots.receipt_batch(material, site.code)
        key = (erp, material.code, site.code, RAW_WAREHOUSE, batch, UNRESTRICTED)
        doc = flows.document(
            erp, "purchase_receipt", "receipt", t, flows.numbering.order(erp, 0)
        )
        receipt = self.ledger.line(doc, self.ledger.event(), key, quantity, entry)
        red = flows.document(
            erp, "reverse_purchase_receipt", "reversal", t, doc.order_ref
        )
        line = self.ledger.line(
            red, self.ledger.event(), key, -quantity, entry, reverses=receipt
        )
        name = SYSTEM_NAMES[erp]
        self._list(
            "red_ink_reversal",
            line,
            key,
            0,
            f"purchase receipt {doc.number} of {_amount(material, quantity)} of {material.code} cancelled in "
            f"{name} by red-ink voucher {red.number} (same type, negative quantity): nets out, no difference",
        )
        return True
