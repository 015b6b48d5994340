"""The `alerts:` config, each rule and channel checked against its kind's keys.

The config room keeps a rule's or channel's kind-specific keys as written;
they are validated here, through `Settings.section_settings`, so a typo in
`alerts.rules[2].older_then` is reported with its file, line and key path
like every other config error. All problems are gathered before raising.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, Field, field_validator

from stockbridge.alerts.channel_base import Channel, ChannelOptions
from stockbridge.alerts.channel_dingtalk import DingTalkChannel
from stockbridge.alerts.channel_feishu import FeishuChannel
from stockbridge.alerts.channel_slack import SlackChannel
from stockbridge.alerts.channel_teams import TeamsChannel
from stockbridge.alerts.channel_webhook import WebhookChannel
from stockbridge.alerts.channel_wecom import WeComChannel
from stockbridge.alerts.messages import Lang
from stockbridge.alerts.notices import Severity
from stockbridge.config.errors import ConfigError, ConfigProblem
from stockbridge.config.fields import Code, DecimalText, Duration, Name, PositiveInt
from stockbridge.config.model_base import StrictModel
from stockbridge.config.models import Settings
from stockbridge.config.schedule import StreamName

__all__ = [
    "CHANNEL_KINDS",
    "RULE_KINDS",
    "AlertRule",
    "AlertSetup",
    "BelowSafetyStockRule",
    "ConflictRule",
    "FailingStreamRule",
    "NegativeStockRule",
    "ProjectedStockoutRule",
    "RejectsRule",
    "RuleOptions",
    "SourceScope",
    "StaleSourceRule",
    "StockScope",
    "load_alert_setup",
]

CHANNEL_KINDS: dict[str, type[Channel]] = {
    "dingtalk": DingTalkChannel,
    "wecom": WeComChannel,
    "feishu": FeishuChannel,
    "lark": FeishuChannel,
    "slack": SlackChannel,
    "teams": TeamsChannel,
    "webhook": WebhookChannel,
}
UNSIGNED_KINDS = frozenset({"wecom", "slack", "teams"})


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str | int) else value


class RuleOptions(StrictModel):
    """Keys every rule has."""

    name: Name | None = None
    """Names the rule in dedup keys and messages; default: its kind."""
    severity: Severity = "warning"
    renotify: Duration = timedelta(hours=4)
    """Repeat a firing alert this often; 0s: never repeat."""


class StockScope(RuleOptions):
    """Which stock the rule watches; an empty list means all."""

    materials: Annotated[list[Code], BeforeValidator(_as_list)] = Field(
        default_factory=list
    )
    sites: Annotated[list[Code], BeforeValidator(_as_list)] = Field(
        default_factory=list
    )
    warehouses: Annotated[list[Code], BeforeValidator(_as_list)] = Field(
        default_factory=list
    )


class SourceScope(RuleOptions):
    """Which sources and streams the rule watches; an empty list means all."""

    sources: Annotated[list[Name], BeforeValidator(_as_list)] = Field(
        default_factory=list
    )
    streams: Annotated[list[StreamName], BeforeValidator(_as_list)] = Field(
        default_factory=list
    )


class BelowSafetyStockRule(StockScope):
    """Available (unrestricted − reserved) per material and site below safety stock."""


class ProjectedStockoutRule(StockScope):
    """Available stock lasts fewer than `days` at the recent rate of consumption.

    The rate is the consolidated table's (over `reconcile.consumption_days`),
    so the alert and the planners' table never disagree.
    """

    days: PositiveInt = 7


class NegativeStockRule(StockScope):
    """A consolidated quantity below zero."""


class ConflictRule(StockScope):
    """An open conflict older than `older_than` or larger than `larger_than`."""

    older_than: Duration | None = None
    larger_than: Annotated[DecimalText, Field(ge=0)] | None = None


class StaleSourceRule(SourceScope):
    """No successful run of a stream for `intervals` of its schedule (or `after`)."""

    intervals: PositiveInt = 3
    after: Duration | None = None


class FailingStreamRule(SourceScope):
    """The last `failures` runs of a stream all failed."""

    failures: PositiveInt = 3


class RejectsRule(SourceScope):
    """More than `above` open (unresolved) rejects for a stream."""

    above: int = Field(ge=0)

    @field_validator("above", mode="before")
    @classmethod
    def _whole_number(cls, value: object) -> object:
        return "not a number" if isinstance(value, bool) else value


RULE_KINDS: dict[str, type[RuleOptions]] = {
    "below_safety_stock": BelowSafetyStockRule,
    "projected_stockout": ProjectedStockoutRule,
    "negative_stock": NegativeStockRule,
    "conflict": ConflictRule,
    "stale_source": StaleSourceRule,
    "failing_stream": FailingStreamRule,
    "rejects": RejectsRule,
}


@dataclass(frozen=True, slots=True)
class AlertRule:
    name: str
    kind: str
    channels: tuple[str, ...]
    options: RuleOptions


@dataclass(frozen=True, slots=True)
class AlertSetup:
    """Validated rules and ready channels, with the message settings."""

    rules: tuple[AlertRule, ...]
    channels: Mapping[str, Channel]
    lang: Lang
    public_url: str | None
    timezone: str

    def lang_of(self, channel: str) -> Lang:
        """The language of `channel`'s messages."""
        return self.channels[channel].options.lang or self.lang


def load_alert_setup(settings: Settings) -> AlertSetup:
    """Validate `alerts:` and build its channels.

    Raises:
        ConfigError: every problem found in the rules and channels.
    """
    problems: list[ConfigProblem] = []
    channels: dict[str, Channel] = {}
    for name, config in settings.alerts.channels.items():
        path: tuple[str | int, ...] = ("alerts", "channels", name)
        channel_class = CHANNEL_KINDS.get(config.kind)
        if channel_class is None:
            problems.append(_unknown_kind(settings, (*path, "kind"), config.kind))
            continue
        data: dict[str, object] = dict(config.options)
        if config.url is not None:
            data["url"] = config.url
        if config.secret is not None:
            if config.kind in UNSIGNED_KINDS:
                problems.append(_unsigned(settings, (*path, "secret"), config.kind))
                continue
            data["secret"] = config.secret
        try:
            options: ChannelOptions = settings.section_settings(
                channel_class.options_model, data, path=path, also_valid=("kind",)
            )
        except ConfigError as error:
            problems.extend(error.problems)
            continue
        channels[name] = channel_class(name, options)
    rules: list[AlertRule] = []
    for index, rule in enumerate(settings.alerts.rules):
        path = ("alerts", "rules", index)
        model = RULE_KINDS.get(rule.kind)
        if model is None:
            problems.append(_unknown_kind(settings, (*path, "kind"), rule.kind))
            continue
        try:
            rule_options = settings.section_settings(
                model, dict(rule.options), path=path, also_valid=("kind", "channels")
            )
        except ConfigError as error:
            problems.extend(error.problems)
            continue
        name = rule_options.name or rule.kind
        if any(existing.name == name for existing in rules):
            problems.append(_repeated_name(settings, (*path, "name"), name))
            continue
        rules.append(AlertRule(name, rule.kind, tuple(rule.channels), rule_options))
    if problems:
        raise ConfigError(problems)
    return AlertSetup(
        rules=tuple(rules),
        channels=channels,
        lang=settings.alerts.lang,
        public_url=settings.alerts.public_url,
        timezone=settings.timezone,
    )


def _problem(
    settings: Settings, path: tuple[str | int, ...], expected: str, found: str
) -> ConfigProblem:
    return ConfigProblem(
        file=settings.file,
        key_path=path,
        expected=expected,
        found=found,
        line=settings.line_of(path),
    )


def _unknown_kind(
    settings: Settings, path: tuple[str | int, ...], kind: str
) -> ConfigProblem:
    kinds = RULE_KINDS if path[1] == "rules" else CHANNEL_KINDS
    return _problem(settings, path, f"one of {', '.join(kinds)}", repr(kind))


def _unsigned(
    settings: Settings, path: tuple[str | int, ...], kind: str
) -> ConfigProblem:
    return _problem(
        settings,
        path,
        f"no secret: {kind} webhooks are not signed, the URL is the credential",
        "a secret (not shown)",
    )


def _repeated_name(
    settings: Settings, path: tuple[str | int, ...], name: str
) -> ConfigProblem:
    return _problem(
        settings,
        path,
        "a name no other rule has (give each rule of the same kind a `name`)",
        repr(name),
    )
