"""Building the configured sinks by name.

Construction does no I/O: a dry run of any sink opens no connection to its
target. A write-back sink's connection comes from the source it names,
validated by that source's connector settings model like any source.
"""

from __future__ import annotations

from stockbridge.config.models import Settings
from stockbridge.config.sinks_section import (
    K3CloudSaveSettings,
    MesPushSettings,
    ReportingTableSettings,
    sink_settings,
)
from stockbridge.connectors.k3cloud import K3CloudConnector, K3CloudSettings
from stockbridge.connectors.mes_rest_settings import MesRestSettings
from stockbridge.sinks.base import Sink, SinkError
from stockbridge.sinks.k3cloud_save import K3CloudSaveSink
from stockbridge.sinks.mes_push import MesPushSink
from stockbridge.sinks.reporting_table import ReportingTableSink

__all__ = ["build_sink", "chosen_sinks"]


def chosen_sinks(settings: Settings, name: str | None) -> list[str]:
    """`[name]` if given and configured, else every enabled sink.

    Raises:
        SinkError: `name` is not a configured sink.
    """
    if name is None:
        return [n for n, sink in settings.sinks.items() if sink.enabled]
    if name not in settings.sinks:
        known = ", ".join(sorted(settings.sinks)) or "none are configured"
        msg = f"no sink named {name!r} in {settings.file} (sinks: {known})"
        raise SinkError(msg)
    return [name]


def build_sink(settings: Settings, name: str) -> Sink:
    """The sink `sinks.NAME` describes. Raises `ConfigError` for a bad config."""
    typed = sink_settings(settings, name)
    match typed:
        case ReportingTableSettings():
            return ReportingTableSink(name, typed)
        case MesPushSettings():
            connection = settings.source_settings(typed.source, MesRestSettings)
            return MesPushSink(name, typed, connection)
        case K3CloudSaveSettings():
            login = settings.source_settings(typed.source, K3CloudSettings)
            connector = K3CloudConnector(
                typed.source, login, timezone=settings.timezone
            )
            return K3CloudSaveSink(name, typed, connector)
