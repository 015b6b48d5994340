"""`stockbridge push`: the consolidated table to the configured sinks.

Dry-run unless `--apply`: it then says, per sink, how many rows it takes,
where they would go, the idempotency keys it would use and the first rows as
they would be sent, and sends nothing. With `--apply` each push is audited;
a sink whose target refuses stops with the target's own words, the other
sinks still run, and the command exits 1. Config problems exit 2.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from stockbridge.cli.config_commands import CONFIG_ERROR_EXIT, load_settings
from stockbridge.config.errors import ConfigError
from stockbridge.sinks.base import PushResult, SinkError
from stockbridge.sinks.push import push
from stockbridge.sinks.registry import chosen_sinks
from stockbridge.store.database import open_store

__all__ = ["describe", "register"]

_KEYS_SHOWN = 5


def describe(result: PushResult) -> list[str]:
    """What a push did, or would do, in a few lines."""
    head = f"{result.sink} ({result.kind}) -> {result.target}: {result.rows} row(s)"
    keys = ", ".join(result.keys[:_KEYS_SHOWN]) + (
        f" and {len(result.keys) - _KEYS_SHOWN} more"
        if len(result.keys) > _KEYS_SHOWN
        else ""
    )
    lines = [head]
    if result.dry_run:
        lines.append(
            "  dry run: nothing sent"
            + (
                "; unchanged since the last push, so --apply would send nothing"
                " (--force sends it again under the same keys)"
                if result.unchanged and result.kind != "reporting_table"
                else ""
            )
        )
    elif result.sent == 0:
        lines.append("  unchanged since the last push: nothing sent")
    elif result.kind == "reporting_table":
        lines.append(f"  {result.changed} row(s) written in one transaction")
    else:
        lines.append(
            f"  sent {result.sent} request(s): {result.changed} taken, "
            f"{result.duplicates} already there"
        )
    if keys:
        lines.append(f"  keys: {keys}")
    if result.dry_run:
        lines.append(f"  first {len(result.preview)} as they would be sent:")
        lines.extend(
            "    " + json.dumps(row, ensure_ascii=False, default=str)
            for row in result.preview
        )
    return lines


def push_command(
    ctx: typer.Context,
    sink: Annotated[
        str | None,
        typer.Option("--sink", help="Only this sink (default: every enabled one)."),
    ] = None,
    apply: Annotated[
        bool,
        typer.Option("--apply", help="Really send (default: a dry run, nothing sent)."),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Send even if unchanged since the last push (same idempotency keys).",
        ),
    ] = False,
    actor: Annotated[
        str | None,
        typer.Option(help="Who pushes, for the audit log (default: the OS user)."),
    ] = None,
) -> None:
    """Push the consolidated table to the sinks in the config."""
    settings = load_settings(ctx)
    out, err = Console(), Console(stderr=True)
    try:
        names = chosen_sinks(settings, sink)
    except SinkError as error:
        err.print(str(error), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(CONFIG_ERROR_EXIT) from None
    if not names:
        out.print("no enabled sinks in the config: nothing to push", highlight=False)
        return
    engine = open_store(settings.store)
    failed = False
    try:
        for name in names:
            try:
                result = push(
                    engine, settings, name, apply=apply, force=force, actor=actor
                )
            except ConfigError as error:
                err.print(str(error), markup=False, highlight=False, soft_wrap=True)
                raise typer.Exit(CONFIG_ERROR_EXIT) from None
            except SinkError as error:
                err.print(str(error), markup=False, highlight=False, soft_wrap=True)
                failed = True
                continue
            for line in describe(result):
                out.print(line, markup=False, highlight=False, soft_wrap=True)
    finally:
        engine.dispose()
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command("push")(push_command)
