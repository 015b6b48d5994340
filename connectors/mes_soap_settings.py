"""The keys of a `kind: mes_soap` source: one SOAP operation per stream, described.

MES web services differ in everything but their shape, so each stream names
its operation, the arguments to send, how the result is packed and where
its rows and fields are::

    sources:
      mes:
        kind: mes_soap
        wsdl: http://mes.local/MesService.asmx?WSDL
        username: stockbridge
        password: ${MES_PASSWORD}
        operations:
          stock:
            name: GetLineSideStock
            args: [{factoryCode: "1000"}, {factoryCode: "2000"}]   # one call each
            result: dataset              # a .NET DataSet (schema + DiffGram)
            rows_path: Table             # the DataTable (default: the first)
            fields: {material: MaterialCode, site: FactoryCode,
                     warehouse: WarehouseCode, batch: BatchNo,
                     status: QualityStatus, quantity: Qty, reserved: LockQty,
                     unit: Unit}
            status_map: {OK: unrestricted, QC: quality_inspection, HOLD: blocked}
          movements:
            name: GetMaterialTransactions
            result: xml_string           # an XML document inside a string
            rows_path: rows/row          # ElementPath from the document root
            since_arg: since             # gets the entry time to read from
            paging: {index_arg: pageIndex, size_arg: pageSize, size: 1000,
                     total_path: total}
            code_path: code              # the MES's own error code ...
            message_path: message        # ... and message, if it has them
            fields: {document: TransId, line: LineNo, kind: TransType,
                     direction: IoType, ..., posted_at: TransTime,
                     entered_at: CreateTime}
            kinds: {RECEIVE: receipt, CONSUME: production_issue, ...}
            directions: {IN: in, OUT: out}
          materials:
            name: GetMaterialList
            result: json_string          # JSON inside a string
            rows_path: data.rows         # dotted path to the row list
            ...

`fields` maps canonical field names to the MES's column names; `defaults`
gives a constant for a field the MES does not send (say `status:
unrestricted` for an MES without quality status). `status_map` turns the
MES's status codes into stock statuses; unlisted codes, and units, stay the
MES's own for `mapping:` to resolve. `stock` and `movements` are
required, `materials` is optional (without it the source offers no
materials stream).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from stockbridge.connectors.soap import SoapSourceSettings
from stockbridge.mapping.model import MovementKind, StockStatus

__all__ = [
    "MATERIAL_FIELDS",
    "MOVEMENT_FIELDS",
    "STOCK_FIELDS",
    "ArgumentValue",
    "MesMaterialsOperation",
    "MesMovementsOperation",
    "MesOperation",
    "MesOperations",
    "MesPaging",
    "MesSoapSettings",
    "ResultFormat",
]

ResultFormat = Literal["dataset", "xml_string", "json_string"]
ArgumentValue = str | int | bool

# (required, optional) canonical fields of each stream's records
STOCK_FIELDS = (
    ("material", "site", "warehouse", "status", "quantity", "unit"),
    ("location", "batch", "reserved"),
)
MOVEMENT_FIELDS = (
    (
        "document",
        "line",
        "kind",
        "material",
        "site",
        "warehouse",
        "status",
        "quantity",
        "unit",
        "posted_at",
        "entered_at",
    ),
    (
        "year",
        "location",
        "batch",
        "direction",
        "order_ref",
        "reverses_document",
        "reverses_line",
    ),
)
MATERIAL_FIELDS = (
    ("material", "name", "base_unit"),
    ("batch_managed", "safety_stock"),
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MesPaging(_Strict):
    """Page-index paging: which arguments carry the page, and how to stop."""

    index_arg: str = Field(min_length=1)
    size_arg: str = Field(min_length=1)
    size: int = Field(default=1000, ge=1, le=100_000)
    """Rows per call (the MES's own cap, often far below `page_size`)."""
    first_index: int = 1
    total_path: str | None = None
    """Where the result says the total row count; without it, paging stops at
    the first short page."""


class MesOperation(_Strict):
    """One operation and how to read its result."""

    FIELDS: ClassVar[tuple[tuple[str, ...], tuple[str, ...]]] = STOCK_FIELDS
    """(required, optional) fields of the stream's records."""

    name: str = Field(min_length=1)
    args: tuple[dict[str, ArgumentValue], ...] = ({},)
    """Arguments of one call, or a list of them: one call (and its pages) each."""
    result: ResultFormat
    rows_path: str = ""
    """dataset: the DataTable's name (default: the first table); xml_string: an
    ElementPath from the document root (default: the root's children);
    json_string: a dotted path to the row list (default: the document itself)."""
    fields: dict[str, str]
    defaults: dict[str, str] = Field(default_factory=dict)
    status_map: dict[str, StockStatus] = Field(default_factory=dict)
    """The MES's status codes as stock statuses; a code not listed passes
    through raw for the mapping's status table."""
    paging: MesPaging | None = None
    code_path: str | None = None
    """Where an XML/JSON result keeps the MES's status code, if it has one."""
    ok_codes: tuple[str, ...] = ("0",)
    message_path: str | None = None

    @field_validator("args", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _known_fields(self) -> Self:
        required, optional = self.FIELDS
        for name in (*self.fields, *self.defaults):
            if name not in (*required, *optional):
                msg = f"unknown field {name!r}; expected one of {', '.join((*required, *optional))}"
                raise ValueError(msg)
        if self.status_map and "status" not in (*required, *optional):
            msg = "status_map is for operations whose rows have a status"
            raise ValueError(msg)
        missing = [
            f for f in required if f not in self.fields and f not in self.defaults
        ]
        if missing:
            msg = f"fields (or defaults) must name {', '.join(missing)}"
            raise ValueError(msg)
        if self.result == "dataset" and (
            self.code_path or (self.paging and self.paging.total_path)
        ):
            msg = "a dataset result has no code_path or total_path"
            raise ValueError(msg)
        return self


class MesMovementsOperation(MesOperation):
    """The movements operation: rows entered at or after `since_arg`, in entry order."""

    FIELDS = MOVEMENT_FIELDS

    since_arg: str = Field(min_length=1)
    """The argument that gets the entry time to read from (the MES's local time)."""
    kinds: dict[str, MovementKind] = Field(default_factory=dict)
    """The MES's transaction types to movement kinds; a type that is already a
    kind name (receipt, issue, ...) needs no entry."""
    directions: dict[str, Literal["in", "out"]] = Field(default_factory=dict)
    """Values of the `direction` field; without that field, quantities are
    taken as signed by the MES."""

    @model_validator(mode="after")
    def _direction_values(self) -> Self:
        if ("direction" in self.fields) != bool(self.directions):
            msg = "a direction field and its directions table come together"
            raise ValueError(msg)
        return self


class MesMaterialsOperation(MesOperation):
    """The material master operation."""

    FIELDS = MATERIAL_FIELDS


class MesOperations(_Strict):
    stock: MesOperation
    movements: MesMovementsOperation
    materials: MesMaterialsOperation | None = None


class MesSoapSettings(SoapSourceSettings):
    """The keys of a `kind: mes_soap` source."""

    operations: MesOperations
    movements_from: datetime = datetime(2000, 1, 1)  # noqa: DTZ001 - MES local time
    """Entry time (MES local) a first movements pull starts from."""
