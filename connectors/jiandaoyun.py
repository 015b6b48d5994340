"""`kind: jiandaoyun`: stock kept in a 简道云 form, read through the v5 open API.

Plants keep side records such as line-side stock counts in 简道云 forms.
This is `kind: mes_rest` with the API's facts filled in (reference §5):
`POST /api/v5/app/entry/data/list` with `app_id`, `entry_id`, `limit` (at
most 100) and `data_id`, the exclusive cursor of the last record's `_id`,
paged until a page comes back shorter than `limit`; `Authorization: Bearer
<API key>`; errors as `{"code", "msg"}` with a non-2xx status. The list
call is limited to 30 requests a second, so that is the default rate budget;
when the limit is hit anyway (other clients share it) the 429, or the
8303 code some gateways send with a 400, is retried after a backoff.

Form fields are widgets (`_widget_1616381880003`) unless aliased, so the
config maps each canonical field to its widget or alias:

    sources:
      counts:
        kind: jiandaoyun
        api_key: ${JDY_API_KEY}
        app_id: 64f1c2a9e4b0a1d2c3e4f501
        entry_id: 64f1c2b7e4b0a1d2c3e4f5a2
        stock:
          fields: {material: _widget_1616381880003, quantity: _widget_1616381880006, ...}
          defaults: {status: unrestricted}
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StrictInt,
    StrictStr,
)

from stockbridge.connectors.base import ConnectorSettings, Page, Stream
from stockbridge.connectors.mes_rest import MesRestConnector
from stockbridge.connectors.mes_rest_settings import MesRestSettings
from stockbridge.connectors.mes_rest_streams import StockFieldSettings

__all__ = ["JiandaoyunConnector", "JiandaoyunSettings"]

DATA_LIST_PATH = "/api/v5/app/entry/data/list"
MAX_LIMIT = 100
RATE_LIMIT_CODE = 8303
"""超出请求频率限制: the rate limit, whatever HTTP status carries it."""
SYSTEM_FIELDS = frozenset(
    {"_id", "appId", "entryId", "creator", "updater", "deleter", "createTime",
     "updateTime", "deleteTime"}
)  # fmt: skip
"""Record fields that are not widgets: the `fields` list of a request cannot name them."""

_COMMON_KEYS = set(ConnectorSettings.model_fields)
"""The settings every connector has, handed on to the MES REST settings as they are."""
_FilterValue = StrictBool | StrictInt | StrictStr


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class FilterCondition(_Block):
    """One condition of the API's data filter."""

    field: str = Field(min_length=1)
    method: Literal["eq", "ne", "in", "nin", "range", "empty", "not_empty"]
    value: _FilterValue | list[_FilterValue | None] | None = None


class FormFilter(_Block):
    """`{"rel": "and", "cond": [...]}`: which records of the form to read."""

    rel: Literal["and", "or"] = "and"
    cond: tuple[FilterCondition, ...] = Field(min_length=1)


class JiandaoyunStockSettings(StockFieldSettings):
    """The canonical stock fields by widget id or alias; times default to the API's ISO."""

    time_format: str = "iso"
    filter: FormFilter | None = None


class JiandaoyunSettings(ConnectorSettings):
    """The keys of a `kind: jiandaoyun` source."""

    url: str = Field(default="https://api.jiandaoyun.com", min_length=8)
    api_key: SecretStr
    app_id: str = Field(min_length=1)
    entry_id: str = Field(min_length=1)
    limit: int = Field(default=MAX_LIMIT, ge=1, le=MAX_LIMIT)
    """Records per request; the API takes at most 100."""
    rate_per_second: float | None = Field(default=30.0, gt=0)
    """The API's published limit for data/list is 30 requests a second."""
    stock: JiandaoyunStockSettings

    def as_mes_rest(self) -> MesRestSettings:
        """The same source described as a generic MES REST source."""
        stock = self.stock
        heads = {path.split(".", 1)[0] for path in stock.fields.values()}
        body: dict[str, Any] = {"app_id": self.app_id, "entry_id": self.entry_id}
        if not heads & SYSTEM_FIELDS:  # system fields come only with the full record
            body["fields"] = sorted(heads)
        if stock.filter is not None:
            body["filter"] = stock.filter.model_dump()
        return MesRestSettings.model_validate(
            {
                **self.model_dump(include=_COMMON_KEYS),
                "url": self.url.rstrip("/"),
                "auth": {"type": "bearer", "token": self.api_key},
                "envelope": {
                    "success_path": None,
                    "code_path": "code",
                    "message_path": "msg",
                    "data_path": None,
                    "retry_values": [RATE_LIMIT_CODE],
                },
                "pagination": {
                    "style": "after_id",
                    "size": self.limit,
                    "size_param": "limit",
                    "cursor_param": "data_id",
                    "id_path": "_id",
                    "items_path": "data",
                },
                "streams": {
                    "stock": {
                        **stock.model_dump(exclude={"filter"}),
                        "path": DATA_LIST_PATH,
                        "method": "POST",
                        "params": body,
                    }
                },
            }
        )


class JiandaoyunConnector(MesRestConnector):
    """Reads the stock records of one 简道云 form."""

    kind = "jiandaoyun"
    settings_model: ClassVar[type[ConnectorSettings]] = JiandaoyunSettings
    streams: ClassVar[frozenset[Stream]] = frozenset({Stream.STOCK})
    unit_vocabularies = ("cn",)

    def __init__(
        self, name: str, settings: JiandaoyunSettings, *, timezone: str
    ) -> None:
        super().__init__(name, settings.as_mes_rest(), timezone=timezone)
        self.form_settings = settings

    def movements(self, cursor: str | None, *, lookback: timedelta) -> Iterator[Page]:
        raise NotImplementedError(self._no_stream(Stream.MOVEMENTS))
