"""`stockbridge sync`, `movements` and `rejects`: run now, and see what came of it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import Engine

from stockbridge.alerts.service import evaluate_and_deliver
from stockbridge.cli.config_commands import load_settings
from stockbridge.cli.output import OutputFormat, emit
from stockbridge.config.models import Settings
from stockbridge.connectors.base import Stream
from stockbridge.connectors.errors import ConnectorError
from stockbridge.store.database import open_store
from stockbridge.store.leases import LeaseHeldError
from stockbridge.store.queries import MovementFilter, iter_movements, list_rejects
from stockbridge.store.runs import RunRow
from stockbridge.sync.reconcile import reconcile
from stockbridge.sync.rejects_retry import retry_rejects
from stockbridge.sync.runner import STREAM_ORDER, sync_stream
from stockbridge.sync.setup import build_connector

__all__ = ["register", "run_sync", "summary_table"]

MOVEMENT_COLUMNS = (
    "source",
    "document",
    "line",
    "year",
    "kind",
    "material",
    "site",
    "warehouse",
    "location",
    "batch",
    "status",
    "quantity",
    "unit",
    "original_quantity",
    "original_unit",
    "posted_at",
    "reverses",
    "order_ref",
)
REJECT_COLUMNS = (
    "id",
    "source",
    "stream",
    "record_key",
    "reason",
    "created_at",
    "run_id",
    "raw",
)

rejects_app = typer.Typer(
    name="rejects",
    help="Quarantined records: list them, retry them.",
    invoke_without_command=True,
)


def _fail(message: str, code: int = 1) -> typer.Exit:
    Console(stderr=True).print(message, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def run_sync(
    engine: Engine,
    settings: Settings,
    *,
    sources: list[str] | None = None,
    streams: list[Stream] | None = None,
    full: bool = False,
    console: Console | None = None,
) -> list[RunRow]:
    """Sync the chosen sources and streams now, with progress; the runs in order."""
    console = console or Console(stderr=True)
    names = sources or [n for n, s in settings.sources.items() if s.enabled]
    unknown = [n for n in names if n not in settings.sources]
    if unknown:
        raise _fail(f"no source named {', '.join(unknown)} in {settings.file}", 2)
    runs: list[RunRow] = []
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
        transient=not console.is_terminal,
        disable=not console.is_terminal,
    ) as progress:
        for name in names:
            try:
                connector = build_connector(settings, name)
            except ConnectorError as error:
                raise _fail(str(error), 2) from None
            with connector:
                for stream in STREAM_ORDER:
                    if stream not in connector.offered_streams() or (
                        streams and stream not in streams
                    ):
                        continue
                    task = progress.add_task(
                        f"{name}/{stream.value}", total=None, rate=""
                    )
                    advance = _rate_reporter(progress, task)
                    try:
                        run = sync_stream(
                            engine,
                            settings,
                            name,
                            stream,
                            full=full,
                            connector=connector,
                            progress=advance,
                        )
                    except LeaseHeldError as error:
                        console.print(
                            f"skipped {name}/{stream.value}: {error}", markup=False
                        )
                        continue
                    runs.append(run)
    return runs


def _rate_reporter(progress: Progress, task: TaskID) -> Callable[[int], None]:
    started = time.monotonic()
    done = 0

    def advance(records: int) -> None:
        nonlocal done
        done += records
        rate = done / max(time.monotonic() - started, 1e-9)
        progress.update(task, advance=records, rate=f"{rate:,.0f}/s")

    return advance


def summary_table(runs: list[RunRow]) -> Table:
    table = Table(title="sync runs")
    for column in (
        "source",
        "stream",
        "status",
        "pulled",
        "loaded",
        "rejected",
        "seconds",
        "error",
    ):
        table.add_column(column, overflow="fold", no_wrap=column != "error")
    for run in runs:
        seconds = ((run.finished_at or run.started_at) - run.started_at).total_seconds()
        table.add_row(
            run.source,
            run.stream,
            run.status,
            str(run.pulled),
            str(run.loaded),
            str(run.rejected),
            f"{seconds:.1f}",
            run.error or "",
        )
    return table


def sync(
    ctx: typer.Context,
    source: Annotated[
        list[str] | None,
        typer.Option("--source", "-s", help="Only this source (repeatable)."),
    ] = None,
    stream: Annotated[
        list[Stream] | None,
        typer.Option("--stream", help="Only this stream (repeatable)."),
    ] = None,
    full: Annotated[
        bool,
        typer.Option("--full", help="Ignore saved cursors and re-read everything."),
    ] = False,
) -> None:
    """Run the configured sources' streams now and print a summary."""
    settings = load_settings(ctx)
    engine = open_store(settings.store)
    try:
        runs = run_sync(engine, settings, sources=source, streams=stream, full=full)
        result = reconcile(engine, settings)
        alerts = (
            evaluate_and_deliver(engine, settings, clock=lambda: datetime.now(UTC))
            if settings.alerts.rules
            else None
        )
    finally:
        engine.dispose()
    Console().print(summary_table(runs))
    Console().print(
        f"consolidated {result.keys} keys; {result.conflicts_open} open conflicts "
        f"({result.conflicts_opened} new, {result.conflicts_resolved} resolved)"
    )
    if alerts is not None:
        summary, delivered = alerts
        Console().print(
            f"alerts: {summary.fired} fired, {summary.resolved} resolved, "
            f"{summary.firing} firing; {delivered.sent} sent, "
            f"{delivered.retried + delivered.throttled} to retry, {delivered.failed} failed"
        )
    if any(run.status != "succeeded" for run in runs):
        raise typer.Exit(1)


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def movements(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    material: Annotated[
        str | None, typer.Option(help="Only this material (canonical code).")
    ] = None,
    warehouse: Annotated[str | None, typer.Option(help="Only this warehouse.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Posted at or after (ISO 8601; UTC if no zone).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Posted before (ISO 8601; UTC if no zone).")
    ] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TABLE,
) -> None:
    """List loaded movements (signed, in base units)."""
    settings = load_settings(ctx)
    engine = open_store(settings.store)
    try:
        where = MovementFilter(source, material, warehouse, _when(since), _when(until))
        emit(iter_movements(engine, where), MOVEMENT_COLUMNS, fmt, title="movements")
    finally:
        engine.dispose()


@rejects_app.callback()
def rejects(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    stream: Annotated[str | None, typer.Option(help="Only this stream.")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Include resolved rejects.")
    ] = False,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TABLE,
) -> None:
    """List quarantined records with the reason each was rejected."""
    if ctx.invoked_subcommand is not None:
        return
    settings = load_settings(ctx)
    engine = open_store(settings.store)
    try:
        rows = list_rejects(engine, source=source, stream=stream, include_resolved=all_)
    finally:
        engine.dispose()
    columns = REJECT_COLUMNS if fmt is not OutputFormat.TABLE else REJECT_COLUMNS[:-1]
    emit(rows, columns, fmt, title="rejects")


@rejects_app.command("retry")
def retry(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
) -> None:
    """Map open rejects again (after a crosswalk or unit fix); the ones that map now load once."""
    settings = load_settings(ctx)
    engine = open_store(settings.store)
    try:
        runs = retry_rejects(engine, settings, source=source)
    finally:
        engine.dispose()
    Console().print(summary_table(runs))
    if any(run.status != "succeeded" for run in runs):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command("sync")(sync)
    app.command("movements")(movements)
    app.add_typer(rejects_app)
