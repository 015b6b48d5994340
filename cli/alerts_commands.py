"""`stockbridge alerts list | test CHANNEL | run`: the alert outbox, by hand."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from stockbridge.alerts.channel_base import Outcome
from stockbridge.alerts.service import deliver_pending, evaluate_and_deliver, send_test
from stockbridge.cli.config_commands import CONFIG_ERROR_EXIT, load_settings
from stockbridge.cli.output import OutputFormat, emit
from stockbridge.config.errors import ConfigError
from stockbridge.store.alert_outbox import list_outbox
from stockbridge.store.database import open_store

__all__ = ["register"]

OUTBOX_COLUMNS = (
    "id",
    "channel",
    "status",
    "attempts",
    "last_error",
    "dedup_key",
    "created_at",
    "next_attempt_at",
    "sent_at",
)

alerts_app = typer.Typer(
    name="alerts",
    help="Alert messages: see the outbox, test a channel, evaluate and send now.",
    no_args_is_help=True,
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _config_failure(error: ConfigError) -> NoReturn:
    Console(stderr=True).print(
        str(error), markup=False, highlight=False, soft_wrap=True
    )
    raise typer.Exit(CONFIG_ERROR_EXIT)


@alerts_app.command("list")
def list_messages(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(help="Only messages in this state: queued, sent, failed."),
    ] = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TABLE,
) -> None:
    """Show outbox messages and their delivery state (queued, sent, failed and why)."""
    settings = load_settings(ctx)
    engine = open_store(settings.store)
    try:
        rows = list_outbox(engine, status=status, channel=channel, limit=limit)
    finally:
        engine.dispose()
    emit(
        ({name: getattr(row, name) for name in OUTBOX_COLUMNS} for row in rows),
        OUTBOX_COLUMNS,
        fmt,
        title="alert outbox",
    )


@alerts_app.command("test")
def test_channel(
    ctx: typer.Context,
    channel: Annotated[
        str, typer.Argument(help="A channel name under alerts.channels.")
    ],
) -> None:
    """Send a sample message to CHANNEL and print the tool's verdict."""
    settings = load_settings(ctx)
    engine = open_store(settings.store)
    try:
        verdict = send_test(engine, settings, channel, clock=_utcnow)
    except ConfigError as error:
        _config_failure(error)
    except KeyError:
        names = ", ".join(sorted(settings.alerts.channels)) or "none configured"
        Console(stderr=True).print(
            f"no channel {channel!r} under alerts.channels ({names})",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    Console().print(
        f"{channel}: {verdict.outcome.value}: {verdict.detail}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if verdict.outcome is not Outcome.SENT:
        raise typer.Exit(1)


@alerts_app.command("run")
def run_alerts(
    ctx: typer.Context,
    wait: Annotated[
        int,
        typer.Option(
            help="Keep delivering (retries, rate limits) up to this many seconds."
        ),
    ] = 0,
) -> None:
    """Evaluate the alert rules now and deliver what is due."""
    settings = load_settings(ctx)
    engine = open_store(settings.store)
    try:
        summary, delivered = evaluate_and_deliver(engine, settings, clock=_utcnow)
        if wait > 0 and delivered.next_due is not None:
            delivered.add(
                deliver_pending(
                    engine,
                    settings,
                    clock=_utcnow,
                    sleep=time.sleep,
                    within=timedelta(seconds=wait),
                )
            )
    except ConfigError as error:
        _config_failure(error)
    finally:
        engine.dispose()
    Console().print(
        f"alerts: {summary.fired} fired, {summary.reminded} reminded, "
        f"{summary.resolved} resolved, {summary.firing} firing; "
        f"{summary.messages} messages queued. Delivery: {delivered.sent} sent, "
        f"{delivered.retried + delivered.throttled} waiting to retry, "
        f"{delivered.failed} failed.",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.add_typer(alerts_app)
