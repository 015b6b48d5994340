"""The ledger check: snapshot(t1) - snapshot(t0) against the movements entered between.

Scenarios are written into a real store (SQLite and PostgreSQL) through
`store.loading` exactly as sync writes them: snapshots switched in (which
records their totals in `stock_history`) and movements committed in batches.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from stockbridge.cli import explain_commands
from stockbridge.cli.context import CliState
from stockbridge.mapping.model import Movement, MovementKind, StockLine, StockStatus
from stockbridge.store.database import open_store
from stockbridge.store.engine import create_store_engine
from stockbridge.store.loading import (
    begin_snapshot,
    commit_movement_batch,
    commit_snapshot_batch,
    switch_snapshot,
)
from stockbridge.store.migrate import upgrade
from stockbridge.store.runs import start_run
from stockbridge.store.schema import metadata, stock_history, stock_lines
from stockbridge.sync.ledger import check_ledger

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = open_store(f"sqlite:///{tmp_path_factory.mktemp('ledger')}/s.db")
        yield engine
        engine.dispose()
        return
    with request.getfixturevalue("postgres_server").database("sbledger") as url:
        migrator = create_store_engine(url)
        upgrade(migrator)
        migrator.dispose()
        engine = open_store(url)
        yield engine
        engine.dispose()


@pytest.fixture
def engine(store: Engine) -> Engine:
    """The shared store, emptied for this scenario."""
    with store.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    return store


def snapshot(
    engine: Engine,
    as_of: datetime,
    figures: dict[tuple[str, str], str],
    *,
    source: str = "erp",
    special: dict[tuple[str, str], str] | None = None,
) -> None:
    """Switch in a snapshot of {(material, warehouse): quantity} read at `as_of`."""
    rows = [(key, q, "") for key, q in figures.items()] + [
        (key, q, "K") for key, q in (special or {}).items()
    ]
    run = start_run(
        engine,
        source=source,
        kind="test",
        stream="stock",
        cursor_before=None,
        now=as_of,
        host="test",
        pid=1,
    )
    snap = begin_snapshot(engine, source=source, scope="", run_id=run, now=as_of)
    commit_snapshot_batch(
        engine,
        run_id=run,
        source=source,
        snapshot_id=snap,
        loaded=[
            StockLine(
                source=source,
                material=material,
                site="1000",
                warehouse=warehouse,
                location="",
                batch="",
                status=StockStatus.UNRESTRICTED,
                quantity=Decimal(quantity),
                unit="H87",
                as_of=as_of,
                special_stock=special_stock,
            )
            for (material, warehouse), quantity, special_stock in rows
        ],
        rejected=[],
        now=as_of,
    )
    switch_snapshot(engine, source=source, scope="", snapshot_id=snap, now=as_of)


def movement(
    document: str,
    material: str,
    quantity: str,
    *,
    posted: datetime,
    entered: datetime | None,
    warehouse: str = "LS01",
) -> Movement:
    return Movement(
        source="erp",
        document=document,
        line="1",
        year="",
        kind=MovementKind.ISSUE if quantity.startswith("-") else MovementKind.RECEIPT,
        material=material,
        site="1000",
        warehouse=warehouse,
        location="",
        batch="",
        status=StockStatus.UNRESTRICTED,
        quantity=Decimal(quantity),
        unit="H87",
        original_quantity=Decimal(quantity),
        original_unit="个",
        posted_at=posted,
        entered_at=entered,
    )


def post(engine: Engine, lines: list[Movement]) -> None:
    run = start_run(
        engine,
        source="erp",
        kind="test",
        stream="movements",
        cursor_before=None,
        now=T0,
        host="test",
        pid=1,
    )
    commit_movement_batch(
        engine,
        run_id=run,
        source="erp",
        stream="movements",
        loaded=lines,
        rejected=[],
        cursor=None,
        now=T0,
    )


def scenario(engine: Engine, *, deleted: bool) -> None:
    """Two snapshots of one ERP and what it posted between them.

    Issue D2 (-20 of A) moved the stock; when `deleted`, its document is
    gone from the feed, as a deleted or never-read document would be.
    """
    snapshot(
        engine, T0, {("A", "LS01"): "100", ("B", "LS01"): "5", ("C", "LS01"): "10"}
    )
    post(
        engine,
        [
            # Entered before t0: already in the first snapshot.
            movement("D0", "A", "-1", posted=T0 - 2 * H, entered=T0 - H),
            movement("D1", "A", "-10", posted=T0 + H, entered=T0 + H),
            *([] if deleted else [movement("D2", "A", "-20", posted=T0 + 2 * H, entered=T0 + 2 * H)]),
            # Back-dated to before t0 but entered after it: it is in t1 only.
            movement("D3", "B", "3", posted=T0 - timedelta(days=1), entered=T0 + 3 * H),
            # No entry time: judged by its posting time.
            movement("D4", "C", "-10", posted=T0 + 3 * H, entered=None),
            # A warehouse the stock feed does not report: not checkable.
            movement("D5", "A", "7", posted=T0 + H, entered=T0 + H, warehouse="FG01"),
        ],
    )  # fmt: skip
    # C fell to zero and, like an MES, the source keeps no zero row.
    snapshot(engine, T0 + 5 * H, {("A", "LS01"): "70", ("B", "LS01"): "8"})


def test_snapshots_that_moved_as_their_movements_say_have_no_break(
    engine: Engine,
) -> None:
    scenario(engine, deleted=False)
    assert check_ledger(engine) == []


def test_a_deleted_document_is_a_break_with_its_figures(engine: Engine) -> None:
    scenario(engine, deleted=True)
    (found,) = check_ledger(engine)
    assert (found.source, found.material, found.warehouse) == ("erp", "A", "LS01")
    assert (found.t0, found.t1) == (T0, T0 + 5 * H)
    assert (found.opening, found.moved, found.lines, found.closing) == (
        Decimal(100),
        Decimal(-10),
        1,
        Decimal(70),
    )
    assert (found.expected, found.difference) == (Decimal(90), Decimal(-20))
    assert found.reading.startswith("stock fell 20 H87 more than the movements say")


def test_an_older_break_shows_with_since_and_the_latest_pair_by_default(
    engine: Engine,
) -> None:
    scenario(engine, deleted=True)
    snapshot(engine, T0 + 9 * H, {("A", "LS01"): "70", ("B", "LS01"): "8"})
    assert check_ledger(engine) == [], "the latest pair is clean"
    (found,) = check_ledger(engine, since=T0)
    assert (found.t0, found.t1, found.difference) == (T0, T0 + 5 * H, Decimal(-20))
    assert check_ledger(engine, since=T0, source="other") == []
    assert check_ledger(engine, since=T0, tolerance=Decimal(20)) == []


def test_history_keeps_totals_with_special_stock_and_prunes_old_ones(
    engine: Engine,
) -> None:
    day = timedelta(days=1)
    snapshot(engine, T0, {("A", "LS01"): "5"}, special={("A", "LS01"): "2"})
    snapshot(engine, T0 + 30 * day, {("A", "LS01"): "6"})
    snapshot(engine, T0 + 31 * day, {("A", "LS01"): "6"})
    with engine.connect() as conn:
        kept = conn.execute(
            select(stock_history.c.as_of, stock_history.c.quantity).order_by(
                stock_history.c.as_of
            )
        ).all()
        lines = conn.execute(select(stock_lines.c.snapshot_id).distinct()).all()
    # The 30-day-old snapshot stayed while it was the previous one; now it
    # is older than the retention and the previous one is newer.
    assert kept == [(T0 + 30 * day, Decimal(6)), (T0 + 31 * day, Decimal(6))]
    assert len(lines) == 1, "only the current snapshot keeps its lines"
    assert check_ledger(engine) == []


def test_the_first_total_includes_special_stock(engine: Engine) -> None:
    snapshot(engine, T0, {("A", "LS01"): "5"}, special={("A", "LS01"): "2"})
    with engine.connect() as conn:
        assert conn.execute(select(stock_history.c.quantity)).scalar_one() == 7


def run_cli(store: str, tmp_path: Path, *args: str) -> tuple[int, str]:
    config = tmp_path / "stockbridge.yaml"
    config.write_text(f"store: {store}\ntimezone: Asia/Shanghai\nsources: {{}}\n")
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = CliState(config_path=config)

    explain_commands.register(app)
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})
    return result.exit_code, result.output


def test_the_cli_reports_breaks_and_exits_1(sqlite_url: str, tmp_path: Path) -> None:
    engine = open_store(sqlite_url)
    try:
        scenario(engine, deleted=True)
    finally:
        engine.dispose()
    code, text = run_cli(sqlite_url, tmp_path, "ledger", "--format", "json")
    assert code == 1, text
    (found,) = json.loads(text)
    assert {k: found[k] for k in ("source", "material", "opening", "moved")} == {
        "source": "erp",
        "material": "A",
        "opening": "100",
        "moved": "-10",
    }
    assert (found["closing"], found["difference"]) == ("70", "-20")
    assert found["t0"] == "2026-03-02T08:00:00Z"
    code, table = run_cli(sqlite_url, tmp_path, "ledger", "--source", "erp")
    assert code == 1, table
    assert "stock fell 20 H87" in table
    assert "2026-03-02 16:00" in table, "times in the plant's zone for people"
    code, text = run_cli(sqlite_url, tmp_path, "ledger", "--source", "nobody")
    assert (code, "no breaks" in text) == (0, True)
