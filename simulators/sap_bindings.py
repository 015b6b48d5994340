"""Where each simulated SAP entity set lives in `sap.sqlite` (see `sap_share`)."""

from __future__ import annotations

from stockbridge.simulators.odata_engine import Binding

__all__ = ["DOCUMENT_BINDINGS", "PRODUCT_BINDINGS", "STOCK_BINDINGS"]

_STOCK_ROW = Binding(
    "stock",
    {
        "Material": "material",
        "Plant": "plant",
        "StorageLocation": "sloc",
        "Batch": "batch",
        "InventoryStockType": "stock_type",
        "MaterialBaseUnit": "base_unit",
        "MatlWrhsStkQtyInMatlBaseUnit": "qty",
    },
    late_columns={"MatlWrhsStkQtyInMatlBaseUnit": "qty_early"},
)

STOCK_BINDINGS = {
    "A_MaterialStock": Binding(
        "material", {"Material": "material", "MaterialBaseUnit": "base_unit"}
    ),
    "A_MatlStkInAcctMod": _STOCK_ROW,
}

_HEADER = Binding(
    "header",
    {
        "MaterialDocumentYear": "year",
        "MaterialDocument": "doc",
        "InventoryTransactionType": "itt",
        "DocumentDate": "document_date",
        "PostingDate": "posting_date",
        "CreationDate": "creation_date",
        "CreationTime": "creation_time",
        "CreatedByUser": "created_by",
        "MaterialDocumentHeaderText": "header_text",
        "ReferenceDocument": "reference",
        "GoodsMovementCode": "gm_code",
    },
    late_condition="late = 0",
)

_ITEM = Binding(
    "item",
    {
        "MaterialDocumentYear": "year",
        "MaterialDocument": "doc",
        "MaterialDocumentItem": "item",
        "Material": "material",
        "Plant": "plant",
        "StorageLocation": "sloc",
        "Batch": "batch",
        "GoodsMovementType": "mvt_type",
        "InventoryStockType": "stock_type",
        "MaterialBaseUnit": "base_unit",
        "QuantityInBaseUnit": "qty_base",
        "EntryUnit": "entry_unit",
        "QuantityInEntryUnit": "qty_entry",
        "DebitCreditCode": "dc",
        "ManufacturingOrder": "mfg_order",
        "PurchaseOrder": "purchase_order",
        "Delivery": "delivery",
        "CostCenter": "cost_center",
        "IssgOrRcvgMaterial": "irc_material",
        "IssgOrRcvgBatch": "irc_batch",
        "IssuingOrReceivingPlant": "irc_plant",
        "IssuingOrReceivingStorageLoc": "irc_sloc",
        "IssuingOrReceivingStockType": "irc_stock_type",
        "IsAutomaticallyCreated": "auto_created",
        "ReversedMaterialDocumentYear": "rev_year",
        "ReversedMaterialDocument": "rev_doc",
        "ReversedMaterialDocumentItem": "rev_item",
        "GoodsMovementIsCancelled": "(cancelled > 0)",
        "FiscalYear": "substr(posting_date, 1, 4)",
        "FiscalYearPeriod": "fiscal_period",
        "FiscalYearVariant": "'K4'",
        "CompanyCodeCurrency": "'CNY'",
        "MaterialDocumentLine": "item",
        "HierarchyNodeLevel": "'0'",
    },
    late_columns={"GoodsMovementIsCancelled": "(cancelled = 2)"},
    late_condition="late = 0",
)

DOCUMENT_BINDINGS = {
    "A_MaterialDocumentHeader": _HEADER,
    "A_MaterialDocumentItem": _ITEM,
}

PRODUCT_BINDINGS = {
    "A_ProductUnitsOfMeasure": Binding(
        "uom",
        {
            "Product": "product",
            "AlternativeUnit": "alt_unit",
            "QuantityNumerator": "numerator",
            "QuantityDenominator": "denominator",
            "BaseUnit": "base_unit",
        },
    )
}
