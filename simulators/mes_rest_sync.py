"""`POST /api/v1/lineside/stock-sync`: the MES accepting a stock table pushed to it.

    {"batchId": "sb-3f2a...", "items": [{"factoryCode", "warehouseCode",
     "materialCode", "lotNo", "qty", "unit", "status"}, ...]}

answered in the MES envelope `{code, msg, data}`. A batch is taken whole or
not at all: one bad item (a material the MES does not know, a unit that is
not one of its codes, a quantity that is not a decimal) refuses the batch
with code 4002 and says which item and why. The batch id is the idempotency
key: the same id with the same items again is answered `duplicate: true` and
changes nothing; the same id with other items is refused with code 4009, as
a client reusing ids by mistake must hear. Accepted items replace the MES's
pushed figure for their key (factory, warehouse, material, lot).
"""

from __future__ import annotations

import json
import threading
from decimal import Decimal, InvalidOperation

from stockbridge.simulators.http_server import Request

__all__ = ["BAD_ITEM", "ID_REUSED", "StockSyncBook", "SyncRefusedError"]

BAD_ITEM = 4002
ID_REUSED = 4009
_REQUIRED = ("factoryCode", "warehouseCode", "materialCode", "qty", "unit")

Key = tuple[str, str, str, str]


class SyncRefusedError(Exception):
    """A batch the MES refuses, with its business code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class StockSyncBook:
    """What has been pushed: batches by id, and the latest figure per key."""

    def __init__(self, materials: frozenset[str], units: frozenset[str]) -> None:
        self.materials = materials
        self.units = units
        self.batches: dict[str, list[dict[str, object]]] = {}
        self.stock: dict[Key, Decimal] = {}
        self._lock = threading.Lock()

    def accept(self, request: Request) -> dict[str, object]:
        """Take one batch; the reply's `data`. Raises `SyncRefusedError`."""
        batch_id, items = self._read(request.body)
        with self._lock:
            seen = self.batches.get(batch_id)
            if seen is not None:
                if seen != items:
                    raise SyncRefusedError(
                        ID_REUSED, f"batchId {batch_id} 已用于另一批数据，不能重复使用"
                    )
                return {"batchId": batch_id, "accepted": 0, "duplicate": True}
            figures = [self._figure(index, item) for index, item in enumerate(items)]
            self.batches[batch_id] = items
            self.stock.update(figures)
        return {"batchId": batch_id, "accepted": len(items), "duplicate": False}

    @staticmethod
    def _read(body: bytes) -> tuple[str, list[dict[str, object]]]:
        try:
            payload = json.loads(body or b"{}", parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            raise SyncRefusedError(
                BAD_ITEM, "参数错误: 请求体不是合法的 JSON"
            ) from None
        if not isinstance(payload, dict):
            raise SyncRefusedError(BAD_ITEM, "参数错误: 请求体必须是 JSON 对象")
        batch_id, items = payload.get("batchId"), payload.get("items")
        if not isinstance(batch_id, str) or not batch_id.strip():
            raise SyncRefusedError(BAD_ITEM, "参数错误: batchId 不能为空")
        if not isinstance(items, list) or not items:
            raise SyncRefusedError(BAD_ITEM, "参数错误: items 不能为空")
        if not all(isinstance(item, dict) for item in items):
            raise SyncRefusedError(BAD_ITEM, "参数错误: items 的每一条必须是对象")
        return batch_id, items

    def _figure(self, index: int, item: dict[str, object]) -> tuple[Key, Decimal]:
        where = f"参数错误: 第{index + 1}条"
        for name in _REQUIRED:
            if item.get(name) in (None, ""):
                raise SyncRefusedError(BAD_ITEM, f"{where} {name} 不能为空")
        material = str(item["materialCode"])
        if material not in self.materials:
            raise SyncRefusedError(BAD_ITEM, f"{where} 物料 {material} 不存在")
        unit = str(item["unit"])
        if unit not in self.units:
            raise SyncRefusedError(BAD_ITEM, f"{where} 单位 {unit} 不存在")
        qty = item["qty"]
        try:
            number = Decimal(qty) if isinstance(qty, str | Decimal | int) else None
        except InvalidOperation:
            number = None
        if isinstance(qty, bool) or number is None or not number.is_finite():
            raise SyncRefusedError(BAD_ITEM, f"{where} qty 不是数字: {qty!r}")
        key = (
            str(item["factoryCode"]),
            str(item["warehouseCode"]),
            material,
            str(item.get("lotNo") or ""),
        )
        return key, number
