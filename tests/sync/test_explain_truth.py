"""`explain` against the simulators' ground truth: every injected discrepancy found.

Two ways in. First, every system's share of a generated truth is written
into a real store through `store.loading` (what each system posted: its
effective lines, late ones included, and its closing stock), reconciled,
and held against the truth's `discrepancies` table: exactly the injected
line-side discrepancies are conflicts, with the injected difference, and
`explain` names the injected movement for each; every other line-side key
has all its movements matched. Second, end to end: the SAP OData and MES
REST simulators over real sockets, synced by the connectors, reconciled,
and the MES-only issue of site 1000 named by `explain`.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, delete, insert, select

from stockbridge.config.models import Settings
from stockbridge.connectors.base import Stream
from stockbridge.mapping.model import Movement, MovementKind, StockLine, StockStatus
from stockbridge.simulators.launcher import demo_sources, start_simulators
from stockbridge.simulators.truth import generate
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
from stockbridge.store.schema import conflicts, movements
from stockbridge.sync.explain import KeyReport, explain
from stockbridge.sync.explain_text import describe
from stockbridge.sync.ledger import check_ledger
from stockbridge.sync.matching import Suspicion, Unmatched
from stockbridge.sync.reconcile import reconcile
from stockbridge.sync.runner import sync_stream

POLICY = ConsolidationPolicy(
    owners=(OwnerRule("mes", warehouses=("LS01",)),),
    priority=("sap", "ecc", "u8", "k3cloud", "k3wise", "mes"),
    absolute_tolerance=Decimal("0.001"),
)


@dataclass(frozen=True)
class Truth:
    path: Path
    start_at: datetime
    now_at: datetime


@dataclass(frozen=True)
class Injected:
    kind: str
    system: str
    document: str
    material: str
    site: str
    warehouse: str
    batch: str
    status: str
    difference: Decimal


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Truth:
    path = tmp_path_factory.mktemp("explain_truth") / "truth.sqlite"
    summary = generate(path, seed=7, materials=8, days=10)
    return Truth(path, summary.start_at, summary.now_at)


def rows(truth: Truth, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(truth.path)) as conn:
        return conn.execute(sql).fetchall()


def injected(truth: Truth) -> list[Injected]:
    found = rows(
        truth,
        "SELECT d.kind, d.system, m.document, d.material, d.site, d.warehouse,"
        " d.batch, d.status, d.difference FROM discrepancies d"
        " JOIN movements m ON m.id = d.movement ORDER BY d.id",
    )
    return [Injected(*r[:8], Decimal(r[8])) for r in found]


def load_truth(engine: Engine, truth: Truth) -> None:
    """Every system's opening stock, posted lines and closing stock, as sync writes them."""
    units = dict(rows(truth, "SELECT material, base_unit FROM materials"))
    lines: dict[str, list[Movement]] = defaultdict(list)
    for (system, document, line, year, kind, material, site, warehouse, batch,
         status, quantity, entry_unit, entry_quantity, posted, entered, order,
         r_document, r_line, r_year) in rows(
        truth,
        "SELECT m.system, m.document, m.line, m.year, m.kind, m.material, m.site,"
        " m.warehouse, m.batch, m.status, m.quantity, m.entry_unit,"
        " m.entry_quantity, m.posted_at, m.entered_at, m.order_ref,"
        " r.document, r.line, r.year FROM movements m"
        " LEFT JOIN movements r ON r.id = m.reverses WHERE m.effective = 1",
    ):  # fmt: skip
        signed = Decimal(quantity)
        entry = Decimal(entry_quantity)
        reverses = (
            ""
            if r_document is None
            else "/".join(p for p in (r_document, str(r_line), r_year) if p)
        )
        lines[system].append(
            Movement(
                source=system,
                document=document,
                line=str(line),
                year=year,
                kind=MovementKind(kind),
                material=material,
                site=site,
                warehouse=warehouse,
                location="",
                batch=batch,
                status=StockStatus(status),
                quantity=signed,
                unit=units[material],
                original_quantity=-entry if signed < 0 else entry,
                original_unit=entry_unit,
                posted_at=datetime.fromisoformat(posted),
                entered_at=datetime.fromisoformat(entered),
                reverses=reverses,
                order_ref=order,
            )
        )
    now = truth.now_at
    for system in sorted(lines.keys() | {"mes"}):
        switch_in(engine, truth, system, "opening_stock", truth.start_at)
        run = start_run(
            engine,
            source=system,
            kind="truth",
            stream="movements",
            cursor_before=None,
            now=now,
            host="test",
            pid=1,
        )
        commit_movement_batch(
            engine,
            run_id=run,
            source=system,
            stream="movements",
            loaded=lines[system],
            rejected=[],
            cursor=None,
            now=now,
        )
        switch_in(engine, truth, system, "stock", now)


def switch_in(
    engine: Engine, truth: Truth, system: str, table: str, as_of: datetime
) -> None:
    """Write the truth's `table` (opening or closing stock) as `system`'s snapshot."""
    units = dict(rows(truth, "SELECT material, base_unit FROM materials"))
    found = rows(
        truth,
        "SELECT material, site, warehouse, batch, status, quantity"
        f" FROM {table} WHERE system = '{system}'",
    )
    run = start_run(
        engine,
        source=system,
        kind="truth",
        stream="stock",
        cursor_before=None,
        now=as_of,
        host="test",
        pid=1,
    )
    snapshot = begin_snapshot(engine, source=system, scope="", run_id=run, now=as_of)
    commit_snapshot_batch(
        engine,
        run_id=run,
        source=system,
        snapshot_id=snapshot,
        loaded=[
            StockLine(
                source=system,
                material=material,
                site=site,
                warehouse=warehouse,
                location="",
                batch=batch,
                status=StockStatus(status),
                quantity=Decimal(quantity),
                unit=units[material],
                as_of=as_of,
            )
            for material, site, warehouse, batch, status, quantity in found
        ],
        rejected=[],
        now=as_of,
    )
    switch_snapshot(engine, source=system, scope="", snapshot_id=snapshot, now=as_of)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def loaded(
    request: pytest.FixtureRequest,
    truth: Truth,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Engine]:
    """A store holding the whole truth, reconciled, on each back-end."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('explain_store')}/store.db"
        engine = open_store(url)
        load_truth(engine, truth)
        consolidate(engine, POLICY, now=truth.now_at)
        yield engine
        engine.dispose()
        return
    server = request.getfixturevalue("postgres_server")
    with server.database("sbexplain") as pg_url:
        migrator = create_store_engine(pg_url)
        upgrade(migrator)
        migrator.dispose()
        engine = open_store(pg_url)
        load_truth(engine, truth)
        consolidate(engine, POLICY, now=truth.now_at)
        yield engine
        engine.dispose()


def open_conflicts(engine: Engine) -> dict[tuple[str, ...], Decimal]:
    with engine.connect() as conn:
        found = conn.execute(
            select(conflicts).where(conflicts.c.resolved_at.is_(None))
        ).all()
    return {
        (r.material, r.site, r.warehouse, r.batch, r.status): r.difference
        for r in found
    }


def line_side_keys_held_twice(truth: Truth) -> set[tuple[str, ...]]:
    return {
        tuple(r)
        for r in rows(
            truth,
            "SELECT DISTINCT s.material, s.site, s.warehouse, s.batch, s.status"
            " FROM stock s JOIN warehouses w ON w.site = s.site"
            " AND w.warehouse = s.warehouse WHERE w.systems LIKE '%,%'",
        )
    }


def report_for(engine: Engine, truth: Truth, key: tuple[str, ...]) -> KeyReport:
    material, site, warehouse, batch, status = key
    reports = explain(
        engine,
        KeyFilter(material, site, warehouse, batch=batch, status=status),
        since=truth.start_at,
        until=truth.now_at,
    )
    assert len(reports) == 1, reports
    return reports[0]


def test_exactly_the_injected_line_side_discrepancies_are_conflicts(
    loaded: Engine, truth: Truth
) -> None:
    two_systems = line_side_keys_held_twice(truth)
    expected: dict[tuple[str, ...], Decimal] = defaultdict(Decimal)
    for d in injected(truth):
        key = (d.material, d.site, d.warehouse, d.batch, d.status)
        if key in two_systems:
            expected[key] += d.difference
    expected = {key: abs(total) for key, total in expected.items() if total}
    kinds = {d.kind for d in injected(truth) if d.difference}
    assert kinds == {
        "mes_only_issue",
        "unit_slip",
        "duplicate_posting",
        "unaudited_voucher",
    }
    assert open_conflicts(loaded) == expected


def names(finding: Unmatched, d: Injected) -> bool:
    """Whether `finding` is the injected discrepancy `d`, said the way its kind needs."""
    line, related = finding.line, finding.related
    documents = {line.document, related.document if related else ""}
    if d.kind in ("mes_only_issue", "unaudited_voucher"):
        # The MES issue the ERP lacks. An unaudited voucher never moved the
        # ERP's stock, so its line is no posted movement and only the MES
        # line of the event is there to name.
        return (
            (line.source, finding.lacking, finding.suspicion) == ("mes", d.system, None)
            and line.kind == "production_issue"
            and -line.quantity == d.difference
            and (d.kind != "mes_only_issue" or line.document == d.document)
        )
    if d.kind == "unit_slip":
        return finding.suspicion is Suspicion.UNIT_SLIP and d.document in documents
    return (
        d.kind == "duplicate_posting"
        and finding.suspicion is Suspicion.DUPLICATE
        and (line.source, finding.lacking) == (d.system, "mes")
        and d.document in documents
    )


def test_explain_names_the_injected_movement_of_every_conflict(
    loaded: Engine, truth: Truth
) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    two_systems = line_side_keys_held_twice(truth)
    by_key: dict[tuple[str, ...], list[Injected]] = defaultdict(list)
    for d in injected(truth):
        key = (d.material, d.site, d.warehouse, d.batch, d.status)
        if key in two_systems and d.difference:
            by_key[key].append(d)
    checked = set()
    for key, found in by_key.items():
        report = report_for(loaded, truth, key)
        total = sum((d.difference for d in found), Decimal(0))
        assert report.conflict is not None
        assert report.conflict.difference == abs(total)
        findings = report.findings
        assert len(findings) == sum(2 if d.kind == "unit_slip" else 1 for d in found)
        for d in found:
            named = [f for f in findings if names(f, d)]
            # A unit slip is both systems' lines, each naming the other.
            assert len(named) == (2 if d.kind == "unit_slip" else 1), (d, findings)
            finding = named[0]
            sentence = describe(finding, d.warehouse, zone)
            assert f"posted in {finding.line.source} at" in sentence
            if finding.suspicion is None:
                assert sentence.endswith(f"no matching production issue in {d.system}")
            checked.add(d.kind)
        (comparison,) = report.comparisons
        erp = found[0].system
        erp_minus_mes = (
            comparison.unmatched_net
            if comparison.a == erp
            else -comparison.unmatched_net
        )
        assert erp_minus_mes == total, "the unmatched lines explain the difference"
    assert checked == {
        "mes_only_issue",
        "unit_slip",
        "duplicate_posting",
        "unaudited_voucher",
    }


def test_every_other_line_side_key_has_all_its_movements_matched(
    loaded: Engine, truth: Truth
) -> None:
    faulty = {
        (d.material, d.site, d.warehouse, d.batch, d.status)
        for d in injected(truth)
        if d.difference
    }
    clean = sorted(line_side_keys_held_twice(truth) - faulty)
    assert len(clean) >= 5
    matched = 0
    for key in clean:
        report = report_for(loaded, truth, key)
        assert report.conflict is None, key
        assert report.findings == [], (key, report.findings)
        matched += sum(len(c.pairs) for c in report.comparisons)
    assert matched >= 50, "the clean keys have movements, and they all match"


def test_the_truths_ledgers_balance_and_a_deleted_document_breaks_one(
    loaded: Engine, truth: Truth
) -> None:
    """Opening stock + every posted line = closing stock, for every system and key.

    Then one document line is deleted from the store, as a document deleted
    in the source (or lost on the way) would be missing from the feed.
    """
    assert check_ledger(loaded, since=truth.start_at - timedelta(days=1)) == []
    with loaded.connect() as conn:
        victim = (
            conn.execute(
                select(movements)
                .where(
                    movements.c.source == "u8",
                    movements.c.kind == "production_issue",
                    movements.c.warehouse == "LS01",
                )
                .order_by(movements.c.document, movements.c.line)
                .limit(1)
            )
            .one()
            ._asdict()
        )
    with loaded.begin() as conn:
        conn.execute(
            delete(movements).where(
                movements.c.source == "u8",
                movements.c.document == victim["document"],
                movements.c.line == victim["line"],
            )
        )
    try:
        (found,) = check_ledger(loaded)
    finally:
        with loaded.begin() as conn:
            conn.execute(insert(movements).values(**victim))
    assert (found.source, found.material, found.site, found.warehouse, found.batch) == (
        "u8",
        victim["material"],
        victim["site"],
        "LS01",
        victim["batch"],
    )
    assert (found.t0, found.t1) == (truth.start_at, truth.now_at)
    assert found.difference == victim["quantity"], "stock fell by the lost issue"
    assert check_ledger(loaded) == []


# --- end to end: simulators, connectors, sync, reconcile, explain ------------------


def test_end_to_end_the_mes_only_issue_of_site_1000_is_named(
    truth: Truth, tmp_path: Path, sqlite_url: str
) -> None:
    (only,) = [
        d for d in injected(truth) if d.kind == "mes_only_issue" and d.site == "1000"
    ]
    with start_simulators(
        tmp_path / "sims", names=["sap_odata", "mes_rest"], truth=truth.path
    ) as sims:
        sources: dict[str, Any] = demo_sources(sims)
        settings = Settings.model_validate(
            {
                "store": sqlite_url,
                "sources": {name: sources[name] for name in ("sap", "mes")},
                "reconcile": {
                    "system_of_record": [{"source": "mes", "warehouse": ["LS01"]}],
                    "priority": ["sap", "mes"],
                    "tolerance": {"absolute": "0.001"},
                },
            }
        )
        engine = open_store(sqlite_url)
        try:
            for name in ("sap", "mes"):
                for stream in (Stream.STOCK, Stream.MOVEMENTS):
                    run = sync_stream(engine, settings, name, stream)
                    assert run.status == "succeeded", run.error
                    assert run.rejected == 0
            reconcile(engine, settings)
            key = (only.material, only.site, only.warehouse, only.batch, only.status)
            assert open_conflicts(engine)[key] == only.difference
            report = report_for(engine, truth, key)
        finally:
            engine.dispose()
    first = report.findings[0]
    assert (first.line.source, first.lacking, first.suspicion) == ("mes", "sap", None)
    assert first.line.document == only.document
    assert -first.line.quantity == only.difference
    assert [f for f in report.findings if f.suspicion is None] == [first]
    assert sum(len(c.pairs) for c in report.comparisons) >= 1
