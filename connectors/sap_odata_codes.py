"""What SAP's stock types and movement types mean (reference/sap.md §1.4, §4).

The direction of a material-document item comes from its DebitCreditCode
(`S` in, `H` out) where the service has that field; older service versions
lack it, and then this movement-type table decides, never the quantity's
sign (SAP quantities are always positive). Transfer postings are item
pairs: without DebitCreditCode the generated counter item
(IsAutomaticallyCreated = 'X') is the receiving leg (MSEG-XAUTO; the
reference marks this unverified in API samples), and a reversed leg moves
opposite to the leg it cancels.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from stockbridge.mapping.model import MovementKind, StockStatus

__all__ = [
    "NO_STOCK_EFFECT",
    "STOCK_TYPE_STATUS",
    "Direction",
    "MovementType",
    "movement_type",
]

STOCK_TYPE_STATUS: dict[str, str] = {
    "01": StockStatus.UNRESTRICTED.value,
    "02": StockStatus.QUALITY_INSPECTION.value,
    "03": StockStatus.BLOCKED.value,  # returns blocked
    "04": StockStatus.IN_TRANSIT.value,  # stock in transfer, storage-location level
    "05": StockStatus.IN_TRANSIT.value,  # stock in transfer, plant level
    "06": StockStatus.IN_TRANSIT.value,  # stock in transit
    "07": StockStatus.BLOCKED.value,
    "08": StockStatus.RESTRICTED.value,  # restricted-use batch
}
"""InventoryStockType (LBBSA) to canonical status; other codes pass through raw."""

NO_STOCK_EFFECT = frozenset({"103", "104"})
"""GR into (and back out of) GR-blocked stock: not storage-location stock (§4)."""


class Direction(Enum):
    """How an item's direction follows from its movement type alone."""

    IN = 1
    OUT = -1
    PAIR_LEG = 0
    """A transfer leg: the generated counter item receives, the other issues."""
    FROM_INDICATOR = 2
    """Only the DebitCreditCode can say (e.g. 711/712, two-step transfers)."""


@dataclass(frozen=True, slots=True)
class MovementType:
    kind: MovementKind
    direction: Direction


def _types(
    kind: MovementKind, direction: Direction, *codes: str
) -> dict[str, MovementType]:
    return dict.fromkeys(codes, MovementType(kind, direction))


_K, _D = MovementKind, Direction
_TABLE: dict[str, MovementType] = {
    **_types(_K.RECEIPT, _D.IN, "101", "105", "501", "511", "521", "531"),
    **_types(_K.RECEIPT, _D.OUT, "102", "106", "502", "512", "522", "532"),
    **_types(_K.RETURN, _D.OUT, "122", "161", "652", "654", "656"),
    # 262 posted as its own document: components returned from production.
    **_types(_K.RETURN, _D.IN, "123", "162", "262", "651", "653", "655"),
    **_types(_K.ISSUE, _D.OUT, "201", "221", "231", "241", "291"),
    **_types(_K.ISSUE, _D.IN, "202", "222", "232", "242", "292"),
    **_types(_K.PRODUCTION_ISSUE, _D.OUT, "261"),
    **_types(_K.SALES_ISSUE, _D.OUT, "251", "601"),
    **_types(_K.SALES_ISSUE, _D.IN, "252", "602"),
    **_types(_K.SCRAP, _D.OUT, "551", "553", "555"),
    **_types(_K.SCRAP, _D.IN, "552", "554", "556"),
    # 561-566: initial entry of stock balances, a correction rather than a receipt.
    **_types(_K.ADJUSTMENT, _D.IN, "561", "563", "565", "701", "703", "707"),
    **_types(_K.ADJUSTMENT, _D.OUT, "562", "564", "566", "702", "704", "708"),
    **_types(_K.ADJUSTMENT, _D.FROM_INDICATOR, "711", "712"),
    **_types(
        _K.TRANSFER,
        _D.PAIR_LEG,
        *("301", "302", "309", "310", "311", "312", "321", "322", "323", "324"),
        *("325", "326", "343", "344", "349", "350", "411", "412", "413", "414"),
    ),
    **_types(
        _K.TRANSFER,
        _D.FROM_INDICATOR,
        *("303", "304", "305", "306", "313", "314", "315", "316"),
        *("641", "642", "643", "644"),
    ),
}


def movement_type(code: str) -> MovementType | None:
    """The kind and table direction of a GoodsMovementType, or None if unknown."""
    return _TABLE.get(code)
