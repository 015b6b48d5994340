"""Yonyou U8 as a database: site 2000's share of the truth in U8's own tables.

`build_u8(truth, target)` writes a UFDATA-shaped database (Inventory,
Warehouse, ComputationGroup/ComputationUnit, Rd_Style, CurrentStock,
RdRecordNN/RdRecordsNN for 01 08 09 10 11 32 34, TransVouch/TransVouchs) into
an SQLite file or a PostgreSQL schema and returns the pyodbc connection string
(SQLite ODBC driver or psqlODBC). `u8_vouchers` says how truth lines become
vouchers. What a connector must get right, all present here:

- Audited means `cHandler <> ''` (and `dVeriDate` set); unaudited vouchers exist.
- U8's arithmetic: CurrentStock.iQuantity per (cWhCode, cInvCode, cBatch) =
  sum over audited vouchers of `(bRdFlag=1 ? 1 : -1) * iQuantity`, excluding
  other modules' opening vouchers (`bOMFirst`/`bpufirst`/`biafirst` = 1; one
  such 01 voucher is planted) and, for 11, `cBusType='假退料'` (one planted). The
  stock opening itself is the 34 voucher (`bIsSTQc=1`) and does count.
- Blank batch and free items are `''`, never NULL. Names are Chinese.
- Red-ink vouchers (`bredvouch=1`) carry negative iQuantity.
- Times are naive Asia/Shanghai local time.
- `ufts`/`rowufts` increase with every write across the whole database, as a
  rowversion does; late postings released later get higher values.

What differs from SQL Server (besides `odbc_targets`' type notes):
- `ufts`, `rowufts`, `pubufts` are plain bigint. On SQL Server they are
  `timestamp` (rowversion, 8 bytes): select `CONVERT(bigint, ufts)` there and
  compare that to the watermark; here the column already is the number.
- IDs come from counters in the simulator, not from UFSystem's ua_identity.
- Only the columns a stock connector needs exist; `ComputationUnit.iChangRate`
  is decimal (U8 has float), `Rd_Style` codes are invented (account-defined).
- `CurrentStock.fStopQuantity` carries the truth's reserved quantity with
  `bStopFlag=0`; `fAvaQuantity = iQuantity - fStopQuantity`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from stockbridge.simulators import u8_schema as schema
from stockbridge.simulators.odbc_targets import (
    Loader,
    Target,
    as_target,
    open_loader,
    qty,
)
from stockbridge.simulators.truth_share import (
    UNIT_NAMES,
    Balance,
    MaterialInfo,
    TruthShare,
)
from stockbridge.simulators.u8_vouchers import (
    Head,
    Ids,
    Item,
    Slot,
    VoucherWriter,
    header_row,
    line_row,
)

__all__ = ["SITE", "SYSTEM", "build_u8", "release_late"]

SITE = "2000"
SYSTEM = "u8"
_FIRST_ID = 1_000_000_001
_OPENING = Slot("34", 1, "", "")
_OUTSOURCING_OPENING = Slot("01", 1, "委外加工", "101")
_FAKE_RETURN = Slot("11", 0, "假退料", "201")
_PLANTED = Decimal(100)


def build_u8(
    truth_path: Path | str, target: Target | Path | str, *, hold_late: bool = False
) -> str:
    """Build the U8 database from the truth; returns the pyodbc connection string.

    With `hold_late`, the truth's late lines are left out (and CurrentStock
    lacks their effect) until `release_late` posts them.
    """
    resolved = as_target(target)
    with (
        TruthShare(truth_path, SYSTEM, SITE) as share,
        open_loader(resolved, schema.TABLES) as loader,
    ):
        ids = Ids(_FIRST_ID, _FIRST_ID, _FIRST_ID, _FIRST_ID, 1)
        items = _write_master(loader, share, ids)
        _write_opening(loader, share.opening(), share, items, ids)
        writer = VoucherWriter(loader, items, ids)
        for line in share.lines(late=False if hold_late else None):
            writer.add(line)
        writer.close()
        stock = share.stock()
        _write_planted(loader, stock, share, items, ids)
        held = share.late_effect() if hold_late else {}
        for auto_id, balance in enumerate(stock, 1):
            quantity = balance.quantity - held.get(balance.key, Decimal(0))
            loader.add(
                schema.CURRENT_STOCK, _stock_row(auto_id, balance, quantity, items, ids)
            )
    return resolved.odbc_connection_string()


def release_late(truth_path: Path | str, target: Target | Path | str) -> int:
    """Post the late lines held back by `build_u8(..., hold_late=True)`; once.

    They get new voucher IDs and ufts above everything already there, and the
    CurrentStock rows they touch are updated (with a new ufts). Returns the
    number of truth lines released.
    """
    resolved = as_target(target)
    with TruthShare(truth_path, SYSTEM, SITE) as share, open_loader(resolved) as loader:
        items, _, _ = _unit_plan(share.materials())
        ids = _ids_after(loader)
        writer = VoucherWriter(loader, items, ids)
        released = 0
        for line in share.lines(late=True):
            writer.add(line)
            released += 1
        writer.close()
        touched = share.late_effect()
        for balance in share.stock():
            if balance.key in touched:
                material, warehouse, batch = balance.key
                loader.execute(
                    "UPDATE CurrentStock SET iQuantity = ?, iNum = ?, fAvaQuantity = ?, ufts = ?"
                    " WHERE cWhCode = ? AND cInvCode = ? AND cBatch = ?",
                    (
                        qty(balance.quantity),
                        items[material].pieces(balance.quantity),
                        qty(balance.quantity - balance.reserved),
                        ids.take("ufts"),
                        warehouse,
                        material,
                        batch,
                    ),
                )
    return released


def _unit_name(code: str) -> str:
    try:
        return UNIT_NAMES[code]
    except KeyError:
        msg = f"no Chinese name for unit {code!r}; known: {sorted(UNIT_NAMES)}"
        raise ValueError(msg) from None


def _unit_plan(
    materials: list[MaterialInfo],
) -> tuple[dict[str, Item], list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Items plus ComputationGroup and ComputationUnit rows.

    Group 01 (无换算率, iGroupType 0) holds the single units; each (main unit,
    auxiliary unit, rate) gets its own fixed-rate group (iGroupType 1) whose
    main unit has iChangRate 1 and auxiliary unit the rate.
    """
    groups: list[tuple[object, ...]] = [("01", "无换算率", 0)]
    units: list[tuple[object, ...]] = []
    singles: dict[str, str] = {}
    fixed: dict[tuple[str, str, Decimal], tuple[str, str]] = {}
    items: dict[str, Item] = {}
    for item_id, material in enumerate(materials, 1):
        if material.alt_factor is None:
            if material.base_unit not in singles:
                code = f"01{len(singles) + 1:02d}"
                singles[material.base_unit] = code
                units.append(
                    (code, _unit_name(material.base_unit), "01", 1, None, len(singles))
                )
            items[material.material] = Item(
                item_id, singles[material.base_unit], None, "", None
            )
            continue
        rate = (material.base_unit, material.alt_unit, material.alt_factor)
        if rate not in fixed:
            group = f"{len(fixed) + 2:02d}"
            base_name, alt_name = (
                _unit_name(material.base_unit),
                _unit_name(material.alt_unit),
            )
            groups.append((group, f"{alt_name}={material.alt_factor}{base_name}", 1))
            units.append((f"{group}01", base_name, group, 1, qty(Decimal(1)), 1))
            units.append(
                (f"{group}02", alt_name, group, 0, qty(material.alt_factor), 2)
            )
            fixed[rate] = (f"{group}01", f"{group}02")
        main, alt = fixed[rate]
        items[material.material] = Item(
            item_id, main, alt, material.alt_unit, material.alt_factor
        )
    return items, groups, units


def _write_master(loader: Loader, share: TruthShare, ids: Ids) -> dict[str, Item]:
    materials = share.materials()
    items, groups, units = _unit_plan(materials)
    for group in groups:
        loader.add(schema.COMPUTATION_GROUP, group)
    for unit in units:
        loader.add(schema.COMPUTATION_UNIT, unit)
    for rd_style in schema.RD_STYLES:
        loader.add(schema.RD_STYLE, rd_style)
    for material in materials:
        item = items[material.material]
        _, _, spec = material.name.partition(" ")
        unit_group = "01" if item.alt_unit is None else item.main_unit[:2]
        loader.add(
            schema.INVENTORY,
            (
                material.material, material.name, spec, item.main_unit,
                item.alt_unit or item.main_unit, item.alt_unit, unit_group,
                0 if item.alt_unit is None else 1, int(material.batch_managed), 0,
                ids.take("ufts"),
            ),
        )  # fmt: skip
    for warehouse in share.warehouses():
        loader.add(
            schema.WAREHOUSE,
            (warehouse.warehouse, warehouse.name, None, 0, 0, None, ids.take("ufts")),
        )
    return items


def _write_opening(
    loader: Loader,
    opening: list[Balance],
    share: TruthShare,
    items: dict[str, Item],
    ids: Ids,
) -> None:
    """One audited 期初 (34, bIsSTQc=1) voucher per warehouse, dated at the start."""
    by_warehouse: dict[str, list[Balance]] = defaultdict(list)
    for balance in opening:
        if balance.quantity:
            by_warehouse[balance.key[1]].append(balance)
    at = share.start_at
    for number, (warehouse, balances) in enumerate(sorted(by_warehouse.items()), 1):
        voucher_id = ids.take("voucher")
        for row_number, balance in enumerate(balances, 1):
            material, _, batch = balance.key
            row = line_row(
                ids.take("line"), voucher_id, material=material, item=items[material],
                quantity=balance.quantity, batch=batch, row_number=row_number, ufts=ids.take("ufts"),
            )  # fmt: skip
            loader.add(schema.rd_records("34"), row)
        head = Head(_OPENING, warehouse, red=False, audited=True, transfer=False)
        header = header_row(
            voucher_id, head, f"{number:010d}", (at, at), ufts=ids.take("ufts"), opening=True,
            memo="库存期初",
        )  # fmt: skip
        loader.add(schema.rd_record("34"), header)


def _write_planted(
    loader: Loader,
    stock: list[Balance],
    share: TruthShare,
    items: dict[str, Item],
    ids: Ids,
) -> None:
    """Two audited vouchers U8's arithmetic leaves out, so a reader must too.

    A 委外期初 receipt (bOMFirst=1: another module's opening) and a month-end
    假退料 (fake return) red 材料出库.
    """
    if not stock:
        return
    material, warehouse, batch = stock[0].key
    item = items[material]
    for slot, code, quantity, at, memo, om_first in (
        (
            _OUTSOURCING_OPENING,
            "WWQC000001",
            _PLANTED,
            share.start_at,
            "委外期初",
            True,
        ),
        (
            _FAKE_RETURN,
            "JTL0000001",
            -_PLANTED,
            share.now_at - timedelta(hours=1),
            "月末假退料",
            False,
        ),
    ):
        voucher_id = ids.take("voucher")
        row = line_row(
            ids.take("line"), voucher_id, material=material, item=item, quantity=quantity,
            batch=batch, row_number=1, ufts=ids.take("ufts"),
        )  # fmt: skip
        loader.add(schema.rd_records(slot.voucher_type), row)
        head = Head(slot, warehouse, red=quantity < 0, audited=True, transfer=False)
        header = header_row(
            voucher_id,
            head,
            code,
            (at, at),
            ufts=ids.take("ufts"),
            memo=memo,
            om_first=om_first,
        )
        loader.add(schema.rd_record(slot.voucher_type), header)


def _stock_row(
    auto_id: int, balance: Balance, quantity: Decimal, items: dict[str, Item], ids: Ids
) -> tuple[object, ...]:
    material, warehouse, batch = balance.key
    item = items[material]
    zero = qty(Decimal(0))
    return (
        auto_id, warehouse, material, item.item_id, batch, "", 0, "",
        qty(quantity), item.pieces(quantity), zero, zero, zero, zero, zero,
        qty(quantity - balance.reserved), qty(balance.reserved), 0,
        *("",) * 10, None, None, "", ids.take("ufts"),
    )  # fmt: skip


def _ids_after(loader: Loader) -> Ids:
    """Counters that continue after everything in the database."""

    def highest(column: str, tables: list[str]) -> int:
        union = " UNION ALL ".join(
            f"SELECT MAX({column}) FROM {table}"  # noqa: S608
            for table in tables
        )
        values = [int(str(row[0])) for row in loader.query(union) if row[0] is not None]
        return max(values, default=0)

    headers = [schema.rd_record(t).name for t in schema.VOUCHER_TYPES]
    lines = [schema.rd_records(t).name for t in schema.VOUCHER_TYPES]
    ufts = max(
        highest("ufts", [*headers, schema.CURRENT_STOCK.name, schema.TRANS_VOUCH.name]),
        highest("rowufts", lines),
        highest("pubufts", [schema.INVENTORY.name, schema.WAREHOUSE.name]),
    )
    return Ids(
        highest("ID", headers) + 1,
        highest("AutoID", lines) + 1,
        max(highest("ID", [schema.TRANS_VOUCH.name]), _FIRST_ID - 1) + 1,
        max(highest("autoID", [schema.TRANS_VOUCHS.name]), _FIRST_ID - 1) + 1,
        ufts + 1,
    )
