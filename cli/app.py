"""The `stockbridge` command: global options, then one module per command group."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stockbridge.cli import (
    alerts_commands,
    check_commands,
    config_commands,
    db_commands,
    demo_commands,
    explain_commands,
    serve_commands,
    simulate_commands,
    sinks_commands,
    stock_commands,
    sync_commands,
    web_commands,
)
from stockbridge.cli.context import CliState

__all__ = ["app", "main"]

app = typer.Typer(
    name="stockbridge",
    help="One consolidated, trustworthy stock table from SAP, U8, K3 and MES.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _global_options(
    ctx: typer.Context,
    config: Annotated[
        Path,
        typer.Option(
            "--config",
            "-c",
            envvar="STOCKBRIDGE_CONFIG",
            help="The YAML config file.",
        ),
    ] = Path("stockbridge.yaml"),
) -> None:
    ctx.obj = CliState(config_path=config)


for module in (
    alerts_commands,
    check_commands,
    config_commands,
    db_commands,
    demo_commands,
    explain_commands,
    sync_commands,
    serve_commands,
    simulate_commands,
    sinks_commands,
    stock_commands,
    web_commands,
):
    module.register(app)


def main() -> None:
    """Entry point of the `stockbridge` console script."""
    app()
