"""The three S/4HANA services the simulator serves, as SAP's own metadata declares them.

Names, lengths, labels and `sap:` annotations are copied from real S/4HANA
`$metadata` (reference/sap.md: EDMX-STOCK, EDMX-MDOC-B (schema 1.3.0),
EDMX-PROD). Left out on purpose: the serial-number entity sets (no material
of the simulated plant is serial-managed), the material-document function
imports `Cancel`/`CancelItem`, and all of API_PRODUCT_SRV but its units of
measure. Schema 1.2.0 of the material-document service lacks DebitCreditCode,
BatchBySupplier and ReservationItemRecordType (EDMX-MDOC-A).
"""

from __future__ import annotations

from stockbridge.simulators.sap_edmx import (
    Association,
    EntitySet,
    EntityType,
    Nav,
    Service,
    props,
)

__all__ = [
    "MATERIAL_STOCK_SERVICE",
    "PRODUCT_SERVICE",
    "material_document_service",
]

# --- API_MATERIAL_STOCK_SRV -----------------------------------------------------

_STOCK_OF_MATERIAL = Association(
    "assoc_54E8EB962C48178E40453A31481776EE",
    "A_MaterialStockType",
    False,
    "A_MatlStkInAcctModType",
    True,
    (("Material", "Material"),),
)

_MATERIAL_STOCK = EntityType(
    "A_MaterialStockType",
    "Material Master",
    props("""
        *Material        | C40  | Material | Material Number
        MaterialBaseUnit | UNIT | Base Unit of Measure
    """),
    (Nav("to_MatlStkInAcctMod", _STOCK_OF_MATERIAL, forward=True),),
)

_MATL_STK_IN_ACCT_MOD = EntityType(
    "A_MatlStkInAcctModType",
    "Material Stock",
    props("""
        *Material                     | C40  | Stock Material | Material in Respect of Which Stock is Managed
        *Plant                        | C4   | Plant
        *StorageLocation              | C4   | Storage Location
        *Batch                        | C10  | Batch SID | Batch Number (Stock Identifier)
        *Supplier                     | C10  | Supplier SID | Supplier for Special Stock
        *Customer                     | C10  | Customer SID | Customer for Special Stock
        *WBSElementInternalID         | N8   | WBS Internal ID | WBS Element
        *SDDocument                   | C10  | Sales order | Sales order number of valuated sales order stock
        *SDDocumentItem               | N6   | Sales order item | Sales Order Item of Valuated Sales Order Stock
        *InventorySpecialStockType    | C1   | Special Stock Type
        *InventoryStockType           | C2   | Stock Type | Stock Type of Goods Movement (Stock Identifier)
        WBSElementExternalID          | C24  | WBS Element | Work Breakdown Structure Element (WBS Element) Edited
        MaterialBaseUnit              | UNIT | Base Unit of Measure
        MatlWrhsStkQtyInMatlBaseUnit  | DEC31.14:MaterialBaseUnit
    """),
    (Nav("to_MaterialStock", _STOCK_OF_MATERIAL, forward=False),),
)

MATERIAL_STOCK_SERVICE = Service(
    "API_MATERIAL_STOCK_SRV",
    (
        EntitySet("A_MaterialStock", _MATERIAL_STOCK),
        EntitySet("A_MatlStkInAcctMod", _MATL_STK_IN_ACCT_MOD),
    ),
    "1.1.0",
)

# --- API_MATERIAL_DOCUMENT_SRV --------------------------------------------------

_ITEMS_OF_HEADER = Association(
    "assoc_9241EE3C64DC6370D0509D8AA8DA2241",
    "A_MaterialDocumentHeaderType",
    False,
    "A_MaterialDocumentItemType",
    True,
    (
        ("MaterialDocumentYear", "MaterialDocumentYear"),
        ("MaterialDocument", "MaterialDocument"),
    ),
)

_HEADER = EntityType(
    "A_MaterialDocumentHeaderType",
    "Document Header",
    props("""
        *MaterialDocumentYear       | N4   | Material Document Year
        *MaterialDocument           | C10  | Material Document | Number of Material Document
        InventoryTransactionType    | C2   | Transaction/Event Type
        DocumentDate                | DATE | Document Date | Document Date in Document
        PostingDate                 | DATE | Posting Date | Posting Date in the Document
        CreationDate                | DATE | Entry Date | Day On Which Accounting Document Was Entered
        CreationTime                | TIME | Time of Entry
        CreatedByUser               | C12  | User Name
        MaterialDocumentHeaderText  | T25  | Document Header Text
        ReferenceDocument           | C16  | Reference | Reference Document Number
        VersionForPrintingSlip      | C1   | Print Version | Version for Printing GR/GI Slip
        ManualPrintIsTriggered      | C1   | Print Active | Print via Output Control
        CtrlPostgForExtWhseMgmtSyst | C1   | External WMS Control | Control Posting for External WMS
        GoodsMovementCode           | C2   | Goods Movement Code
    """),
    (Nav("to_MaterialDocumentItem", _ITEMS_OF_HEADER, forward=True),),
)

_SCHEMA_1_3_ONLY = ("BatchBySupplier", "ReservationItemRecordType", "DebitCreditCode")

_ITEM = EntityType(
    "A_MaterialDocumentItemType",
    "Document Items",
    props("""
        *MaterialDocumentYear          | N4   | Material Document Year
        *MaterialDocument              | C10  | Material Document | Number of Material Document
        *MaterialDocumentItem          | N4   | Material Document Item
        Material                       | C40  | Material | Material Number
        Plant                          | C4   | Plant
        StorageLocation                | C4   | Storage Location
        Batch                          | C10  | Batch | Batch Number
        BatchBySupplier                | C15  | Supplier Batch | Supplier Batch Number
        GoodsMovementType              | C3   | Movement Type | Movement Type (Inventory Management)
        InventoryStockType             | C2   | Stock Type | Stock Type of Goods Movement (Stock Identifier)
        InventoryValuationType         | C10  | Valuation Type
        InventorySpecialStockType      | C1   | Special Stock Type
        Supplier                       | C10  | Supplier | Supplier's Account Number
        Customer                       | C10  | Customer | Account Number of Customer
        SalesOrder                     | C10  | Sales Order | Sales Order Number
        SalesOrderItem                 | N6   | Sales Order Item
        SalesOrderScheduleLine         | N4   | Sales Order Schedule
        PurchaseOrder                  | C10  | Purchase Order | Purchase Order Number
        PurchaseOrderItem              | N5   | Purchase Order Item | Item Number of Purchasing Document
        WBSElement                     | C24  | WBS Element | Work Breakdown Structure Element (WBS Element)
        ManufacturingOrder             | C12  | Manufacturing Order
        ManufacturingOrderItem         | N4   | Manufacturing Order Item
        GoodsMovementRefDocType        | C1   | Reference Document Type | Goods Movement Reference Document Type
        GoodsMovementReasonCode        | N4   | Reason for Movement
        Delivery                       | C10  | Delivery
        DeliveryItem                   | N6   | Delivery Item
        AccountAssignmentCategory      | C1   | Account Assignment Category
        CostCenter                     | C10  | Cost Center
        ControllingArea                | C4   | Controlling Area
        CostObject                     | C12  | Cost Object
        GLAccount                      | C10  | G/L Account | G/L Account Number
        FunctionalArea                 | C16  | Functional Area
        ProfitabilitySegment           | C10  | Profitability Segment
        ProfitCenter                   | C10  | Profit Center
        MasterFixedAsset               | C12  | Asset | Main Asset Number
        FixedAsset                     | C4   | Asset Subnumber
        MaterialBaseUnit               | UNIT | Base Unit of Measure
        QuantityInBaseUnit             | DEC13.3:MaterialBaseUnit | Quantity
        EntryUnit                      | UNIT | Unit of Entry
        QuantityInEntryUnit            | DEC13.3:EntryUnit | Quantity in Entry Unit | Quantity in Unit of Entry
        CompanyCodeCurrency            | CURR5 | Company Code Currency
        GdsMvtExtAmtInCoCodeCrcy       | DEC14.3:CompanyCodeCurrency | External Amount in LC | Externally Entered Posting Amount in Local Currency
        SlsPrcAmtInclVATInCoCodeCrcy   | DEC14.3:CompanyCodeCurrency | Sales Value Including VAT | Sales Value Including Value-Added Tax
        FiscalYear                     | N4   | Fiscal Year
        FiscalYearPeriod               | N7   | Fiscal Year & Period from Posting date | Period Year
        FiscalYearVariant              | C2   | Fiscal Year Variant
        IssgOrRcvgMaterial             | C40  | Transfer Material
        IssgOrRcvgBatch                | C10  | Transfer Batch
        IssuingOrReceivingPlant        | C4   | Rec/Iss Plant | Receiving/Issuing Plant
        IssuingOrReceivingStorageLoc   | C4   | Storage Location | Receiving/Issuing Storage Location
        IssuingOrReceivingStockType    | C2   | Transfer Stock Type
        IssgOrRcvgSpclStockInd         | C1   | Transfer Special Stock Type
        IssuingOrReceivingValType      | C10  | Transfer Batch (Valuation Type)
        IsCompletelyDelivered          | BOOL | Delivery Completed | "Delivery Completed" Indicator
        MaterialDocumentItemText       | T50  | Text | Item Text
        GoodsRecipientName             | T12  | Goods Recipient
        UnloadingPointName             | T25  | Unloading Point
        ShelfLifeExpirationDate        | DATE | SLED/BBD | Shelf Life Expiration or Best-Before Date
        ManufactureDate                | DATE | Date of Manufacture
        SerialNumbersAreCreatedAutomly | BOOL | Create Serial Number Automatically
        Reservation                    | N10  | Reservation | Number of Reservation/Dependent Requirements
        ReservationItem                | N4   | Reservation Item | Item Number of Reservation / Dependent Requirements
        ReservationItemRecordType      | C1   | Reservation Record Type
        ReservationIsFinallyIssued     | BOOL | Final-Issue Reservation | Final Issue for Reservation
        SpecialStockIdfgSalesOrder     | C10  | Sales Order | Sales Order Number of Valuated Sales Order Stock
        SpecialStockIdfgSalesOrderItem | N6   | Sales Order Item | Sales Order Item of Valuated Sales Order Stock
        SpecialStockIdfgWBSElement     | C24  | WBS Element | Work Breakdown Structure Element (WBS Element)
        IsAutomaticallyCreated         | C1   | Automatically Created | Item Automatically Created Indicator
        MaterialDocumentLine           | N6   | Line ID | Unique Identification of Document Line
        MaterialDocumentParentLine     | N6   | Parent line ID | Identifier of immediately superior line
        HierarchyNodeLevel             | N2   | Hierarchy Level | Hierarchy Level of Line in Document
        GoodsMovementIsCancelled       | BOOL | Is Item Cancelled | Item has been Cancelled
        ReversedMaterialDocumentYear   | N4   | Reversed Document Year | Reversed Material Document Year
        ReversedMaterialDocument       | C10  | Reversed Material Document
        ReversedMaterialDocumentItem   | N4   | Reversed Document Item | Reversed Material Document Item
        ReferenceDocumentFiscalYear    | N4   | Fiscal Year (Reference Document) | Fiscal Year of a Reference Document
        InvtryMgmtRefDocumentItem      | N4   | Reference Document Item | Item of a Reference Document
        InvtryMgmtReferenceDocument    | C10  | Reference Document | Document No. of a Reference Document
        MaterialDocumentPostingType    | C1   | Type of Posting | Reversal, Return Delivery or Transfer Posting
        InventoryUsabilityCode         | C1   | Posting Control Stock Type
        EWMWarehouse                   | C4   | Warehouse Number | Warehouse Number/Warehouse Complex
        EWMStorageBin                  | C18  | Storage Bin
        DebitCreditCode                | C1   | Debit/Credit Indicator
    """),
    (Nav("to_MaterialDocumentHeader", _ITEMS_OF_HEADER, forward=False),),
)


def material_document_service(*, debit_credit_code: bool = True) -> Service:
    """Schema 1.3.0 (with DebitCreditCode), or 1.2.0 without it and its siblings."""
    item = _ITEM
    if not debit_credit_code:
        kept = tuple(p for p in _ITEM.props if p.name not in _SCHEMA_1_3_ONLY)
        item = EntityType(_ITEM.name, _ITEM.label, kept, _ITEM.navs)
    return Service(
        "API_MATERIAL_DOCUMENT_SRV",
        (
            EntitySet("A_MaterialDocumentHeader", _HEADER, creatable=True),
            EntitySet("A_MaterialDocumentItem", item),
        ),
        "1.3.0" if debit_credit_code else "1.2.0",
    )


# --- API_PRODUCT_SRV (units of measure only) ------------------------------------

_UNITS_OF_MEASURE = EntityType(
    "A_ProductUnitsOfMeasureType",
    "Units of Measure",
    props("""
        *Product                      | C40  | Product | Product Number
        *AlternativeUnit              | UNIT | Alternative Unit | Alternative Unit of Measure for Stockkeeping Unit
        QuantityNumerator             | DEC5.0:BaseUnit | Numerator | Numerator for Conversion to Base Units of Measure
        QuantityDenominator           | DEC5.0:AlternativeUnit | Denominator | Denominator for conversion to base units of measure
        MaterialVolume                | DEC13.3:VolumeUnit | Volume
        VolumeUnit                    | UNIT | Volume unit
        GrossWeight                   | DEC13.3:WeightUnit | Gross Weight
        WeightUnit                    | UNIT | Unit of Weight
        GlobalTradeItemNumber         | C18  | EAN/UPC | International Article Number (EAN/UPC)
        GlobalTradeItemNumberCategory | C2   | EAN category | Category of International Article Number (EAN)
        LowerLevelPackagingUnit       | UNIT | Lower-Level UoM | Lower-Level Unit of Measure in a Packing Hierarchy
        BaseUnit                      | UNIT | Base Unit of Measure
    """),
)

PRODUCT_SERVICE = Service(
    "API_PRODUCT_SRV",
    (EntitySet("A_ProductUnitsOfMeasure", _UNITS_OF_MEASURE),),
    "1.0.0",
)
