"""`stockbridge simulate`: the simulated factory on loopback ports, until Ctrl-C."""

from __future__ import annotations

import signal
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table

from stockbridge.simulators.launcher import (
    ALL_SIMULATORS,
    LOGIN,
    demo_sources,
    start_simulators,
)

__all__ = ["register"]


def simulate(
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help=f"Start only these (repeatable): {', '.join(ALL_SIMULATORS)}.",
        ),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Start every simulator (the default).")
    ] = False,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Where the truth and the databases go (default: a temporary folder).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the generated truth.")] = 42,
    materials: Annotated[
        int, typer.Option(help="Materials in the generated factory.")
    ] = 30,
    days: Annotated[int, typer.Option(help="Days of movements.")] = 30,
    postgres: Annotated[
        str | None,
        typer.Option(
            help="Put the U8/K3 WISE databases in this PostgreSQL database (psqlODBC) instead of SQLite files."
        ),
    ] = None,
) -> None:
    """Start the simulators, print where they answer, and serve until Ctrl-C."""
    names = list(ALL_SIMULATORS) if all_ or not only else only
    console = Console()
    with tempfile.TemporaryDirectory(prefix="stockbridge-sim-") as scratch:
        work = directory or Path(scratch)
        with console.status("generating the truth and starting simulators"):
            try:
                sims = start_simulators(
                    work,
                    names=names,
                    seed=seed,
                    materials=materials,
                    days=days,
                    postgres=postgres,
                )
            except ValueError as error:
                console.print(f"[red]{error}[/red]")
                raise typer.Exit(2) from None
        with sims:
            table = Table(title=f"simulators (truth: {sims.truth})")
            table.add_column("system")
            table.add_column("address", overflow="fold")
            for name, address in sims.addresses().items():
                table.add_row(name, address)
            console.print(table)
            console.print(
                f"logins: user {LOGIN['user']} / password {LOGIN['password']}, "
                f"SAP client {LOGIN['sap_client']}; see stockbridge.simulators.launcher.LOGIN",
                highlight=False,
            )
            if "sap_odata" in sims.servers:
                url = sims.servers["sap_odata"].url
                console.print(
                    f"try: curl -u {LOGIN['user']}:{LOGIN['password']} "
                    f"'{url}/sap/opu/odata/sap/API_MATERIAL_STOCK_SRV/$metadata?sap-client={LOGIN['sap_client']}'",
                    highlight=False,
                    soft_wrap=True,
                )
            console.print("\n# the matching sources: block for your stockbridge.yaml")
            console.print(
                yaml.safe_dump(
                    {"sources": demo_sources(sims)}, allow_unicode=True, sort_keys=False
                ),
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
            _wait_for_stop(console)


def _wait_for_stop(console: Console) -> None:
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    console.print("serving; Ctrl-C stops")
    while not stopping.wait(1.0):
        pass
    console.print("stopping")


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command("simulate")(simulate)
