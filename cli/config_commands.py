"""`stockbridge init` and `stockbridge config check`.

A config error is the user's to fix, not a crash: it prints as the
located problems alone, never a traceback, and exits with status 2.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.syntax import Syntax

from stockbridge.cli.context import state
from stockbridge.config import (
    ConfigError,
    Settings,
    load_config,
    render_masked,
    starter_config,
)

__all__ = ["CONFIG_ERROR_EXIT", "load_settings", "register"]

CONFIG_ERROR_EXIT = 2
"""Exit status of any command stopped by a config error."""

config_app = typer.Typer(
    name="config", help="Inspect the config file.", no_args_is_help=True
)


def load_settings(ctx: typer.Context) -> Settings:
    """The settings of the `--config` file, or exit 2 printing why not."""
    try:
        return load_config(state(ctx).config_path)
    except ConfigError as error:
        Console(stderr=True).print(
            str(error), markup=False, highlight=False, soft_wrap=True
        )
        raise typer.Exit(CONFIG_ERROR_EXIT) from None


def init(
    ctx: typer.Context,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing config file.")
    ] = False,
) -> None:
    """Write a commented starter config to the --config path."""
    path = state(ctx).config_path
    if path.exists() and not force:
        Console(stderr=True).print(
            f"{path} already exists; pass --force to overwrite it.",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(starter_config(), encoding="utf-8")
    Console().print(
        f"Wrote a starter config to {path}. "
        "Edit it, then run: stockbridge config check",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@config_app.command("check")
def check(ctx: typer.Context) -> None:
    """Validate the config and print it resolved, with secrets masked."""
    settings = load_settings(ctx)
    # The header is a YAML comment, so the output saved to a file still loads.
    text = f"# {settings.file} is valid. Resolved, secrets masked:\n"
    text += render_masked(settings)
    console = Console()
    if console.is_terminal:
        console.print(Syntax(text, "yaml"), soft_wrap=True)
    else:
        console.print(text, markup=False, highlight=False, soft_wrap=True, end="")


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command("init")(init)
    app.add_typer(config_app)
