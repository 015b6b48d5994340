"""How the simulated SAP system spells canonical facts: units, stock types, movement types.

The truth speaks UN/ECE units and canonical movement kinds; an S/4HANA API
answers in the external (commercial, English) unit codes and SAP movement
types (reference/sap.md §4, §5). Choices the reference does not pin down are
marked as such.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = [
    "STATUS_TO_STOCK_TYPE",
    "UNIT_TO_COMMERCIAL",
    "MovementCoding",
    "commercial_unit",
    "debit_credit",
    "external_batch",
    "external_material",
    "movement_coding",
    "reversal_type",
    "transaction_type",
    "transfer_type",
]

UNIT_TO_COMMERCIAL = {
    "H87": "PC",  # internal ST
    "KGM": "KG",
    "GRM": "G",
    "TNE": "TO",
    "MTR": "M",
    "MTK": "M2",
    "MTQ": "M3",
    "LTR": "L",
    "CT": "CAR",  # internal KAR
    "BX": "BOX",  # this simulator's choice: the reference names no SAP box unit
}

STATUS_TO_STOCK_TYPE = {
    "unrestricted": "01",
    "quality_inspection": "02",
    "in_transit": "06",
    "blocked": "07",
    "restricted": "08",
}

# Status-change transfer postings, (from status, to status) -> movement type.
# 321 is from the reference; the others are standard SAP pairs (unverified here).
_STATUS_CHANGE = {
    ("quality_inspection", "unrestricted"): "321",
    ("unrestricted", "quality_inspection"): "322",
    ("blocked", "unrestricted"): "343",
    ("unrestricted", "blocked"): "344",
    ("blocked", "quality_inspection"): "349",
    ("quality_inspection", "blocked"): "350",
}


def commercial_unit(unece: str) -> str:
    """External code of a UN/ECE unit; an unknown unit is an error, not a guess."""
    try:
        return UNIT_TO_COMMERCIAL[unece]
    except KeyError:
        msg = f"no SAP unit for UN/ECE code {unece!r}; known: {sorted(UNIT_TO_COMMERCIAL)}"
        raise ValueError(msg) from None


@lru_cache(maxsize=65536)
def external_material(material: str) -> str:
    """OData shows purely numeric material numbers without leading zeros."""
    if material.isdigit():
        return material.lstrip("0") or "0"
    return material.upper()


@lru_cache(maxsize=65536)
def external_batch(batch: str) -> str:
    """Numeric batches keep SAP's 10-digit zero padding (`0000000109`)."""
    if not batch:
        return ""
    return batch.zfill(10) if batch.isdigit() else batch.upper()


def debit_credit(quantity_sign: int) -> str:
    """`S` (debit) for stock coming in, `H` (credit) for stock going out."""
    return "S" if quantity_sign > 0 else "H"


def reversal_type(movement_type: str) -> str:
    """The type that cancels `movement_type`: forward types are odd, reversals +1.

    122 (return delivery) is reversed by 123; an even type that is itself used
    forward (702 loss, 322 UNR->QI, 344) is cancelled by its odd partner.
    """
    number = int(movement_type)
    if number == 122:
        return "123"
    return str(number + 1 if number % 2 else number - 1)


def transfer_type(
    *,
    material: str,
    site: str,
    status: str,
    other_material: str,
    other_site: str,
    other_status: str,
    incoming: bool,
) -> str:
    """Movement type of a transfer leg, from the leg and its counterpart."""
    if other_site != site:
        return "301"
    if other_material != material:
        return "309"
    source, target = (other_status, status) if incoming else (status, other_status)
    if source != target:
        return _STATUS_CHANGE.get((source, target), "311")
    return "311"


class MovementCoding:
    """Movement type plus the header codes SAP derives from it."""

    __slots__ = ("goods_movement_code", "movement_type", "transaction_type")

    def __init__(
        self, movement_type: str, goods_movement_code: str, transaction_type: str
    ) -> None:
        self.movement_type = movement_type
        self.goods_movement_code = goods_movement_code
        self.transaction_type = transaction_type


# kind -> (type when stock comes in, type when it goes out)
_KIND_TYPES = {
    "receipt": ("101", "122"),
    "production_receipt": ("101", "102"),
    "production_issue": ("262", "261"),
    "sales_issue": ("602", "601"),
    "issue": ("202", "201"),
    "scrap": ("552", "551"),
    "adjustment": ("701", "702"),
    "return": ("262", "122"),
}

# movement type -> (GoodsMovementCode, InventoryTransactionType); BAPI GM codes
# from reference §3.5, transaction types WE/WF/WA/WL/WI are SAP's usual ones.
_HEADER_CODES = {
    "101": ("01", "WE"),
    "122": ("01", "WE"),
    "261": ("03", "WA"),
    "262": ("03", "WA"),
    "201": ("03", "WA"),
    "202": ("03", "WA"),
    "551": ("03", "WA"),
    "552": ("03", "WA"),
    "601": ("", "WL"),
    "602": ("", "WL"),
    "701": ("", "WI"),
    "702": ("", "WI"),
}


def movement_coding(kind: str, sign: int, *, transfer: str = "") -> MovementCoding:
    """SAP coding of a truth line that is not a reversal.

    `transfer` is the precomputed type of a transfer leg (see `transfer_type`).
    """
    if kind == "transfer":
        return MovementCoding(transfer, "04", "WA")
    try:
        incoming, outgoing = _KIND_TYPES[kind]
    except KeyError:
        msg = f"no SAP movement type for kind {kind!r}"
        raise ValueError(msg) from None
    mtype = incoming if sign > 0 else outgoing
    gm_code, itt = _HEADER_CODES.get(mtype, ("", "WA"))
    if mtype == "101" and kind == "production_receipt":
        gm_code, itt = "02", "WF"
    return MovementCoding(mtype, gm_code, itt)


def transaction_type(movement_type: str) -> str:
    """InventoryTransactionType SAP derives for a movement type (WA when unlisted)."""
    return _HEADER_CODES.get(movement_type, ("", "WA"))[1]
