"""What a `kind: mes_rest` source reads: its streams, their fields and their paging.

Each stream names its endpoint, its paging (or the source's), where every
canonical field is in a row (dotted paths), constants for what the rows do
not say, and the system's status and movement-type codes. Everything is
checked here, so a typo is a config error at its key path: an unknown field
name gets a "did you mean", a missing required field is named, and keys
that do not apply to a paging style are refused. No value can be a float.
"""

from __future__ import annotations

import difflib
import re
from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)
from typing_extensions import TypeAliasType

from stockbridge.connectors.mes_rest_values import ISO, PATH_PATTERN
from stockbridge.mapping.model import MovementKind, StockStatus

__all__ = [
    "DirectionSettings",
    "FanOutSettings",
    "FieldPathText",
    "MovementStreamSettings",
    "PaginationSettings",
    "ParamName",
    "ParamValue",
    "Scalar",
    "SettingsBlock",
    "StockFieldSettings",
    "StockStreamSettings",
    "StreamsSettings",
    "api_location",
    "check_keys",
]

FieldPathText = Annotated[str, Field(pattern=PATH_PATTERN)]
ParamName = Annotated[str, Field(min_length=1, max_length=200)]
Scalar = StrictBool | StrictInt | StrictStr
ParamValue = TypeAliasType(
    "ParamValue", "Scalar | list[ParamValue] | dict[str, ParamValue] | None"
)
"""A request parameter or JSON body value: no floats, so no digit is ever changed."""

_SAMPLE_MOMENT = datetime(2001, 2, 3, 4, 5, 6)  # noqa: DTZ001 - only formatted


class SettingsBlock(BaseModel):
    """A block of a source's settings: frozen, unknown keys refused, inputs never echoed."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


def check_keys(
    block: BaseModel, what: str, allowed: frozenset[str], required: frozenset[str]
) -> None:
    """Refuse keys that do not apply to the chosen type, and name the missing ones."""
    stray = sorted(block.model_fields_set - allowed - {"type", "style"})
    missing = sorted(k for k in required if getattr(block, k) in (None, "", {}))
    if stray or missing:
        takes = ", ".join(sorted(allowed)) or "no other keys"
        problems = [f"remove {', '.join(stray)}"] if stray else []
        problems += [f"add {', '.join(missing)}"] if missing else []
        msg = f"the keys of {what} ({takes}): {'; '.join(problems)}"
        raise ValueError(msg)


def api_location(value: str) -> str:
    if not value.startswith(("/", "http://", "https://")):
        msg = "a path starting with / (under url) or an http(s):// URL"
        raise ValueError(msg)
    return value


def checked_time_format(value: str) -> str:
    """`iso`, or a strftime pattern that parses what it writes."""
    if value == ISO:
        return value
    try:
        written = _SAMPLE_MOMENT.strftime(value)
        datetime.strptime(written, value)  # noqa: DTZ007 - a round trip, no zone involved
    except ValueError:
        written = ""
    if "%" not in value or not written:
        msg = f"'iso' or a strptime format such as '%Y-%m-%d %H:%M:%S', not {value!r}"
        raise ValueError(msg)
    return value


TimeFormat = Annotated[str, Field(min_length=1)]


# --- pagination -------------------------------------------------------------------

_STYLE_KEYS = {
    "none": frozenset({"items_path"}),
    "page": frozenset(
        {"size", "size_param", "page_param", "first_page", "items_path", "total_path"}
    ),
    "offset": frozenset(
        {"size", "size_param", "offset_param", "items_path", "total_path"}
    ),
    "cursor": frozenset(
        {"size", "size_param", "cursor_param", "next_path", "items_path"}
    ),
    "link": frozenset({"size", "size_param", "next_path", "items_path"}),
    "after_id": frozenset(
        {"size", "size_param", "cursor_param", "id_path", "items_path"}
    ),
}
_STYLE_REQUIRED = {
    "none": frozenset(),
    "page": frozenset(),
    "offset": frozenset(),
    "cursor": frozenset({"next_path"}),
    "link": frozenset(),
    "after_id": frozenset({"id_path"}),
}
_SIZE_PARAM = {
    "page": "pageSize",
    "offset": "limit",
    "cursor": "limit",
    "after_id": "limit",
}


class PaginationSettings(SettingsBlock):
    """How a listing is paged; each `style` takes its own keys.

    - `page`: `page_param` from `first_page` and `size_param`; ends on an empty
      or short page, or when `total_path` says all rows came.
    - `offset`: `offset_param` from 0 and `size_param`; ends likewise.
    - `cursor`: the reply's `next_path` is sent back as `cursor_param`; ends
      when it is empty.
    - `link`: the reply's `next_path` (or the HTTP `Link: rel="next"` header)
      is the next page's URL; ends when there is none.
    - `after_id`: the last row's `id_path` is sent as `cursor_param`
      (简道云's `data_id`); ends on a short page.
    - `none`: one call returns everything.

    Paths are inside the envelope's data; `items_path: null` means the data
    is the list itself. `size` is rows asked per call (keep it within the
    server's cap), apart from the connector's `page_size`.
    """

    style: Literal["none", "page", "offset", "cursor", "link", "after_id"] = "none"
    size: int = Field(default=100, ge=1, le=10_000)
    size_param: ParamName | None = None
    """Default: pageSize (page), limit (offset, cursor, after_id); link: none sent."""
    page_param: ParamName = "pageNo"
    first_page: int = Field(default=1, ge=0)
    offset_param: ParamName = "offset"
    cursor_param: ParamName = "cursor"
    next_path: FieldPathText | None = None
    id_path: FieldPathText | None = None
    items_path: FieldPathText | None = None
    total_path: FieldPathText | None = None

    @model_validator(mode="after")
    def _keys_of_style(self) -> PaginationSettings:
        check_keys(
            self,
            f"pagination style {self.style!r}",
            _STYLE_KEYS[self.style],
            _STYLE_REQUIRED[self.style],
        )
        return self

    @property
    def size_parameter(self) -> str | None:
        return self.size_param or _SIZE_PARAM.get(self.style)


# --- streams --------------------------------------------------------------------


class FanOutSettings(SettingsBlock):
    """One listing per value of `param` (say one per factory), read one after another."""

    param: ParamName
    values: tuple[StrictStr, ...] = Field(min_length=1)

    @field_validator("values")
    @classmethod
    def _distinct(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(values)) != len(values):
            msg = "distinct values (one listing each)"
            raise ValueError(msg)
        return values


def _unknown_names(given: set[str], known: frozenset[str], what: str) -> None:
    stray = sorted(given - known)
    if not stray:
        return
    hints = []
    for name in stray:
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    msg = f"{what} among {', '.join(sorted(known))}; not {', '.join(hints)}"
    raise ValueError(msg)


class StockFieldSettings(SettingsBlock):
    """Where each canonical stock field is in a row, and what to assume when it is not.

    `fields` maps a canonical field to a dotted path in the row; `defaults`
    gives a constant for a text field that is not mapped or comes empty (a
    form of one site: `defaults: {site: "1000"}`). `status_map` turns the
    system's status codes into canonical ones; an unlisted code passes as is
    for the status crosswalk to resolve.
    """

    required: ClassVar[frozenset[str]] = frozenset(
        {"material", "site", "warehouse", "quantity", "unit", "status"}
    )
    numbers: ClassVar[frozenset[str]] = frozenset({"quantity", "reserved"})
    times: ClassVar[frozenset[str]] = frozenset({"as_of"})
    texts: ClassVar[frozenset[str]] = frozenset(
        {"material", "site", "warehouse", "location", "batch", "unit", "status",
         "special_stock"}
    )  # fmt: skip

    fields: dict[str, FieldPathText]
    defaults: dict[str, StrictStr] = Field(default_factory=dict)
    status_map: dict[str, StockStatus] = Field(default_factory=dict)
    time_format: TimeFormat = "%Y-%m-%d %H:%M:%S"
    """Times' format: a strptime pattern, or 'iso'; naive times are in the source's zone."""

    @field_validator("fields")
    @classmethod
    def _canonical_fields(cls, fields: dict[str, str]) -> dict[str, str]:
        _unknown_names(set(fields), cls.texts | cls.numbers | cls.times, "field names")
        return fields

    @field_validator("defaults")
    @classmethod
    def _text_defaults(cls, defaults: dict[str, str]) -> dict[str, str]:
        _unknown_names(set(defaults), cls.texts, "text fields")
        return defaults

    @field_validator("time_format")
    @classmethod
    def _format(cls, value: str) -> str:
        return checked_time_format(value)

    @model_validator(mode="after")
    def _required_fields(self) -> StockFieldSettings:
        missing = sorted(self.required - set(self.fields) - set(self.defaults))
        if missing:
            msg = f"a field path or a default for {', '.join(missing)}"
            raise ValueError(msg)
        return self


class _Endpoint(SettingsBlock):
    path: str
    """Under the source's url (`/api/v1/lineside/stock`), or an absolute URL."""
    method: Literal["GET", "POST"] = "GET"
    """POST sends the parameters, paging included, as a JSON body."""
    params: dict[ParamName, ParamValue] = Field(default_factory=dict)
    fan_out: FanOutSettings | None = None
    pagination: PaginationSettings | None = None
    """This stream's paging when it differs from the source's."""

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return api_location(value)

    def _check_params(self) -> None:
        if self.method == "GET":
            for name, value in self.params.items():
                items = value if isinstance(value, list) else [value]
                if any(isinstance(item, dict | list) for item in items):
                    msg = (
                        f"params.{name}: a GET parameter is a value or a list of values"
                    )
                    raise ValueError(msg)


class StockStreamSettings(StockFieldSettings, _Endpoint):
    """The stock listing of the MES (line-side stock per warehouse, lot, status)."""

    @model_validator(mode="after")
    def _get_params(self) -> StockStreamSettings:
        self._check_params()
        return self


class DirectionSettings(SettingsBlock):
    """Which values of `field` mean into (`in`) and out of (`out`) the row's warehouse."""

    field: FieldPathText
    inward: tuple[StrictStr, ...] = Field(alias="in", min_length=1)
    outward: tuple[StrictStr, ...] = Field(alias="out", min_length=1)

    @field_validator("inward", "outward", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _disjoint(self) -> DirectionSettings:
        both = set(self.inward) & set(self.outward)
        if both:
            msg = f"in and out values that differ; both have {', '.join(sorted(both))}"
            raise ValueError(msg)
        return self


_ID_GROUPS = frozenset({"document", "line", "year"})


class MovementStreamSettings(_Endpoint):
    """The transaction listing, read incrementally on `cursor_field`.

    Rows must come in `cursor_field` order; `cursor_param` asks for rows at
    or after a value (inclusive is fine: sync dedups on the key). The key is
    (document, line, year): map them, or map `document` to a combined id and
    split it with `id_pattern`'s named groups (the same split applies to
    `reverses`). Without `direction` the quantity is taken as already signed.
    """

    required: ClassVar[frozenset[str]] = frozenset(
        {"document", "line", "kind", "material", "site", "warehouse", "quantity",
         "unit", "status", "posted_at"}
    )  # fmt: skip
    numbers: ClassVar[frozenset[str]] = frozenset({"quantity"})
    times: ClassVar[frozenset[str]] = frozenset({"posted_at", "entered_at"})
    texts: ClassVar[frozenset[str]] = frozenset(
        {"document", "line", "year", "kind", "material", "site", "warehouse",
         "location", "batch", "unit", "status", "reverses", "order_ref"}
    )  # fmt: skip
    defaultable: ClassVar[frozenset[str]] = frozenset(
        {"year", "kind", "site", "warehouse", "location", "batch", "unit", "status"}
    )

    fields: dict[str, FieldPathText]
    defaults: dict[str, StrictStr] = Field(default_factory=dict)
    status_map: dict[str, StockStatus] = Field(default_factory=dict)
    time_format: TimeFormat = "%Y-%m-%d %H:%M:%S"
    cursor_param: ParamName | None = None
    """The parameter asking for rows from a cursor value on (`since`)."""
    cursor_field: FieldPathText | None = None
    """The row's entry time the cursor follows (`createTime`): it must only grow."""
    cursor_format: TimeFormat | None = None
    """How `cursor_field` and `cursor_param` are written; default: `time_format`."""
    id_pattern: str | None = None
    direction: DirectionSettings | None = None
    kinds: dict[str, MovementKind] = Field(default_factory=dict)
    """The system's movement types to canonical kinds."""

    @field_validator("fields")
    @classmethod
    def _canonical_fields(cls, fields: dict[str, str]) -> dict[str, str]:
        _unknown_names(set(fields), cls.texts | cls.numbers | cls.times, "field names")
        return fields

    @field_validator("defaults")
    @classmethod
    def _text_defaults(cls, defaults: dict[str, str]) -> dict[str, str]:
        _unknown_names(set(defaults), cls.defaultable, "fields with a default")
        kind = defaults.get("kind")
        if kind is not None and kind not in set(MovementKind):
            msg = f"defaults.kind among {', '.join(MovementKind)}, not {kind!r}"
            raise ValueError(msg)
        return defaults

    @field_validator("time_format", "cursor_format")
    @classmethod
    def _format(cls, value: str | None) -> str | None:
        return None if value is None else checked_time_format(value)

    @field_validator("id_pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            groups = set(re.compile(value).groupindex)
        except re.error as exc:
            msg = f"a regular expression ({exc})"
            raise ValueError(msg) from None
        if "document" not in groups or not groups <= _ID_GROUPS:
            msg = (
                "a pattern with a (?P<document>...) group and optionally "
                f"line and year groups, not groups {sorted(groups) or 'none'}"
            )
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _complete(self) -> MovementStreamSettings:
        self._check_params()
        given = set(self.fields) | set(self.defaults)
        if self.id_pattern is not None:
            given |= set(re.compile(self.id_pattern).groupindex)
        missing = sorted(self.required - given)
        if missing:
            msg = f"a field path or a default for {', '.join(missing)}"
            raise ValueError(msg)
        if self.cursor_param is not None and self.cursor_field is None:
            msg = "a cursor_field (the row's entry time) to go with cursor_param"
            raise ValueError(msg)
        return self

    @property
    def cursor_time_format(self) -> str:
        return self.cursor_format or self.time_format


class StreamsSettings(SettingsBlock):
    """The streams this MES offers; at least one."""

    stock: StockStreamSettings | None = None
    movements: MovementStreamSettings | None = None

    @model_validator(mode="after")
    def _any(self) -> StreamsSettings:
        if self.stock is None and self.movements is None:
            msg = "a stock or a movements stream"
            raise ValueError(msg)
        return self
