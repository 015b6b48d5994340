"""The factory's daily goods flows, as each system records them.

Raw material is bought into RM01 (some into quality inspection, released a
day later), moved to the line-side warehouse LS01 and issued to work orders
there; finished goods are received into FG01 and sold from it. Counts adjust
the main warehouses, scrap leaves from LS01, and now and then a posting is
reversed. The ERP of the site records every flow; the MES records what
happens at LS01 of its sites (the receipt leg of a transfer, issues, scrap,
reversals of issues) as its own lines sharing the physical `event`.

Events come in posting-time order and an issue never takes more than every
system holding the key has (`Lots.pick`), so no warehouse goes negative.
"""

from __future__ import annotations

from collections.abc import Callable

from stockbridge.simulators.truth_flows import QUALITY, Flows, Site
from stockbridge.simulators.truth_ledger import Document, Entry, format_milli
from stockbridge.simulators.truth_lots import UNRESTRICTED
from stockbridge.simulators.truth_master import (
    FINISHED_WAREHOUSE,
    LINE_SIDE,
    RAW_WAREHOUSE,
    STATUS_SYSTEMS,
    MaterialSpec,
)

__all__ = ["post_transfer", "random_event"]

_QI_SHARE = 0.15


def random_event(flows: Flows, t: int) -> None:
    """One event of a flow drawn by weight, at a site drawn at random."""
    rng = flows.rng
    _EVENTS[rng.choice(_EVENT_TABLE)](flows, rng.choice(flows.sites), t)


def purchase_receipt(flows: Flows, site: Site, t: int) -> None:
    erp = site.erp
    doc = flows.document(
        erp, "purchase_receipt", "receipt", t, flows.numbering.order(erp, 0)
    )
    for material in flows.some(flows.raw):
        quantity, entry = flows.entry(material, flows.draw(material, 200, 600))
        inspect = erp in STATUS_SYSTEMS and flows.rng.random() < _QI_SHARE
        batch = flows.lots.receipt_batch(material, site.code)
        key = (
            erp,
            material.code,
            site.code,
            RAW_WAREHOUSE,
            batch,
            QUALITY if inspect else UNRESTRICTED,
        )
        line = flows.ledger.line(doc, flows.ledger.event(), key, quantity, entry)
        flows.lots.add(key)
        if inspect:
            flows.pending_qi[site.code].append((flows.day, material, key, quantity))
        else:
            flows.keep_reversible(
                site,
                "purchase_receipt",
                [(line, key, quantity, entry, doc.order_ref)],
            )


def qi_release(flows: Flows, site: Site, t: int) -> None:
    """Release an inspected receipt of an earlier day: a status-change pair in RM01."""
    pending = flows.pending_qi[site.code]
    if not pending or pending[0][0] >= flows.day:
        return
    _, material, held, quantity = pending.popleft()
    quantity = min(quantity, flows.ledger.balance.get(held, 0))
    if quantity <= 0:
        return
    released = (*held[:5], UNRESTRICTED)
    doc = flows.document(site.erp, "qi_release", "transfer", t)
    entry = (material.base_unit, format_milli(quantity))
    flows.legs(
        doc, flows.ledger.event(), held, released, quantity=quantity, entry=entry
    )
    flows.lots.add(released)


def transfer(flows: Flows, site: Site, t: int) -> None:
    material = flows.rng.choice(flows.raw)
    picked = flows.lots.pick((site.erp,), material.code, site.code, RAW_WAREHOUSE)
    if picked is None:
        return
    batch, available = picked
    quantity, entry = flows.entry(
        material, min(flows.draw(material, 100, 300), available)
    )
    if quantity > 0:
        lot = (material, batch, quantity)
        post_transfer(flows, site, lot, entry, t=t, event=flows.ledger.event())


def post_transfer(
    flows: Flows,
    site: Site,
    lot: tuple[MaterialSpec, str, int],
    entry: Entry,
    *,
    t: int,
    event: int,
    with_mes: bool = True,
) -> tuple[int, int]:
    """RM01 -> LS01: the ERP's two legs and the MES's receipt leg; returns the ERP legs' ids."""
    material, batch, quantity = lot
    source = (
        site.erp,
        material.code,
        site.code,
        RAW_WAREHOUSE,
        batch,
        UNRESTRICTED,
    )
    target = (site.erp, material.code, site.code, LINE_SIDE, batch, UNRESTRICTED)
    doc = flows.document(site.erp, "transfer", "transfer", t)
    legs = flows.legs(doc, event, source, target, quantity=quantity, entry=entry)
    flows.lots.add(target)
    if with_mes and site.mes:
        mes = flows.document("mes", "transfer", "transfer", t)
        mes_entry = (material.base_unit, format_milli(quantity))
        flows.ledger.line(mes, event, ("mes", *target[1:]), quantity, mes_entry)
    return legs


def production_issue(flows: Flows, site: Site, t: int) -> None:
    """A work order's pick list: components issued from LS01, in ERP and MES alike."""
    order = flows.work_order(site)
    docs: list[Document] = []
    for material in flows.some(flows.raw):
        picked = flows.lots.pick(
            site.line_side_systems, material.code, site.code, LINE_SIDE
        )
        if picked is None:
            continue
        batch, available = picked
        quantity, entry = flows.entry(
            material, min(flows.draw(material, 20, 100), available)
        )
        docs = docs or [
            flows.document(system, "production_issue", "production_issue", t, order)
            for system in site.line_side_systems
        ]
        event = flows.ledger.event()
        posted = []
        for doc in docs:
            key = (
                doc.system,
                material.code,
                site.code,
                LINE_SIDE,
                batch,
                UNRESTRICTED,
            )
            keyed = (
                (material.base_unit, format_milli(quantity))
                if doc.system == "mes"
                else entry
            )
            line = flows.ledger.line(doc, event, key, -quantity, keyed)
            posted.append((line, key, -quantity, keyed, order))
        flows.keep_reversible(site, "production_issue", posted)


def production_receipt(flows: Flows, site: Site, t: int) -> None:
    material = flows.rng.choice(flows.finished)
    quantity, entry = flows.entry(material, flows.draw(material, 100, 300))
    batch = flows.lots.receipt_batch(material, site.code)
    key = (
        site.erp,
        material.code,
        site.code,
        FINISHED_WAREHOUSE,
        batch,
        UNRESTRICTED,
    )
    order = flows.work_order(site)
    doc = flows.document(site.erp, "production_receipt", "production_receipt", t, order)
    line = flows.ledger.line(doc, flows.ledger.event(), key, quantity, entry)
    flows.lots.add(key)
    flows.keep_reversible(
        site, "production_receipt", [(line, key, quantity, entry, order)]
    )


def sales_issue(flows: Flows, site: Site, t: int) -> None:
    material = flows.rng.choice(flows.finished)
    picked = flows.lots.pick((site.erp,), material.code, site.code, FINISHED_WAREHOUSE)
    if picked is None:
        return
    batch, available = picked
    quantity, entry = flows.entry(
        material, min(flows.draw(material, 50, 200), available)
    )
    key = (
        site.erp,
        material.code,
        site.code,
        FINISHED_WAREHOUSE,
        batch,
        UNRESTRICTED,
    )
    order = flows.numbering.order(site.erp, 2)
    doc = flows.document(site.erp, "sales_issue", "sales_issue", t, order)
    line = flows.ledger.line(doc, flows.ledger.event(), key, -quantity, entry)
    flows.keep_reversible(site, "sales_issue", [(line, key, -quantity, entry, order)])


def scrap(flows: Flows, site: Site, t: int) -> None:
    material = flows.rng.choice(flows.raw)
    picked = flows.lots.pick(
        site.line_side_systems, material.code, site.code, LINE_SIDE
    )
    if picked is None:
        return
    batch, available = picked
    quantity = min(flows.draw(material, 1, 5), available)
    entry = (material.base_unit, format_milli(quantity))
    event = flows.ledger.event()
    for system in site.line_side_systems:
        key = (system, material.code, site.code, LINE_SIDE, batch, UNRESTRICTED)
        flows.ledger.line(
            flows.document(system, "scrap", "scrap", t), event, key, -quantity, entry
        )


def adjustment(flows: Flows, site: Site, t: int) -> None:
    """A stock-count difference in a main warehouse: a gain or a loss."""
    finished = flows.rng.random() < 0.4
    material = flows.rng.choice(flows.finished if finished else flows.raw)
    warehouse = FINISHED_WAREHOUSE if finished else RAW_WAREHOUSE
    picked = flows.lots.pick((site.erp,), material.code, site.code, warehouse)
    if picked is None:
        return
    batch, available = picked
    change = flows.draw(material, 1, 3)
    if flows.rng.random() < 0.5:
        change = -min(change, available)
    key = (site.erp, material.code, site.code, warehouse, batch, UNRESTRICTED)
    entry = (material.base_unit, format_milli(abs(change)))
    flow = "count_gain" if change > 0 else "count_loss"
    flows.ledger.line(
        flows.document(site.erp, flow, "adjustment", t),
        flows.ledger.event(),
        key,
        change,
        entry,
    )


def reversal(flows: Flows, site: Site, t: int) -> None:
    """Cancel a recent line (SAP 102/262/602, U8/K3 red-ink) in every system that has it."""
    kept = flows.reversible[site.code]
    if not kept:
        return
    index = flows.rng.randrange(len(kept))
    flow, lines = kept[index]
    del kept[index]
    if any(
        quantity > flows.ledger.balance.get(key, 0) for _, key, quantity, _, _ in lines
    ):
        return  # the stock has moved on; cancelling now would drive it negative
    event = flows.ledger.event()
    for original, key, quantity, entry, order in lines:
        doc = flows.document(key[0], "reverse_" + flow, "reversal", t, order)
        flows.ledger.line(doc, event, key, -quantity, entry, reverses=original)
        if quantity < 0:
            flows.lots.add(key)


# Relative frequency of each flow among events.
_EVENT_WEIGHTS: dict[Callable[[Flows, Site, int], None], int] = {
    purchase_receipt: 12,
    qi_release: 3,
    transfer: 20,
    production_issue: 25,
    production_receipt: 10,
    sales_issue: 14,
    scrap: 3,
    adjustment: 3,
    reversal: 2,
}
_EVENTS = tuple(_EVENT_WEIGHTS)
_EVENT_TABLE = tuple(
    i for i, weight in enumerate(_EVENT_WEIGHTS.values()) for _ in range(weight)
)
