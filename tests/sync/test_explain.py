"""`explain`: lining up two systems' movements of a key, and naming what one lacks.

The matching rules are pinned down on lines we choose (no I/O); then whole
scenarios are written into a real store (SQLite and PostgreSQL) through
`store.loading`, reconciled, and explained through the API and the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

from stockbridge.cli import explain_commands
from stockbridge.cli.context import CliState
from stockbridge.mapping.model import Movement, MovementKind, StockLine, StockStatus
from stockbridge.store.consolidation import ConsolidationPolicy, OwnerRule, consolidate
from stockbridge.store.database import open_store
from stockbridge.store.engine import create_store_engine
from stockbridge.store.explain_queries import KeyFilter
from stockbridge.store.loading import (
    begin_snapshot,
    commit_movement_batch,
    commit_snapshot_batch,
    switch_snapshot,
)
from stockbridge.store.migrate import upgrade
from stockbridge.store.runs import start_run
from stockbridge.store.schema import metadata
from stockbridge.sync.explain import explain
from stockbridge.sync.explain_text import describe
from stockbridge.sync.matching import Line, MatchRules, Suspicion, compare

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
CHINA = ZoneInfo("Asia/Shanghai")
POLICY = ConsolidationPolicy(
    owners=(OwnerRule("mes", warehouses=("LS01",)),),
    priority=("sap", "mes"),
    absolute_tolerance=Decimal("0.001"),
)


def line(
    source: str,
    document: str,
    quantity: str,
    at: datetime,
    kind: str = "production_issue",
    **extra: str,
) -> Line:
    return Line(
        source=source,
        document=document,
        line=extra.pop("line", "1"),
        year=extra.pop("year", ""),
        kind=kind,
        quantity=Decimal(quantity),
        unit=extra.pop("unit", "H87"),
        original_quantity=Decimal(extra.pop("original_quantity", quantity)),
        original_unit=extra.pop("original_unit", "个"),
        posted_at=at,
        reverses=extra.pop("reverses", ""),
        order_ref=extra.pop("order_ref", ""),
    )


# --- the matching rules, on lines we choose ------------------------------------------


def test_an_erp_date_matches_the_mes_minute_and_the_mes_only_issue_is_left() -> None:
    sap = [
        line("sap", "4900000001", "24", T0, "transfer"),
        line("sap", "4900000002", "-10", T0 + timedelta(days=1)),
    ]
    mes = [
        line("mes", "MES-TR-1", "24", T0 + timedelta(hours=9), "transfer"),
        line("mes", "MES-PI-1", "-10", T0 + timedelta(days=1, hours=3)),
        line("mes", "4711", "-24", T0 + timedelta(days=1, hours=1, minutes=12)),
    ]
    result = compare("mes", mes, "sap", sap)
    assert [(p.a.document, p.b.document) for p in result.pairs] == [
        ("MES-TR-1", "4900000001"),
        ("MES-PI-1", "4900000002"),
    ]
    (left,) = result.unmatched
    assert (left.line.document, left.lacking, left.suspicion) == ("4711", "sap", None)
    assert describe(left, "LS01", CHINA) == (
        "production issue 4711 of 24 个 posted in mes at 2026-03-03 09:12, "
        "no matching production issue in sap"
    )
    assert result.unmatched_net == Decimal(-24)


def test_quantity_sign_kind_and_time_must_all_agree() -> None:
    mes = [line("mes", "M1", "-10", T0)]
    for other in (
        line("sap", "S1", "-10.5", T0),  # another quantity
        line("sap", "S2", "10", T0, "return"),  # the other direction
        line("sap", "S3", "-10", T0, "adjustment"),  # a count, not consumption
        line("sap", "S4", "-10", T0 + timedelta(days=3)),  # too far apart
    ):
        assert compare("mes", mes, "sap", [other]).pairs == (), other
    compatible = line("sap", "S5", "-10.0004", T0 + timedelta(days=1), "issue")
    assert len(compare("mes", mes, "sap", [compatible]).pairs) == 1
    strict = MatchRules(time_tolerance=timedelta(hours=12))
    assert compare("mes", mes, "sap", [compatible], strict).pairs == ()


def test_equal_order_references_win_over_nearer_times() -> None:
    mes = [
        line("mes", "M1", "-5", T0 + timedelta(hours=8), order_ref="WO-7"),
        line("mes", "M2", "-5", T0 + timedelta(hours=9), order_ref="WO-8"),
    ]
    sap = [line("sap", "S1", "-5", T0 + timedelta(hours=9), order_ref="00000WO-7")]
    result = compare("mes", mes, "sap", sap)
    assert [(p.a.document, p.b.document) for p in result.pairs] == [("M1", "S1")]
    assert [u.line.document for u in result.unmatched] == ["M2"]


def test_a_unit_slip_is_recognised_on_both_sides() -> None:
    mes = [line("mes", "M1", "-73", T0, unit="KGM", original_unit="KG")]
    u8 = [
        line(
            "u8",
            "0000000026",
            "-0.073",
            T0 + timedelta(minutes=20),
            unit="KGM",
            original_quantity="-73",
            original_unit="克",
        )
    ]
    result = compare("mes", mes, "u8", u8)
    assert result.pairs == ()
    assert {(u.line.source, u.suspicion) for u in result.unmatched} == {
        ("mes", Suspicion.UNIT_SLIP),
        ("u8", Suspicion.UNIT_SLIP),
    }
    u8_side = next(u for u in result.unmatched if u.line.source == "u8")
    assert u8_side.related is not None
    assert u8_side.related.document == "M1"
    sentence = describe(u8_side, "LS01", CHINA)
    assert "0000000026 of 73 克 (= 0.073 KGM) posted in u8" in sentence
    assert "1000x apart" in sentence


def test_a_second_posting_of_the_same_transfer_is_called_a_duplicate() -> None:
    erp = [
        line("k3cloud", "ZJDB11", "731.583", T0, "transfer", line="2"),
        line("k3cloud", "ZJDB12", "731.583", T0, "transfer", line="2"),
    ]
    mes = [line("mes", "MES-TR-1", "731.583", T0, "transfer")]
    result = compare("k3cloud", erp, "mes", mes)
    assert len(result.pairs) == 1
    (left,) = result.unmatched
    assert (left.suspicion, left.lacking) == (Suspicion.DUPLICATE, "mes")
    assert left.related is not None
    assert {left.line.document, left.related.document} == {"ZJDB11", "ZJDB12"}
    assert "k3cloud has it twice, mes once" in describe(left, "LS01", CHINA)


def test_a_line_and_its_own_reversal_net_out_and_come_last() -> None:
    erp = [
        line("sap", "5000000001", "30", T0, "receipt", year="2026"),
        line(
            "sap",
            "5000000002",
            "-30",
            T0 + timedelta(hours=2),
            "reversal",
            year="2026",
            reverses="5000000001/1/2026",
        ),
        line("sap", "4900000009", "-3", T0 + timedelta(hours=5)),
    ]
    result = compare("mes", [], "sap", erp)
    assert [(u.line.document, u.suspicion) for u in result.unmatched] == [
        ("4900000009", None),
        ("5000000001", Suspicion.NETS_OUT),
        ("5000000002", Suspicion.NETS_OUT),
    ]
    assert result.unmatched_net == Decimal(3), "the netted pair explains nothing"


# --- scenarios in a real store ---------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated store per back-end, shared by the module's scenarios."""
    if request.param == "sqlite":
        engine = open_store(f"sqlite:///{tmp_path_factory.mktemp('explain')}/s.db")
        yield engine
        engine.dispose()
        return
    with request.getfixturevalue("postgres_server").database("sbexplain") as url:
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


def movement(
    source: str,
    document: str,
    quantity: str,
    at: datetime,
    kind: MovementKind = MovementKind.PRODUCTION_ISSUE,
    *,
    material: str = "100023",
    warehouse: str = "LS01",
    original: tuple[str, str] | None = None,
    order_ref: str = "",
) -> Movement:
    entered, unit = original or (quantity, "个" if source == "mes" else "ST")
    return Movement(
        source=source,
        document=document,
        line="1",
        year="2026" if source == "sap" else "",
        kind=kind,
        material=material,
        site="1000",
        warehouse=warehouse,
        location="",
        batch="",
        status=StockStatus.UNRESTRICTED,
        quantity=Decimal(quantity),
        unit="H87",
        original_quantity=Decimal(entered),
        original_unit=unit,
        posted_at=at,
        entered_at=at + timedelta(minutes=10),
        order_ref=order_ref,
    )


def post(engine: Engine, source: str, lines: list[Movement]) -> None:
    run = start_run(
        engine,
        source=source,
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
        source=source,
        stream="movements",
        loaded=lines,
        rejected=[],
        cursor=None,
        now=T0,
    )


def snapshot(
    engine: Engine, source: str, figures: dict[tuple[str, str], str], as_of: datetime
) -> None:
    """Make {(material, warehouse): quantity} the current snapshot of `source`."""
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
            )
            for (material, warehouse), quantity in figures.items()
        ],
        rejected=[],
        now=as_of,
    )
    switch_snapshot(engine, source=source, scope="", snapshot_id=snap, now=as_of)


END = T0 + timedelta(days=10)


def line_side_scenario(engine: Engine) -> None:
    """SAP and MES agree on everything at LS01 but one MES issue of 24 个."""
    day = timedelta(days=1)
    post(
        engine,
        "sap",
        [
            movement("sap", "4900000001", "100", T0, MovementKind.TRANSFER),
            movement("sap", "4900000002", "-10", T0 + day, order_ref="000001000001"),
            movement("sap", "4900000003", "-10", T0 + 2 * day, order_ref="1000002"),
            movement(
                "sap", "4900000004", "50", T0, MovementKind.RECEIPT, warehouse="RM01"
            ),
        ],
    )
    post(
        engine,
        "mes",
        [
            movement("mes", "MES-TR-1", "100", T0 + timedelta(hours=1), MovementKind.TRANSFER),
            movement("mes", "MES-PI-1", "-10", T0 + day + timedelta(hours=2), order_ref="1000001"),
            movement("mes", "MES-PI-2", "-10", T0 + 2 * day + timedelta(hours=3), order_ref="1000002"),
            movement("mes", "4711", "-24", T0 + 3 * day + timedelta(hours=1, minutes=12), order_ref="1000002"),
        ],
    )  # fmt: skip
    snapshot(engine, "sap", {("100023", "LS01"): "80", ("100023", "RM01"): "50"}, END)
    snapshot(engine, "mes", {("100023", "LS01"): "56"}, END)
    consolidate(engine, POLICY, now=END)


def test_explain_puts_the_unmatched_mes_issue_first_with_the_conflict(
    engine: Engine,
) -> None:
    line_side_scenario(engine)
    reports = explain(
        engine, KeyFilter("100023"), since=END - timedelta(days=30), until=END
    )
    assert [r.key.warehouse for r in reports] == ["LS01", "RM01"], "conflicts first"
    ls01, rm01 = reports
    assert ls01.conflict is not None
    assert ls01.conflict.difference == Decimal(24)
    assert (ls01.consolidated, ls01.chosen_source) == (Decimal(56), "mes")
    assert [(f.source, f.quantity, f.movements, f.compared) for f in ls01.figures] == [
        ("mes", Decimal(56), 4, True),
        ("sap", Decimal(80), 3, True),
    ]
    (finding,) = ls01.findings
    assert describe(finding, "LS01", CHINA) == (
        "production issue 4711 of 24 个 posted in mes at 2026-03-05 09:12 "
        "(order 1000002), no matching production issue in sap"
    )
    (comparison,) = ls01.comparisons
    assert len(comparison.pairs) == 3
    assert comparison.unmatched_net == Decimal(-24), "mes is 24 lower, as its stock"
    # RM01 is SAP's alone: nothing to compare, its movement is listed.
    assert rm01.conflict is None
    assert rm01.comparisons == ()
    assert [line.document for line in rm01.lines["sap"]] == ["4900000004"]
    assert [(f.source, f.quantity) for f in rm01.figures] == [("sap", Decimal(50))]


def test_a_source_without_a_movement_feed_is_shown_not_compared(
    engine: Engine,
) -> None:
    line_side_scenario(engine)
    snapshot(engine, "wms", {("100023", "LS01"): "56"}, END)
    (ls01,) = explain(
        engine,
        KeyFilter("100023", warehouse="LS01"),
        since=END - timedelta(days=30),
        until=END,
    )
    wms = next(f for f in ls01.figures if f.source == "wms")
    assert (wms.quantity, wms.movements, wms.compared) == (Decimal(56), 0, False)
    assert [(c.a, c.b) for c in ls01.comparisons] == [("mes", "sap")]


def test_a_pair_straddling_the_window_start_is_not_reported(engine: Engine) -> None:
    line_side_scenario(engine)
    # SAP's transfer is dated T0 00:00 and MES's T0 01:00: a window starting
    # between them still matches them, and reports only what lies inside.
    (ls01,) = explain(
        engine,
        KeyFilter("100023", warehouse="LS01"),
        since=T0 + timedelta(minutes=30),
        until=END,
    )
    assert [f.line.document for f in ls01.findings] == ["4711"]
    assert [line.document for line in ls01.lines["sap"]] == ["4900000002", "4900000003"]


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


def test_the_cli_prints_the_finding_for_people_and_json_for_tools(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine = open_store(sqlite_url)
    try:
        line_side_scenario(engine)
    finally:
        engine.dispose()
    until = ("--until", END.isoformat())
    code, table = run_cli(sqlite_url, tmp_path, "explain", "100023", *until)
    assert code == 0, table
    assert "CONFLICT difference 24" in table
    assert (
        "production issue 4711 of 24 个 posted in mes at 2026-03-05 09:12 "
        "(order 1000002), no matching production issue in sap"
    ) in table
    code, text = run_cli(
        sqlite_url, tmp_path, "explain", "100023", "--warehouse", "LS01", *until,
        "--format", "json",
    )  # fmt: skip
    assert code == 0, text
    (report,) = json.loads(text)
    assert report["conflict"]["difference"] == "24"
    (finding,) = report["findings"]
    assert (finding["shape"], finding["source"], finding["lacking"]) == (
        "unmatched",
        "mes",
        "sap",
    )
    assert finding["movement"]["document"] == "4711"
    assert finding["movement"]["posted_at"] == "2026-03-05T01:12:00Z"
    assert len(report["comparisons"][0]["matched"]) == 3
    code, text = run_cli(
        sqlite_url, tmp_path, "explain", "100023", *until, "--format", "csv"
    )
    assert code == 0, text
    header, row = text.strip().splitlines()
    assert header.startswith("material,site,warehouse")
    assert ",unmatched,mes,sap,4711," in row
