"""The config as typed, validated objects: `Settings` and its sections.

Top-level keys: `store`, `timezone`, `sources`, `mapping`, `reconcile`,
`alerts`, `sinks`. A source's common keys (kind, enabled, timezone, schedule,
lookback, batch_size) are checked here; its kind-specific keys are checked
by its connector through `Settings.source_settings`, so this room never
imports a connector.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, Field, PrivateAttr

from stockbridge.config.errors import (
    KeyPath,
    LineIndex,
    line_of,
    validate_section,
)
from stockbridge.config.fields import (
    DatabaseUrl,
    Duration,
    Name,
    PositiveInt,
    TimeZoneName,
    default_store_url,
)
from stockbridge.config.mapping_section import (
    CodeMapping,
    CodeRule,
    SourceMapping,
    StatusMapping,
    UnitConversion,
)
from stockbridge.config.model_base import OpenModel, StrictModel
from stockbridge.config.policy_sections import (
    AlertRuleConfig,
    AlertsConfig,
    ChannelConfig,
    ReconcileConfig,
    SystemOfRecordRule,
    Tolerance,
)
from stockbridge.config.schedule import DEFAULT_SCHEDULE, Schedule, SourceSchedule
from stockbridge.config.sinks_section import SinkConfig
from stockbridge.config.web_section import WebConfig

__all__ = [
    "COMMON_SOURCE_KEYS",
    "AlertRuleConfig",
    "AlertsConfig",
    "ChannelConfig",
    "CodeMapping",
    "CodeRule",
    "ReconcileConfig",
    "Schedule",
    "Settings",
    "SourceConfig",
    "SourceMapping",
    "SourceSchedule",
    "StatusMapping",
    "SystemOfRecordRule",
    "Tolerance",
    "UnitConversion",
]

_ModelT = TypeVar("_ModelT", bound=BaseModel)


class SourceConfig(OpenModel):
    """One source system; kind-specific keys stay in `options`."""

    kind: Name
    enabled: bool = True
    timezone: TimeZoneName | None = None
    """The zone the system writes naive times in; default: the top-level one."""
    schedule: SourceSchedule = DEFAULT_SCHEDULE
    lookback: Duration = timedelta(hours=2)
    """How far before the cursor incremental pulls re-read, for late postings."""
    batch_size: PositiveInt = 5000


COMMON_SOURCE_KEYS: tuple[str, ...] = tuple(
    name for name in SourceConfig.model_fields if name != "options"
)


class Settings(StrictModel):
    """The whole config file."""

    store: DatabaseUrl = Field(default_factory=default_store_url)
    timezone: TimeZoneName = "Asia/Shanghai"
    sources: dict[Name, SourceConfig] = Field(default_factory=dict)
    mapping: dict[Name, SourceMapping] = Field(default_factory=dict)
    reconcile: ReconcileConfig = Field(default_factory=ReconcileConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    sinks: dict[Name, SinkConfig] = Field(default_factory=dict)
    web: WebConfig | None = None

    _file: Path = PrivateAttr(default=Path("<config>"))
    _lines: LineIndex = PrivateAttr(default_factory=dict)

    @property
    def file(self) -> Path:
        """The file these settings were read from."""
        return self._file

    def located(self, file: Path, lines: LineIndex) -> None:
        """Remember the file and lines, for errors found after loading."""
        self._file = file
        self._lines = lines

    def section_settings(
        self,
        model: type[_ModelT],
        data: object,
        *,
        path: KeyPath,
        also_valid: Collection[str] = (),
    ) -> _ModelT:
        """Validate a block another room owns (an alert rule, a channel).

        Problems are located at `path` in this file, like any config error.
        """
        return validate_section(
            model,
            data,
            file=self._file,
            path=path,
            lines=self._lines,
            also_valid=also_valid,
        )

    def line_of(self, path: KeyPath) -> int | None:
        """The line of `path` in the file, for problems found outside pydantic."""
        return line_of(self._lines, path)

    def source_settings(self, name: str, model: type[_ModelT]) -> _ModelT:
        """Validate `sources.NAME`'s kind-specific keys against `model`.

        The connector registry calls this with the connector's settings model;
        problems are reported like any other config error. A `timezone` field
        of `model` gets the source's zone, or the top-level one.
        """
        source = self.sources[name]
        data: dict[str, object] = dict(source.options)
        if "timezone" in model.model_fields:
            data["timezone"] = source.timezone or self.timezone
        return validate_section(
            model,
            data,
            file=self._file,
            path=("sources", name),
            lines=self._lines,
            also_valid=COMMON_SOURCE_KEYS,
        )
