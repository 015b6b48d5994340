"""`stockbridge explain` and `stockbridge ledger`: why the numbers disagree.

`explain` lines up the systems' movements for a key and names the ones one
system has and another lacks; `ledger` checks each source's snapshots
against its own movements. Tables for people (times in the config's zone),
JSON for tools (times in UTC); `explain --format csv` lists the findings.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from stockbridge.cli.config_commands import load_settings
from stockbridge.cli.output import OutputFormat, emit
from stockbridge.config.fields import duration_or_none
from stockbridge.mapping.model import StockStatus
from stockbridge.store.database import open_store
from stockbridge.store.explain_queries import KeyFilter, latest_posting
from stockbridge.sync.explain import KeyReport, explain
from stockbridge.sync.explain_text import (
    comparison_summary,
    describe,
    kind_phrase,
    line_label,
    report_json,
)
from stockbridge.sync.ledger import LedgerBreak, check_ledger
from stockbridge.sync.matching import Comparison, Line, MatchRules

__all__ = ["print_report", "register"]

FINDING_COLUMNS = (
    "material",
    "site",
    "warehouse",
    "batch",
    "status",
    "shape",
    "source",
    "lacking",
    "document",
    "line",
    "kind",
    "quantity",
    "unit",
    "posted_at",
    "message",
)
LEDGER_COLUMNS = (
    "source",
    "material",
    "site",
    "warehouse",
    "location",
    "batch",
    "status",
    "t0",
    "t1",
    "opening",
    "moved",
    "lines",
    "expected",
    "closing",
    "difference",
    "unit",
    "reading",
)


def _fail(message: str) -> typer.Exit:
    Console(stderr=True).print(message, markup=False, highlight=False)
    return typer.Exit(2)


def _moment(text: str, *, now: datetime) -> datetime:
    """ISO 8601 (UTC if no zone), or a duration back from now ("7d")."""
    back = duration_or_none(text)
    if back is not None:
        return now - back
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(
            f"{text!r} is neither an ISO 8601 time nor a duration such as 7d"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _when(value: datetime | None, zone: ZoneInfo) -> str:
    return "" if value is None else value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _quantity(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def _cell(line: Line | None, warehouse: str) -> str:
    if line is None:
        return "[bold red]-[/]"
    return f"{kind_phrase(line, warehouse)} {line_label(line)}"


def _side_by_side(report: KeyReport, comparison: Comparison, zone: ZoneInfo) -> Table:
    """Matched pairs and unmatched lines in time order, one system per column."""
    warehouse = report.key.warehouse
    table = Table(
        title=f"{comparison.a} vs {comparison.b}: "
        f"{comparison_summary(report, comparison)}",
        title_justify="left",
    )
    for column in ("posted", comparison.a, "qty", comparison.b, "qty", "note"):
        table.add_column(column, justify="right" if column == "qty" else "left")
    rows: list[tuple[datetime, Line | None, Line | None, str]] = [
        (min(p.a.posted_at, p.b.posted_at), p.a, p.b, "") for p in comparison.pairs
    ]
    for u in comparison.unmatched:
        note = "[bold red]unmatched[/]" if u.suspicion is None else u.suspicion.value
        first = u.line if u.line.source == comparison.a else None
        second = u.line if u.line.source == comparison.b else None
        rows.append((u.line.posted_at, first, second, note))
    for posted, first, second, note in sorted(rows, key=lambda r: r[0]):
        table.add_row(
            _when(posted, zone),
            _cell(first, warehouse),
            _quantity(first.quantity) if first else "",
            _cell(second, warehouse),
            _quantity(second.quantity) if second else "",
            note,
        )
    return table


def print_report(report: KeyReport, console: Console, zone: ZoneInfo) -> None:
    key = report.key
    title = (
        f"{key.material} at {key.site}/{key.warehouse}"
        f"{'/' + key.location if key.location else ''}"
        f" batch {key.batch or '-'} {key.status}"
    )
    if report.conflict is not None:
        title += (
            f"  [bold red]CONFLICT[/] difference {_quantity(report.conflict.difference)}"
            f" since {_when(report.conflict.first_seen_at, zone)}"
        )
    console.rule(title)
    figures = Table(show_header=True, box=None)
    for column in ("source", "quantity", "unit", "as of", "movements", "net"):
        figures.add_column(column, justify="right" if column != "source" else "left")
    for f in report.figures:
        chosen = " *" if f.source == report.chosen_source else ""
        figures.add_row(
            f.source + chosen,
            _quantity(f.quantity) if f.quantity is not None else "(no stock feed)",
            f.unit,
            _when(f.as_of, zone),
            str(f.movements) if f.compared or f.movements else "(no movement feed)",
            _quantity(f.net),
        )
    console.print(figures)
    findings = report.findings
    if findings:
        console.print("[bold]Unmatched:[/]")
        said: set[tuple[str, str]] = set()
        for finding in findings:
            other = finding.related
            if other is not None and (other.source, other.ref) in said:
                continue  # a unit slip or a nets-out pair is one sentence
            said.add((finding.line.source, finding.line.ref))
            mark = "!" if finding.suspicion is None else "?"
            console.print(
                f"  {mark} {describe(finding, key.warehouse, zone)}", highlight=False
            )
    for comparison in report.comparisons:
        console.print(_side_by_side(report, comparison, zone))


def _finding_rows(reports: list[KeyReport], zone: ZoneInfo) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for report in reports:
        for finding in report.findings:
            line = finding.line
            rows.append(
                {
                    **report.key._asdict(),
                    "shape": finding.suspicion.value
                    if finding.suspicion
                    else "unmatched",
                    "source": line.source,
                    "lacking": finding.lacking,
                    "document": line.document,
                    "line": line.line,
                    "kind": line.kind,
                    "quantity": line.quantity,
                    "unit": line.unit,
                    "posted_at": line.posted_at,
                    "message": describe(finding, report.key.warehouse, zone),
                }
            )
    return rows


def explain_command(
    ctx: typer.Context,
    material: Annotated[str, typer.Argument(help="The material (canonical code).")],
    site: Annotated[str | None, typer.Option(help="Only this site.")] = None,
    warehouse: Annotated[str | None, typer.Option(help="Only this warehouse.")] = None,
    location: Annotated[str | None, typer.Option(help="Only this location.")] = None,
    batch: Annotated[str | None, typer.Option(help="Only this batch.")] = None,
    status: Annotated[
        StockStatus | None, typer.Option(help="Only this stock status.")
    ] = None,
    days: Annotated[
        int, typer.Option(min=1, help="Days of movements to line up.")
    ] = 30,
    until: Annotated[
        str | None,
        typer.Option(
            help="End of the window (ISO 8601, UTC if no zone); "
            "default: the key's latest posting."
        ),
    ] = None,
    time_tolerance: Annotated[
        str, typer.Option(help="How far apart two systems may post one event.")
    ] = "2d",
    quantity_tolerance: Annotated[
        str, typer.Option(help="How far apart two quantities may be and still match.")
    ] = "0.001",
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TABLE,
) -> None:
    """Line up the systems' movements for a key and name what one has and another lacks."""
    settings = load_settings(ctx)
    now = datetime.now(UTC)
    tolerance = duration_or_none(time_tolerance)
    if tolerance is None:
        raise _fail(f"--time-tolerance {time_tolerance!r} is not a duration such as 2d")
    try:
        quantity_slack = Decimal(quantity_tolerance)
    except InvalidOperation:
        raise _fail(
            f"--quantity-tolerance {quantity_tolerance!r} is not a number"
        ) from None
    where = KeyFilter(
        material=material,
        site=site,
        warehouse=warehouse,
        location=location,
        batch=batch,
        status=status.value if status else None,
    )
    rules = MatchRules(time_tolerance=tolerance, quantity_tolerance=quantity_slack)
    engine = open_store(settings.store)
    try:
        end = _moment(until, now=now) if until else latest_posting(engine, where) or now
        reports = explain(
            engine, where, since=end - timedelta(days=days), until=end, rules=rules
        )
    finally:
        engine.dispose()
    zone = ZoneInfo(settings.timezone)
    if fmt is OutputFormat.JSON:
        json.dump(
            [report_json(r, zone) for r in reports],
            sys.stdout,
            ensure_ascii=False,
            indent=2,
        )
        sys.stdout.write("\n")
    elif fmt is OutputFormat.CSV:
        emit(_finding_rows(reports, zone), FINDING_COLUMNS, fmt)
    else:
        console = Console()
        if not reports:
            console.print(f"nothing known about {material} with these filters")
        for report in reports:
            print_report(report, console, zone)


def _break_row(found: LedgerBreak) -> dict[str, object]:
    return {
        "source": found.source,
        "material": found.material,
        "site": found.site,
        "warehouse": found.warehouse,
        "location": found.location,
        "batch": found.batch,
        "status": found.status,
        "t0": found.t0,
        "t1": found.t1,
        "opening": found.opening,
        "moved": found.moved,
        "lines": found.lines,
        "expected": found.expected,
        "closing": found.closing,
        "difference": found.difference,
        "unit": found.unit,
        "reading": found.reading,
    }


def ledger_command(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Check every snapshot pair ending after this (ISO 8601 or a "
            "duration back, e.g. 7d); default: each source's latest pair."
        ),
    ] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TABLE,
) -> None:
    """Check each source's stock snapshots against its own movements; list the breaks.

    Exits 1 when there is a break.
    """
    settings = load_settings(ctx)
    start = _moment(since, now=datetime.now(UTC)) if since else None
    engine = open_store(settings.store)
    try:
        breaks = check_ledger(engine, source=source, since=start)
    finally:
        engine.dispose()
    if fmt is OutputFormat.TABLE:
        zone = ZoneInfo(settings.timezone)
        rows = [
            {
                **_break_row(b),
                "t0": _when(b.t0, zone),
                "t1": _when(b.t1, zone),
                **{
                    k: _quantity(v)
                    for k, v in _break_row(b).items()
                    if isinstance(v, Decimal)
                },
            }
            for b in breaks
        ]
        emit(rows, LEDGER_COLUMNS, fmt, title="ledger breaks")
        if not breaks:
            Console().print("no breaks: every snapshot moved as its movements say")
    else:
        emit((_break_row(b) for b in breaks), LEDGER_COLUMNS, fmt)
    if breaks:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command("explain")(explain_command)
    app.command("ledger")(ledger_command)
