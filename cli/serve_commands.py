"""`stockbridge serve`: the scheduled service, stopped cleanly by SIGTERM or Ctrl-C."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import typer

from stockbridge.cli.config_commands import load_settings
from stockbridge.cli.logging_setup import setup_logging
from stockbridge.store.database import open_store
from stockbridge.sync.scheduler import SyncService
from stockbridge.web.server import start_in_thread

__all__ = ["register"]


def serve(ctx: typer.Context) -> None:
    """Run every source's streams on their schedules until stopped."""
    settings = load_settings(ctx)
    setup_logging()
    engine = open_store(settings.store)
    service = SyncService(engine, settings)
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        typer.echo(
            f"received {signal.Signals(signum).name}: finishing runs in flight",
            err=True,
        )
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    service.start()
    stop_web = None
    if settings.web is not None:
        url, stop_web = start_in_thread(
            engine, settings, settings.web.host, settings.web.port
        )
        typer.echo(f"planner page and API at {url}", err=True)
    typer.echo(
        f"serving {len(service.jobs())} scheduled streams: {', '.join(service.jobs())}",
        err=True,
    )
    try:
        while not stopping.wait(1.0):
            pass
    finally:
        if stop_web is not None:
            stop_web()
        service.shutdown()
        engine.dispose()
    typer.echo("stopped", err=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command("serve")(serve)
