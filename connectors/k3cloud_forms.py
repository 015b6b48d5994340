"""What the connector knows about K3 Cloud's forms: which bills move stock, and how.

Form ids, entity keys and quantity keys follow the reference
(`kingdee-yonyou-mes.md` §1.4, §1.5). Keys it does not verify are marked
*optional* here: when a tenant's metadata lacks one, ExecuteBillQuery answers
MsgCode 9 naming it, and the connector reads the form without it (a base
quantity falls back to the entry quantity and its unit, a missing bin or
order number to '').

Each bill's quantities are unsigned by direction: a receipt form adds stock,
an issue form takes it, and a red-ink (红字) bill of the same form carries
negative quantities, so `direction * quantity` is the signed movement for
both colours. A direct transfer (STK_TransferDirect) is one entry holding
both legs; stock-count gain and loss bills (盘盈/盘亏) are adjustments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stockbridge.mapping.model import MovementKind, StockStatus

__all__ = [
    "AUDITED",
    "BILL_FORMS",
    "HEADER_KEYS",
    "INVENTORY_FORM",
    "INVENTORY_KEYS",
    "STOCK_STATUSES",
    "TRANSFER_FORM",
    "BillForm",
    "status_of",
]

AUDITED = "FDocumentStatus = 'C' AND FCancelStatus = 'A'"
"""Only audited (C), not voided (A) bills have moved stock."""

INVENTORY_FORM = "STK_Inventory"
INVENTORY_KEYS = (
    "FID",
    "FStockOrgId.FNumber",
    "FMaterialId.FNumber",
    "FStockId.FNumber",
    "FStockLocId",
    "FLot.FNumber",
    "FStockStatusId.FNumber",
    "FOwnerTypeId",
    "FOwnerId.FNumber",
    "FKeeperTypeId",
    "FKeeperId.FNumber",
    "FBaseUnitId.FNumber",
    "FBaseQty",
    "FBaseLockQty",
    "FBaseAVBQty",
    "FUpdateTime",
)

HEADER_KEYS = (
    "FID",
    "FBillNo",
    "FDate",
    "FApproveDate",
    "FModifyDate",
    "FDocumentStatus",
    "FCancelStatus",
    "FStockOrgId.FNumber",
)

STOCK_STATUSES: Mapping[str, StockStatus] = {
    "KCZT01_SYS": StockStatus.UNRESTRICTED,  # 可用
    "KCZT02_SYS": StockStatus.QUALITY_INSPECTION,  # 待检
    "KCZT03_SYS": StockStatus.BLOCKED,  # 冻结
    "KCZT05_SYS": StockStatus.IN_TRANSIT,  # 在途
    "KCZT08_SYS": StockStatus.RESTRICTED,  # 不良 (the simulator's choice, unverified)
}
"""K3's system stock statuses (FStockStatusId.FNumber) that map clearly; other
codes are passed on raw for the source's status crosswalk."""


def status_of(code: str) -> str:
    """The canonical status of a K3 stock status number, else the number itself."""
    status = STOCK_STATUSES.get(code)
    return code if status is None else status.value


@dataclass(frozen=True)
class BillForm:
    """A bill form that moves stock once audited."""

    form_id: str
    entity: str
    """The entry entity: entry ids are `<entity>_FEntryId`."""
    kind: MovementKind
    direction: int
    """+1 receipts, -1 issues, 0 a transfer (two legs)."""
    entry_qty: str
    """The entry-unit quantity key (unit FUnitID)."""
    base_qty: str
    """The base-unit quantity key (unit FBaseUnitId), preferred."""
    order_ref: str = ""
    """The key of the order the bill fulfils, '' if none is read."""

    @property
    def entry_id(self) -> str:
        return f"{self.entity}_FEntryId"


TRANSFER_FORM = BillForm(
    "STK_TransferDirect", "FBillEntry", MovementKind.TRANSFER, 0, "FQty", "FBaseQty"
)

BILL_FORMS: tuple[BillForm, ...] = (
    BillForm(
        "STK_InStock", "FInStockEntry", MovementKind.RECEIPT, 1,
        "FRealQty", "FBaseUnitQty", "FPOOrderNo",
    ),
    BillForm(
        "PRD_PickMtrl", "FEntity", MovementKind.PRODUCTION_ISSUE, -1,
        "FActualQty", "FBaseActualQty", "FMoBillNo",
    ),
    BillForm(
        "PRD_INSTOCK", "FEntity", MovementKind.PRODUCTION_RECEIPT, 1,
        "FRealQty", "FBaseRealQty", "FMoBillNo",
    ),
    BillForm(
        "SAL_OUTSTOCK", "FEntity", MovementKind.SALES_ISSUE, -1,
        "FRealQty", "FBaseUnitQty", "FSoorDerno",
    ),
    BillForm("STK_MisDelivery", "FEntity", MovementKind.ISSUE, -1, "FQty", "FBaseQty"),
    BillForm(
        "STK_MISCELLANEOUS", "FEntity", MovementKind.RECEIPT, 1, "FQty", "FBaseQty"
    ),
    TRANSFER_FORM,
    BillForm(
        "STK_StockCountGain", "FBillEntry", MovementKind.ADJUSTMENT, 1,
        "FGainQty", "FBaseGainQty",
    ),
    BillForm(
        "STK_StockCountLoss", "FBillEntry", MovementKind.ADJUSTMENT, -1,
        "FLossQty", "FBaseLossQty",
    ),
)  # fmt: skip
"""Read in this order; the cursor keeps one position per form."""
