"""`reconcile:` and `alerts:` — what to believe, and whom to tell.

`reconcile` picks the consolidated quantity per key: the first
`system_of_record` rule matching the key's site, warehouse and status names
the source to believe; otherwise `fallback` decides (`priority`: the first
source of `priority` that has the key; `freshest`: the newest snapshot).
Differences within `tolerance` (absolute in base units, or relative to the
chosen quantity) are not conflicts. `consumption_days` is the window over
which the planner figures average consumption, and `safety_stock` sets
safety stock per material (a bare quantity: every site) or per material and
site (`"*"`: every other site), overriding the master data's.

`alerts` holds channels and rules with their `kind` required and everything
kind-specific kept for the alerts room to validate. Channel URLs are secrets:
for WeCom, Slack and Teams the URL alone lets anyone post. `lang` is the
language of the messages (a channel may set its own), and `public_url`, when
set, is where messages link to the planners' page.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from stockbridge.config.errors import config_problem, describe_value
from stockbridge.config.fields import Code, DecimalText, Name, PositiveInt
from stockbridge.config.masking import Secret
from stockbridge.config.model_base import OpenModel, StrictModel
from stockbridge.mapping.model import StockStatus

__all__ = [
    "ALL_SITES",
    "AlertRuleConfig",
    "AlertsConfig",
    "ChannelConfig",
    "ReconcileConfig",
    "SystemOfRecordRule",
    "Tolerance",
]


ALL_SITES = "*"
"""The site key of a safety stock that applies to every site not listed."""


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str | int | float) else value


def _per_site(value: object) -> object:
    """A bare quantity is the safety stock of every site: `"50"` is `{"*": "50"}`."""
    return {ALL_SITES: value} if isinstance(value, str | int | float) else value


def _micro_units(value: Decimal) -> Decimal:
    """The store keeps six decimals; it refuses, not rounds, anything finer."""
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -6:
        raise config_problem("a quantity with at most 6 decimals", f"'{value}'")
    return value


SafetyStockQuantity = Annotated[DecimalText, Field(ge=0), AfterValidator(_micro_units)]


class SystemOfRecordRule(StrictModel):
    """`source` owns the keys matching every condition given (a list: any of)."""

    source: Name
    site: Annotated[list[Code], BeforeValidator(_as_list)] = Field(default_factory=list)
    warehouse: Annotated[list[Code], BeforeValidator(_as_list)] = Field(
        default_factory=list
    )
    status: Annotated[list[StockStatus], BeforeValidator(_as_list)] = Field(
        default_factory=list
    )


class Tolerance(StrictModel):
    """Differences this small are agreement, not conflict."""

    absolute: Annotated[DecimalText, Field(ge=0)] = Decimal(0)
    relative: Annotated[DecimalText, Field(ge=0, le=1)] = Decimal(0)
    """A fraction of the chosen quantity: "0.01" is 1 %."""


class ReconcileConfig(StrictModel):
    """The policy that chooses one quantity when sources disagree."""

    system_of_record: list[SystemOfRecordRule] = Field(default_factory=list)
    priority: list[Name] = Field(default_factory=list)
    fallback: Literal["priority", "freshest"] = "priority"
    tolerance: Tolerance = Field(default_factory=Tolerance)
    consumption_days: PositiveInt = 30
    """Average daily consumption is taken over this many days back."""
    safety_stock: dict[
        Code,
        Annotated[
            dict[Code, SafetyStockQuantity],
            BeforeValidator(_per_site),
        ],
    ] = Field(default_factory=dict)
    """Material -> site (or "*") -> quantity in the base unit."""


class ChannelConfig(OpenModel):
    """A chat destination; kind-specific keys stay in `options`."""

    kind: Name
    url: Secret | None = None
    secret: Secret | None = None
    """The signing secret (DingTalk SEC..., Feishu, signed webhooks)."""


class AlertRuleConfig(OpenModel):
    """An alert rule; kind-specific keys (thresholds, filters) stay in `options`."""

    kind: Name
    channels: list[Name] = Field(default_factory=list)


def _public_url(value: object) -> str:
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return value.rstrip("/")
    raise config_problem(
        "the http(s) address planners open, e.g. https://stock.example.com",
        describe_value(value),
    )


class AlertsConfig(StrictModel):
    """Chat channels by name, and the rules that post to them."""

    lang: Literal["zh", "en"] = "zh"
    public_url: Annotated[str, BeforeValidator(_public_url)] | None = None
    channels: dict[Name, ChannelConfig] = Field(default_factory=dict)
    rules: list[AlertRuleConfig] = Field(default_factory=list)
