"""How SAP ECC writes the truth's canonical facts: movement types, units, padded keys.

The movement-type table follows SAP's standard types (sap.md §4): direction
lives in SHKZG (S in, H out), the type says why, and a reversal carries the
original's type + 1 (122 reverses to 123). Stock-type changes inside one
storage location use 321/322 (QI), 343/344 (blocked) and 349/350 (blocked to
QI); two-step transfers go through 313 (into stock in transfer, MARD-UMLME)
and 315 (out of it).
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

__all__ = [
    "SAP_UNITS",
    "Counterpart",
    "movement_type",
    "quantity_text",
    "reversal_type",
    "sap_padded",
    "stock_type_indicator",
]

SAP_UNITS = {
    "H87": "ST",
    "PCE": "ST",
    "EA": "EA",
    "KGM": "KG",
    "GRM": "G",
    "TNE": "TO",
    "MTR": "M",
    "LTR": "L",
    "CT": "KAR",
    "BX": "BOX",
}
"""UN/ECE common code to SAP internal unit (T006-MSEHI). `BOX` is a
customer-defined unit here: standard SAP has no box unit."""

_STOCK_TYPE_INDICATOR = {
    "unrestricted": "",
    "quality_inspection": "X",
    "blocked": "S",
    "in_transit": "",
    "restricted": "R",
}
"""MSEG-INSMK per status. `R` (restricted) is this simulator's convention:
SAP marks restricted use through the batch status, not INSMK."""

_SCRAP = {"unrestricted": 551, "quality_inspection": 553, "blocked": 555}
_COUNT = {"unrestricted": 701, "quality_inspection": 703, "blocked": 707}
_STATUS_CHANGE = {
    ("quality_inspection", "unrestricted"): 321,
    ("unrestricted", "quality_inspection"): 322,
    ("blocked", "unrestricted"): 343,
    ("unrestricted", "blocked"): 344,
    ("blocked", "quality_inspection"): 349,
    ("quality_inspection", "blocked"): 350,
}
_INWARD_OUTWARD = {
    "receipt": (101, 102),
    "production_receipt": (101, 102),
    "issue": (202, 201),
    "production_issue": (262, 261),
    "sales_issue": (602, 601),
    "return": (262, 122),
}


class Counterpart(NamedTuple):
    """The other leg of a transfer, as far as the movement type depends on it."""

    site: str
    warehouse: str
    status: str


def movement_type(
    kind: str,
    status: str,
    *,
    inward: bool,
    site: str,
    warehouse: str,
    counterpart: Counterpart | None,
) -> str:
    """BWART of one non-reversal line; reversals use `reversal_type`."""
    if kind in _INWARD_OUTWARD:
        inward_type, outward_type = _INWARD_OUTWARD[kind]
        return str(inward_type if inward else outward_type)
    if kind == "scrap":
        return str(_SCRAP.get(status, 551) + (1 if inward else 0))
    if kind == "adjustment":
        return str(_COUNT.get(status, 701) + (0 if inward else 1))
    if kind == "transfer":
        return _transfer_type(status, inward, site, warehouse, counterpart)
    msg = f"no SAP movement type for kind {kind!r}"
    raise ValueError(msg)


def _transfer_type(
    status: str,
    inward: bool,
    site: str,
    warehouse: str,
    counterpart: Counterpart | None,
) -> str:
    if counterpart is None:
        return "311"
    from_status, to_status = (
        (counterpart.status, status) if inward else (status, counterpart.status)
    )
    if "in_transit" in (from_status, to_status):
        return "313" if to_status == "in_transit" else "315"
    if counterpart.site != site:
        return "301"
    if counterpart.warehouse == warehouse and from_status != to_status:
        return str(_STATUS_CHANGE.get((from_status, to_status), 311))
    return "311"


def reversal_type(original: str) -> str:
    """The reversal movement type of `original`: odd +1, even −1, 122 to 123."""
    code = int(original)
    if code == 122:
        return "123"
    return str(code + 1 if code % 2 else code - 1)


def stock_type_indicator(status: str) -> str:
    """MSEG-INSMK for a canonical stock status."""
    return _STOCK_TYPE_INDICATOR[status]


def sap_padded(value: str, width: int) -> str:
    """Internal form of a numeric key: zero-padded (MATN1/ALPHA); others as typed."""
    return value.zfill(width) if value.isdigit() else value


def quantity_text(text: str) -> str:
    """A QUAN 13,3 value as SAP sends it (three decimals), never rounding."""
    value = Decimal(text)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -3:
        value = value.quantize(Decimal("0.001"))
    return format(value, "f")
