"""`stockbridge stock`: the consolidated table, for planners and for tools."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from stockbridge.cli.config_commands import load_settings
from stockbridge.cli.output import OutputFormat, emit
from stockbridge.mapping.model import StockStatus
from stockbridge.store.database import open_store
from stockbridge.store.stock_queries import StockFilter, as_contract, iter_consolidated

__all__ = ["print_stock_table", "register"]

CSV_COLUMNS = (
    "material",
    "site",
    "warehouse",
    "location",
    "batch",
    "status",
    "quantity",
    "unit",
    "available",
    "safety_stock",
    "chosen_source",
    "rule",
    "conflict",
    "as_of",
)


def print_stock_table(
    rows: list[dict[str, object]], console: Console, *, title: str
) -> None:
    """The planners' view: one line per key, each source's figure, conflicts marked."""
    names = sorted({s for row in rows for s in row["sources"]})  # type: ignore[attr-defined]
    table = Table(title=title)
    for column in (
        "material",
        "site",
        "warehouse",
        "batch",
        "status",
        "quantity",
        "unit",
        *names,
        "chosen",
        "",
    ):
        table.add_column(
            column, justify="right" if column in ("quantity", *names) else "left"
        )
    for row in rows:
        sources: dict[str, object] = row["sources"]  # type: ignore[assignment]
        flag = (
            "[bold red]CONFLICT[/]"
            if row["conflict"]
            else ("only source" if row["single_source"] else "")
        )
        table.add_row(
            str(row["material"]),
            str(row["site"]),
            str(row["warehouse"]),
            str(row["batch"]),
            str(row["status"]),
            str(row["quantity"]),
            str(row["unit"]),
            *(str(sources.get(n, "")) for n in names),
            str(row["chosen_source"] or ""),
            flag,
        )
    console.print(table)


def stock(
    ctx: typer.Context,
    material: Annotated[
        str | None, typer.Option(help="Only this material (canonical code).")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Material code or name containing this text.")
    ] = None,
    site: Annotated[str | None, typer.Option(help="Only this site.")] = None,
    warehouse: Annotated[str | None, typer.Option(help="Only this warehouse.")] = None,
    status: Annotated[
        StockStatus | None, typer.Option(help="Only this stock status.")
    ] = None,
    conflicts: Annotated[
        bool, typer.Option("--conflicts", help="Only keys where the systems disagree.")
    ] = False,
    below_safety: Annotated[
        bool, typer.Option("--below-safety", help="Only keys below safety stock.")
    ] = False,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TABLE,
) -> None:
    """Print the consolidated stock table."""
    settings = load_settings(ctx)
    engine = open_store(settings.store)
    where = StockFilter(
        material=material,
        name=name,
        site=site,
        warehouse=warehouse,
        status=status.value if status else None,
        conflicts_only=conflicts,
        below_safety_only=below_safety,
    )
    try:
        rows = iter_consolidated(engine, where)
        if fmt is OutputFormat.JSON:
            out = sys.stdout
            out.write("[")
            for n, row in enumerate(rows):
                out.write(
                    ("\n  " if n == 0 else ",\n  ")
                    + json.dumps(as_contract(row), ensure_ascii=False)
                )
            out.write("\n]\n")
        elif fmt is OutputFormat.CSV:
            emit((as_contract(r) for r in rows), CSV_COLUMNS, fmt)
        else:
            print_stock_table(list(rows), Console(), title="consolidated stock")
    finally:
        engine.dispose()


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command("stock")(stock)
