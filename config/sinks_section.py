"""`sinks:` — where the consolidated table goes besides the central store.

Each sink has a name, a `kind` and that kind's keys; `enabled: false` keeps
it out of a plain `stockbridge push`. The kinds:

- `reporting_table`: the table in a reporting database (any SQLAlchemy
  URL), replaced in one transaction or upserted by key.
- `mes_push`: the rows POSTed in batches to an MES REST endpoint, through
  the connection (URL, auth, envelope) of a `mes_rest` source named by
  `source`.
- `k3cloud_save`: the rows saved as the entries of bills of a K3 Cloud form
  (then optionally submitted and audited), through the login of a `k3cloud`
  source named by `source`.

Write-back sinks shape each row with a template: a mapping whose text
values may hold placeholders such as `{material}` or `{quantity}` (see
`PLACEHOLDERS`; `{source.NAME}` is one source's own figure). Quantities
come out as decimal text, never as floats, so a template must not contain
YAML floats either. `codes` translates canonical codes into the target's
(`warehouse: {RM01: CK001}`); a code missing from a table given there stops
the push before anything is sent. `select` chooses rows; with `difference`
it keeps the rows where the consolidated quantity is above (`positive`) or
below (`negative`) one source's figure, and `{difference}` is the size of
the gap: what an adjustment bill must book to bring that system in line.

Like sources and alert channels, a sink's kind-specific keys stay in
`options` when the file is read; `sink_settings` validates them, located in
the file, when a sink is used (and `config check` can call it for all).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from stockbridge.config.errors import (
    ConfigError,
    ConfigProblem,
    config_problem,
    describe_value,
)
from stockbridge.config.fields import Code, DatabaseUrl, Name, PositiveInt
from stockbridge.config.model_base import OpenModel, StrictModel
from stockbridge.mapping.model import StockStatus

if TYPE_CHECKING:  # `Settings` holds `SinkConfig`: only its type is needed here
    from stockbridge.config.models import Settings

__all__ = [
    "CODE_COLUMNS",
    "PLACEHOLDER",
    "PLACEHOLDERS",
    "SINK_KINDS",
    "CodeColumn",
    "DifferenceRule",
    "K3CloudSaveSettings",
    "MesPushSettings",
    "ReportingTableSettings",
    "RowSelection",
    "SinkConfig",
    "SinkSettings",
    "sink_settings",
]

SINK_KINDS = ("reporting_table", "mes_push", "k3cloud_save")
SOURCE_KIND = {"mes_push": "mes_rest", "k3cloud_save": "k3cloud"}
"""The source kind whose connection each write-back sink uses."""

CodeColumn = Literal[
    "material", "site", "warehouse", "location", "batch", "status", "unit"
]
CODE_COLUMNS: tuple[CodeColumn, ...] = (
    "material", "site", "warehouse", "location", "batch", "status", "unit",
)  # fmt: skip
PLACEHOLDERS = (
    *CODE_COLUMNS,
    "quantity",
    "available",
    "reserved",
    "safety_stock",
    "as_of",
    "difference",
)
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_SOURCE_FIGURE = re.compile(r"source\.[A-Za-z0-9][A-Za-z0-9_-]*")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PREFIX = re.compile(r"[A-Za-z0-9_-]{0,20}")


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str | int) else value


class SinkConfig(OpenModel):
    """One sink; its kind-specific keys stay in `options` until it is used."""

    kind: Literal["reporting_table", "mes_push", "k3cloud_save"]
    enabled: bool = True


class DifferenceRule(StrictModel):
    """Rows where the consolidated quantity is above/below `source`'s figure."""

    source: Name
    sign: Literal["positive", "negative"]


class RowSelection(StrictModel):
    """Which consolidated rows a sink takes (a list: any of; empty: all)."""

    site: Annotated[list[Code], BeforeValidator(_as_list)] = Field(default_factory=list)
    warehouse: Annotated[list[Code], BeforeValidator(_as_list)] = Field(
        default_factory=list
    )
    status: Annotated[list[StockStatus], BeforeValidator(_as_list)] = Field(
        default_factory=list
    )
    conflicts_only: bool = False
    difference: DifferenceRule | None = None


def _table_name(value: object) -> str:
    parts = value.split(".") if isinstance(value, str) else []
    if 1 <= len(parts) <= 2 and all(_IDENTIFIER.fullmatch(p) for p in parts):
        return str(value)
    raise config_problem(
        "a table name of letters, digits and _, optionally after a schema "
        "(reporting.consolidated_stock)",
        describe_value(value),
    )


TableName = Annotated[str, BeforeValidator(_table_name)]


class ReportingTableSettings(StrictModel):
    """The consolidated table copied into a reporting database."""

    url: DatabaseUrl
    table: TableName = "consolidated_stock"
    mode: Literal["replace", "upsert"] = "replace"
    batch_size: PositiveInt = 5000


def _template(value: object, *, row_values: bool) -> object:
    """Check a template: no floats; placeholders known (only constants if not `row_values`)."""
    if isinstance(value, float):
        raise config_problem(
            "text, a whole number, true/false or a mapping",
            describe_value(value),
            'Quote numbers with decimals, e.g. "0.5": a YAML float is inexact.',
        )
    if isinstance(value, dict):
        return {str(k): _template(v, row_values=row_values) for k, v in value.items()}
    if isinstance(value, list):
        return [_template(v, row_values=row_values) for v in value]
    if isinstance(value, str):
        for name in PLACEHOLDER.findall(value):
            if not row_values:
                raise config_problem(
                    "a constant (placeholders are for entry/item templates)",
                    describe_value(value),
                )
            if name not in PLACEHOLDERS and not _SOURCE_FIGURE.fullmatch(name):
                raise config_problem(
                    "placeholders among {" + "}, {".join(PLACEHOLDERS) + "} "
                    "and {source.NAME}",
                    f"{{{name}}} in {describe_value(value)}",
                )
    return value


def _row_template(value: object) -> object:
    if not isinstance(value, dict) or not value:
        raise config_problem(
            "a mapping of field names to values or placeholders", describe_value(value)
        )
    return _template(value, row_values=True)


def _constant_template(value: object) -> object:
    if not isinstance(value, dict):
        raise config_problem(
            "a mapping of field names to values", describe_value(value)
        )
    return _template(value, row_values=False)


RowTemplate = Annotated[dict[str, Any], BeforeValidator(_row_template)]
ConstantTemplate = Annotated[dict[str, Any], BeforeValidator(_constant_template)]


def _uses_difference(template: object) -> bool:
    if isinstance(template, dict):
        return any(_uses_difference(v) for v in template.values())
    if isinstance(template, list):
        return any(_uses_difference(v) for v in template)
    return isinstance(template, str) and "difference" in PLACEHOLDER.findall(template)


def _api_path(value: str) -> str:
    if not value.startswith("/"):
        msg = "a path under the source's url, starting with /"
        raise ValueError(msg)
    return value


def _bill_prefix(value: str) -> str:
    if not _PREFIX.fullmatch(value):
        msg = "at most 20 letters, digits, _ or -"
        raise ValueError(msg)
    return value


class _WriteBack(StrictModel):
    source: Name
    """The source whose connection and login are used."""
    select: RowSelection = Field(default_factory=RowSelection)
    codes: dict[CodeColumn, dict[Code, Code]] = Field(default_factory=dict)
    """Canonical code -> the target's code, per column."""

    def _row_templates(self) -> list[object]:
        return []

    @model_validator(mode="after")
    def _difference_needs_rule(self) -> Self:
        if self.select.difference is None and any(
            _uses_difference(t) for t in self._row_templates()
        ):
            msg = "{difference} needs select.difference (which source, which sign)"
            raise ValueError(msg)
        return self


class MesPushSettings(_WriteBack):
    """Rows POSTed in batches: `{batch_id_key: id, items_key: [item, ...]}`."""

    path: Annotated[str, AfterValidator(_api_path)]
    item: RowTemplate
    batch_size: PositiveInt = 200
    batch_id_key: str = Field(default="batchId", min_length=1)
    items_key: str = Field(default="items", min_length=1)
    duplicate_path: Annotated[str, Field(pattern=r"^[^.\s]+(\.[^.\s]+)*$")] | None = (
        "duplicate"
    )
    """Where the reply's data says a batch was already received (true)."""

    def _row_templates(self) -> list[object]:
        return [self.item]


class K3CloudSaveSettings(_WriteBack):
    """Rows saved as entries of `form_id` bills (Save, then Submit and Audit)."""

    form_id: str = Field(min_length=1)
    entity: str = Field(min_length=1)
    """The entry entity key of the form (FEntity, FBillEntry, FInStockEntry)."""
    entry: RowTemplate
    header: ConstantTemplate = Field(default_factory=dict)
    bill_no_prefix: Annotated[str, AfterValidator(_bill_prefix)] = "SB"
    entries_per_bill: PositiveInt = 100
    submit: bool = False
    audit: bool = False

    def _row_templates(self) -> list[object]:
        return [self.entry]

    @model_validator(mode="after")
    def _audit_after_submit(self) -> Self:
        if self.audit and not self.submit:
            msg = "audit: true needs submit: true (K3 audits submitted bills only)"
            raise ValueError(msg)
        return self


SinkSettings = ReportingTableSettings | MesPushSettings | K3CloudSaveSettings
_MODELS: dict[str, type[SinkSettings]] = {
    "reporting_table": ReportingTableSettings,
    "mes_push": MesPushSettings,
    "k3cloud_save": K3CloudSaveSettings,
}


def sink_settings(settings: Settings, name: str) -> SinkSettings:
    """`sinks.NAME`'s kind-specific keys, validated and located in the file.

    A write-back sink's `source` must be a configured source of the kind it
    writes to. Raises `ConfigError`.
    """
    sink = settings.sinks[name]
    path = ("sinks", name)
    typed = settings.section_settings(
        _MODELS[sink.kind], sink.options, path=path, also_valid=("kind", "enabled")
    )
    if isinstance(typed, ReportingTableSettings):
        return typed
    wanted = SOURCE_KIND[sink.kind]
    source = settings.sources.get(typed.source)
    if source is None or source.kind != wanted:
        found = (
            f"{typed.source!r}, which is not a configured source"
            if source is None
            else f"{typed.source!r}, a {source.kind} source"
        )
        raise ConfigError(
            [
                ConfigProblem(
                    file=settings.file,
                    key_path=(*path, "source"),
                    expected=f"the name of a {wanted} source",
                    found=found,
                    line=settings.line_of((*path, "source")),
                )
            ]
        )
    return typed
