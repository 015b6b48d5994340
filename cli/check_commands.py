"""`stockbridge check`: can each configured source be reached, and does it let us in?"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from stockbridge.cli.config_commands import load_settings
from stockbridge.connectors.base import CheckResult, CheckState
from stockbridge.connectors.errors import ConnectorError
from stockbridge.sync.setup import build_connector

__all__ = ["register"]

_STYLE = {CheckState.OK: "green"}


def check(
    ctx: typer.Context,
    source: Annotated[
        list[str] | None,
        typer.Option("--source", "-s", help="Only this source (repeatable)."),
    ] = None,
) -> None:
    """Probe every configured source and print a verdict per source."""
    settings = load_settings(ctx)
    names = source or list(settings.sources)
    table = Table(title="sources")
    for column in ("source", "kind", "state", "detail"):
        table.add_column(column, overflow="fold", no_wrap=column != "detail")
    failed = False
    for name in names:
        if name not in settings.sources:
            result = CheckResult(CheckState.CONFIG_ERROR, f"no source named {name!r}")
        else:
            try:
                with build_connector(settings, name) as connector:
                    result = connector.check()
            except ConnectorError as error:
                result = CheckResult(CheckState.CONFIG_ERROR, str(error))
        failed = failed or result.state is not CheckState.OK
        style = _STYLE.get(result.state, "red")
        kind = settings.sources[name].kind if name in settings.sources else ""
        table.add_row(name, kind, f"[{style}]{result.state.value}[/]", result.detail)
    Console().print(table)
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command("check")(check)
