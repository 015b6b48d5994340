"""The simulated group's master data: sites, warehouses and materials.

Sites and warehouses are fixed (the contract in `truth_schema` names them);
materials are drawn from small word lists so names look like a real item
master (六角螺栓 M8x30, 深沟球轴承 6205) and every unit case a connector must
handle shows up: weight, length and volume in decimals, pieces with a carton
or box as alternative unit, batch-managed and not.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = [
    "FINISHED_WAREHOUSE",
    "LINE_SIDE",
    "MES_SITES",
    "RAW_WAREHOUSE",
    "SITES",
    "STATUS_SYSTEMS",
    "SYSTEM_NAMES",
    "WAREHOUSES",
    "MaterialSpec",
    "make_materials",
]

SITES: tuple[tuple[str, str, str], ...] = (
    ("1000", "上海电机工厂", "sap"),
    ("1100", "苏州装配工厂", "ecc"),
    ("2000", "无锡泵业工厂", "u8"),
    ("3000", "宁波风机工厂", "k3cloud"),
    ("4000", "东莞控制柜工厂", "k3wise"),
)
"""(site, name, erp): one ERP per site, as in `truth_schema`."""

MES_SITES = frozenset({"1000", "2000", "3000", "4000"})
"""Sites whose line-side warehouse the MES also tracks."""

RAW_WAREHOUSE = "RM01"
FINISHED_WAREHOUSE = "FG01"
LINE_SIDE = "LS01"

WAREHOUSES: tuple[tuple[str, str, str], ...] = (
    (RAW_WAREHOUSE, "原材料仓", "main"),
    (FINISHED_WAREHOUSE, "成品仓", "main"),
    (LINE_SIDE, "线边仓", "line_side"),
)

STATUS_SYSTEMS = frozenset({"sap", "ecc", "k3cloud"})
"""ERPs with stock statuses, so receipts into quality inspection happen there.

U8 and K3 WISE keep inspection stock in separate warehouses rather than as a
status; the fixed warehouse list has none, so their stock is all unrestricted.
"""

SYSTEM_NAMES = {
    "sap": "SAP S/4HANA",
    "ecc": "SAP ECC",
    "u8": "U8",
    "k3cloud": "K3 Cloud",
    "k3wise": "K3 WISE",
    "mes": "MES",
}


@dataclass(frozen=True, slots=True)
class MaterialSpec:
    """A material as the generator needs it; quantities in thousandths of the base unit.

    Integer thousandths keep the arithmetic exact and fast; they become
    decimal strings only when written.
    """

    code: str
    name: str
    name_en: str
    base_unit: str
    alt_unit: str
    alt_factor: int  # base units per alt unit, 0 if none
    batch_managed: bool
    finished: bool
    lot: int  # a typical receipt, thousandths of the base unit
    safety_stock: int

    @property
    def whole_units(self) -> bool:
        """Pieces are counted, never split."""
        return self.base_unit == "H87"


# (Chinese, English, base unit, alt unit, alt factor, lot in base units, specs)
_Template = tuple[str, str, str, str, int, int, tuple[str, ...]]

_RAW: tuple[_Template, ...] = (
    (
        "冷轧钢板",
        "Cold-rolled steel sheet",
        "KGM",
        "",
        0,
        500,
        ("1.0mm", "1.5mm", "2.0mm"),
    ),
    (
        "深沟球轴承",
        "Deep groove ball bearing",
        "H87",
        "CT",
        24,
        96,
        ("6204", "6205", "6305"),
    ),
    ("六角螺栓", "Hex bolt", "H87", "BX", 10, 200, ("M6x20", "M8x30", "M10x40")),
    ("电源线缆", "Power cable", "MTR", "", 0, 300, ("3x1.5mm²", "3x2.5mm²", "5x4mm²")),
    (
        "铜漆包线",
        "Enamelled copper wire",
        "KGM",
        "",
        0,
        100,
        ("0.5mm", "0.8mm", "1.2mm"),
    ),
    ("润滑油", "Lubricating oil", "LTR", "", 0, 200, ("L-HM46", "L-CKC220")),
    ("铝合金外壳", "Aluminium housing", "H87", "CT", 24, 48, ("YE3-80", "YE3-90")),
    ("包装箱", "Packing carton", "H87", "BX", 10, 100, ("600x400x400", "800x600x500")),
    ("橡胶密封圈", "Rubber seal ring", "H87", "BX", 10, 500, ("Φ30", "Φ45", "Φ60")),
    ("工业油漆", "Industrial paint", "LTR", "", 0, 50, ("RAL7035", "RAL5015")),
    ("塑料粒子", "Plastic pellets", "KGM", "", 0, 250, ("PP", "ABS", "PA66")),
)
_FINISHED: tuple[_Template, ...] = (
    (
        "三相异步电机",
        "Three-phase induction motor",
        "H87",
        "",
        0,
        20,
        ("YE3-80M2", "YE3-100L"),
    ),
    ("散热风扇", "Cooling fan", "H87", "CT", 24, 96, ("120mm", "150mm")),
    ("齿轮减速机", "Gear reducer", "H87", "", 0, 10, ("R37", "R47", "K57")),
    ("离心水泵", "Centrifugal pump", "H87", "", 0, 15, ("IS50-32", "IS65-50")),
    ("控制柜", "Control cabinet", "H87", "", 0, 5, ("KZG-1", "KZG-2")),
)

# The first materials are fixed so that every size has each case the
# discrepancies and tests rely on: (template, finished, batch-managed).
_FIXED: tuple[tuple[_Template, bool, bool], ...] = (
    (_RAW[0], False, True),  # KGM, batch-managed: the unit slip needs a weight
    (_RAW[1], False, False),  # H87 with carton CT = 24
    (_RAW[2], False, True),  # H87 with box BX = 10, batch-managed
    (_RAW[3], False, False),  # MTR
    (_FINISHED[0], True, True),
    (_FINISHED[1], True, False),  # finished goods sold by the carton
)
MIN_MATERIALS = len(_FIXED)
_FIRST_CODE = 100001
_BATCH_SHARE = 0.4
_FINISHED_SHARE = 0.25


def make_materials(rng: random.Random, count: int) -> list[MaterialSpec]:
    """`count` materials with codes 100001, 100002, ... (at least `MIN_MATERIALS`)."""
    if count < MIN_MATERIALS:
        msg = f"materials must be at least {MIN_MATERIALS}, got {count}"
        raise ValueError(msg)
    materials = []
    for index in range(count):
        if index < MIN_MATERIALS:
            template, finished, batch_managed = _FIXED[index]
        else:
            finished = rng.random() < _FINISHED_SHARE
            template = rng.choice(_FINISHED if finished else _RAW)
            batch_managed = rng.random() < _BATCH_SHARE
        name, name_en, unit, alt_unit, alt_factor, lot_units, specs = template
        spec = rng.choice(specs)
        lot = lot_units * 1000
        materials.append(
            MaterialSpec(
                code=str(_FIRST_CODE + index),
                name=f"{name} {spec}",
                name_en=f"{name_en} {spec}",
                base_unit=unit,
                alt_unit=alt_unit,
                alt_factor=alt_factor,
                batch_managed=batch_managed,
                finished=finished,
                lot=lot,
                safety_stock=lot * rng.randint(1, 3),
            )
        )
    return materials
