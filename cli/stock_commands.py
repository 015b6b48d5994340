"""`stockbridge stock`: the consolidated table, for planners and for tools.

JSON (the contract of the foundation issue, plus the planner figures) and
CSV carry every figure as exact decimal text, "" when absent; XLSX is for
people (see `stockbridge.cli.stock_xlsx`).
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from stockbridge.cli.config_commands import load_settings
from stockbridge.cli.output import OutputFormat, emit
from stockbridge.cli.stock_xlsx import Lang, write_stock_xlsx
from stockbridge.mapping.model import StockStatus
from stockbridge.store.database import open_store
from stockbridge.store.stock_queries import (
    StockFilter,
    as_contract,
    days_of_cover,
    iter_consolidated,
    source_names,
)

__all__ = ["CSV_COLUMNS", "StockFormat", "print_stock_table", "register"]


class StockFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    XLSX = "xlsx"


CSV_COLUMNS = (
    "material",
    "site",
    "warehouse",
    "location",
    "batch",
    "status",
    "quantity",
    "unit",
    "reserved",
    "available",
    "safety_stock",
    "consumption_per_day",
    "days_of_cover",
    "stockout_date",
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
        "available",
        "safety",
        "cover d",
        *names,
        "chosen",
        "",
    ):
        numeric = ("quantity", "available", "safety", "cover d", *names)
        table.add_column(column, justify="right" if column in numeric else "left")
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
            str(row["available"]),
            _blank(row["safety_stock"]),
            _blank(days_of_cover(row)),
            *(str(sources.get(n, "")) for n in names),
            str(row["chosen_source"] or ""),
            flag,
        )
    console.print(table)


def _blank(value: object) -> str:
    return "" if value is None else str(value)


def stock(
    ctx: typer.Context,
    material: Annotated[
        str | None, typer.Option(help="Only this material (canonical code).")
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(help="Material code or master-data name containing this text."),
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
        bool,
        typer.Option(
            "--below-safety",
            help="Only materials whose available stock at a site is below its "
            "safety stock.",
        ),
    ] = False,
    fmt: Annotated[StockFormat, typer.Option("--format", "-f")] = StockFormat.TABLE,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The file --format xlsx writes.")
    ] = Path("stock.xlsx"),
    lang: Annotated[
        Lang, typer.Option(help="Language of the XLSX headers and statuses.")
    ] = Lang.EN,
) -> None:
    """Print the consolidated stock table, or write it as an Excel workbook."""
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
        if fmt is StockFormat.XLSX:
            count = write_stock_xlsx(
                rows,
                output,
                sources=source_names(engine),
                lang=lang,
                timezone=settings.timezone,
            )
            Console(stderr=True).print(
                f"Wrote {count} rows to {output}", markup=False, highlight=False
            )
        elif fmt is StockFormat.JSON:
            out = sys.stdout
            out.write("[")
            for n, row in enumerate(rows):
                out.write(
                    ("\n  " if n == 0 else ",\n  ")
                    + json.dumps(as_contract(row), ensure_ascii=False)
                )
            out.write("\n]\n")
        elif fmt is StockFormat.CSV:
            emit((as_contract(r) for r in rows), CSV_COLUMNS, OutputFormat.CSV)
        else:
            print_stock_table(list(rows), Console(), title="consolidated stock")
    finally:
        engine.dispose()


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command("stock")(stock)
