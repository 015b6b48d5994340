"""`stockbridge demo`: the whole job, end to end, on the bundled simulators.

It generates a factory's ground truth, starts every simulator on loopback
ports, writes a config for them with an embedded SQLite store, runs a full
sync while some postings are still "late", lets them arrive, runs an
incremental sync that picks them up through the look-back window, and shows
the consolidated table with the conflicts the simulators were built to
contain, next to the list of what was injected.
"""

from __future__ import annotations

import base64
import secrets
import shutil
import signal
import sqlite3
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
import yaml
from rich.console import Console
from sqlalchemy import Engine

from stockbridge.alerts.service import evaluate_and_deliver
from stockbridge.cli.explain_commands import print_report
from stockbridge.cli.stock_commands import print_stock_table
from stockbridge.cli.sync_commands import run_sync, summary_table
from stockbridge.config.loader import load_config
from stockbridge.config.models import Settings
from stockbridge.simulators.chat_receiver import start_chat_receiver
from stockbridge.simulators.launcher import Simulators, demo_sources, start_simulators
from stockbridge.store.database import open_store
from stockbridge.store.explain_queries import KeyFilter, latest_posting
from stockbridge.store.queries import list_rejects
from stockbridge.store.stock_queries import StockFilter, iter_consolidated
from stockbridge.store.tokens import create_token
from stockbridge.sync.explain import explain
from stockbridge.sync.matching import MatchRules
from stockbridge.sync.reconcile import reconcile
from stockbridge.web.server import start_in_thread

__all__ = ["register"]

PRIORITY = ("sap", "ecc", "u8", "k3cloud", "k3wise", "mes")


def _reconcile(sources: Mapping[str, object]) -> dict[str, object]:
    """MES owns the line-side warehouses; otherwise each site's ERP is believed."""
    owners = [{"source": "mes", "warehouse": ["LS01"]}] if "mes" in sources else []
    return {
        "system_of_record": owners,
        "priority": [name for name in PRIORITY if name in sources],
        "tolerance": {"absolute": "0.001"},
    }


def _alerts(chat_url: str) -> dict[str, object]:
    """Conflicts and stock-outs go to a local webhook receiver the demo reads back."""
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    return {
        "lang": "en",
        "channels": {
            "planners": {
                "kind": "webhook",
                "url": f"{chat_url}/hooks/stock",
                "secret": secret,
            }
        },
        "rules": [
            {"kind": "conflict", "channels": ["planners"], "severity": "warning"},
            {
                "kind": "negative_stock",
                "channels": ["planners"],
                "severity": "critical",
            },
        ],
    }


def _write_config(sims: Simulators, directory: Path, chat_url: str) -> Path:
    sources = demo_sources(sims)
    config = {
        "store": f"sqlite:///{directory / 'stockbridge.db'}",
        "timezone": "Asia/Shanghai",
        "sources": sources,
        "reconcile": _reconcile(sources),
        "alerts": _alerts(chat_url),
    }
    path = directory / "stockbridge.yaml"
    header = (
        "# Written by `stockbridge demo` for the simulators it started;\n"
        "# the logins are the simulators' fixed demo logins.\n"
    )
    path.write_text(
        header + yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return path


def _set_late(sims: Simulators, late: bool) -> None:
    for server in sims.servers.values():
        server.faults.update(late_postings=late)


def _print_injected(truth: Path, console: Console) -> None:
    """The discrepancies the simulators were built with: what the table should show."""
    console.print("[bold]what the simulators injected (the ground truth):[/bold]")
    with sqlite3.connect(truth) as conn:
        rows = conn.execute(
            "SELECT kind, system, description FROM discrepancies ORDER BY id"
        ).fetchall()
    for kind, system, description in rows:
        console.print(
            f"  [cyan]{kind}[/cyan] ({system}): {description}", highlight=False
        )


def _explain(
    engine: Engine, row: dict[str, object], console: Console, zone: str
) -> None:
    where = KeyFilter(
        **{
            column: str(row[column])
            for column in (
                "material",
                "site",
                "warehouse",
                "location",
                "batch",
                "status",
            )
        }
    )
    until = latest_posting(engine, where) or datetime.now(UTC)
    for report in explain(
        engine, where, since=until - timedelta(days=30), until=until, rules=MatchRules()
    ):
        print_report(report, console, ZoneInfo(zone))


def _print_received(messages: list[dict[str, object]], console: Console) -> None:
    if not messages:
        console.print("  (no message)")
    for message in messages:
        body = message["body"]
        data = body.get("data", {}) if isinstance(body, dict) else {}
        console.print(f"  [bold]{data.get('title', '')}[/bold]", highlight=False)
        for alert in data.get("alerts", []):
            figures = ", ".join(
                f"{k} {v}" for k, v in (alert.get("figures") or {}).items()
            )
            console.print(
                f"    - {alert.get('headline', '')}: {figures}", highlight=False
            )


def _serve_page(
    engine: Engine, settings: Settings, port: int, console: Console
) -> None:
    """The planner page over the demo's store, with a viewer token, until Ctrl-C."""
    _, token = create_token(engine, role="viewer", name="demo", now=datetime.now(UTC))
    url, stop = start_in_thread(engine, settings, "127.0.0.1", port)
    console.rule("the planner page")
    console.print(
        f"  open {url}/ and log in with the viewer token:\n  {token}", highlight=False
    )
    console.print("  Ctrl-C stops the page and the simulators.")
    stopping = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        while not stopping.wait(1.0):
            pass
    finally:
        stop()


def demo(
    directory: Annotated[
        Path,
        typer.Option(
            "--dir",
            help="Where the demo's truth, databases, config and store go (replaced).",
        ),
    ] = Path("demo"),
    materials: Annotated[
        int, typer.Option(help="Materials in the simulated factory.")
    ] = 30,
    days: Annotated[int, typer.Option(help="Days of movements.")] = 30,
    serve: Annotated[
        bool | None,
        typer.Option(
            "--serve/--no-serve",
            help="Keep the planner page up until Ctrl-C (default: when run in a terminal).",
        ),
    ] = None,
    port: Annotated[
        int, typer.Option(help="Port of the planner page (0: any free port).")
    ] = 8040,
) -> None:
    """Run the whole job on the bundled simulators and show the result."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # a log file has room for the whole table
    directory = directory.resolve()
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    with console.status("generating a factory and starting its systems' simulators"):
        sims = start_simulators(
            directory / "simulators", materials=materials, days=days
        )
    with sims:
        for name, address in sims.addresses().items():
            console.print(f"  {name:<11} {address}", highlight=False, soft_wrap=True)
        chat, received = start_chat_receiver()
        config_path = _write_config(sims, directory, chat.url)
        console.print(f"config written to {config_path}", highlight=False)
        settings = load_config(config_path)
        engine = open_store(settings.store)
        try:
            _set_late(sims, True)
            console.rule("1. full sync (some postings have not arrived yet)")
            console.print(
                summary_table(run_sync(engine, settings, full=True, console=console))
            )
            _set_late(sims, False)
            console.rule("2. incremental sync (the late postings arrive, back-dated)")
            console.print(summary_table(run_sync(engine, settings, console=console)))
            result = reconcile(engine, settings)
            console.rule("3. the consolidated stock table")
            console.print(
                f"{result.keys} keys from {len(settings.sources)} sources; "
                f"{result.conflicts_open} where the systems disagree"
            )
            conflicts = list(
                iter_consolidated(engine, StockFilter(conflicts_only=True))
            )
            print_stock_table(
                conflicts, console, title="keys where the systems disagree"
            )
            if conflicts:
                console.rule("4. why: stockbridge explain for the first of them")
                _explain(engine, conflicts[0], console, settings.timezone)
            _print_injected(sims.truth, console)
            console.rule("5. alerts, as the chat group received them")
            evaluate_and_deliver(engine, settings, clock=lambda: datetime.now(UTC))
            _print_received(received.received, console)
            rejects = list_rejects(engine, limit=10)
            console.rule(f"6. rejects ({len(rejects)} shown)")
            for reject in rejects:
                console.print(
                    f"  {reject['source']}/{reject['stream']} {reject['record_key']}: {reject['reason']}",
                    highlight=False,
                )
            if sys.stdin.isatty() if serve is None else serve:
                _serve_page(engine, settings, port, console)
        finally:
            engine.dispose()
            chat.stop()
    console.print(
        f"\nThe store is {directory / 'stockbridge.db'}; try:\n"
        f"  ./run stockbridge --config {config_path} stock\n"
        f"  ./run stockbridge --config {config_path} movements --source sap --format csv",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command("demo")(demo)
