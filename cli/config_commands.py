"""`stockbridge init` and `stockbridge config check`.

A config error is the user's to fix, not a crash: it prints as the
located problems alone, never a traceback, and exits with status 2.
"""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.syntax import Syntax

from stockbridge.alerts.settings import load_alert_setup
from stockbridge.cli.context import state
from stockbridge.config import (
    ConfigError,
    Settings,
    load_config,
    render_masked,
    starter_config,
)
from stockbridge.config.sinks_section import sink_settings
from stockbridge.connectors.errors import SourceConfigError
from stockbridge.connectors.registry import connector_class

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
        _config_failure(str(error))


def _config_failure(message: str) -> NoReturn:
    Console(stderr=True).print(message, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(CONFIG_ERROR_EXIT)


def source_problems(settings: Settings) -> list[str]:
    """What loading alone cannot check: each source's, alert's and sink's own keys."""
    problems: list[str] = []
    for name, source in settings.sources.items():
        try:
            model = connector_class(source.kind).settings_model
            settings.source_settings(name, model)
        except SourceConfigError as error:
            problems.append(f"{settings.file}: sources.{name}.kind: {error}")
        except ConfigError as error:
            problems.extend(str(problem) for problem in error.problems)
    try:
        load_alert_setup(settings)
    except ConfigError as error:
        problems.extend(str(problem) for problem in error.problems)
    for name in settings.sinks:
        try:
            sink_settings(settings, name)
        except ConfigError as error:
            problems.extend(str(problem) for problem in error.problems)
    return problems


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
    problems = source_problems(settings)
    if problems:
        _config_failure("\n".join(problems))
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
