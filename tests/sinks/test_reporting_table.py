"""The reporting table on a real PostgreSQL and on SQLite: exact, atomic, idempotent."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, inspect, select, text

from stockbridge.config.models import Settings
from stockbridge.sinks.base import SinkError
from stockbridge.sinks.push import push
from stockbridge.sinks.registry import build_sink
from stockbridge.sinks.reporting_table import ReportingTableSink, reporting_table
from stockbridge.store.schema import sink_state
from stockbridge.store.stock_queries import StockFilter, iter_consolidated

Rows = list[dict[str, Any]]

PASSWORD = "s3cret-Reporting"
EXACT = ("9223372036854.775807", "0.1", "0.2", "-3.5", "0.000001")
"""The store's largest quantity, decimals a float cannot hold, a negative, one micro-unit."""


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The reporting database; on PostgreSQL with a `reporting` schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'reporting.db'}"
    url: str = request.getfixturevalue("fresh_postgres_url")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA reporting"))
    engine.dispose()
    # Trust auth ignores the password: it is here to show it never leaks.
    return url.replace("postgres@", f"postgres:{PASSWORD}@")


@pytest.fixture
def reader(target: str) -> Iterator[Engine]:
    """Another client of the reporting database, as a BI tool would be."""
    engine = create_engine(target)
    yield engine
    engine.dispose()


def table_name(target: str) -> str:
    return "reporting.stock" if target.startswith("postgresql") else "stock"


@pytest.fixture
def report(kit: Any, target: str) -> Callable[[str], Settings]:
    """The config with one `report` sink in the given mode."""

    def settings(mode: str = "replace") -> Settings:
        sink = {
            "kind": "reporting_table",
            "url": target,
            "table": table_name(target),
            "mode": mode,
            "batch_size": 7,
        }
        return kit.config({"sinks": {"report": sink}})

    return settings


def table_rows(reader: Engine, target: str) -> Rows:
    """The reporting table read back through its declared (typed) layout."""
    t = reporting_table(table_name(target))
    with reader.connect() as conn:
        query = select(t).order_by(t.c.material, t.c.warehouse)
        return [dict(row) for row in conn.execute(query).mappings()]


def count_and_sum(reader: Engine, target: str) -> tuple[int, Decimal]:
    with reader.connect() as conn:
        count, total = conn.execute(
            text(f"SELECT count(*), sum(quantity) FROM {table_name(target)}")
        ).one()
    return int(count), Decimal(str(total))


def test_replace_writes_every_quantity_exactly_and_is_audited(
    kit: Any,
    target: str,
    reader: Engine,
    report: Callable[[str], Settings],
) -> None:
    rows = [
        kit.row(f"M{n}", "1000", "RM01", qty, sources={"sap": qty, "mes": "7"})
        for n, qty in enumerate(EXACT)
    ]
    kit.put(rows)

    result = push(kit.store, report("replace"), "report", apply=True, actor="planner-1")

    assert (result.rows, result.changed, result.sent) == (5, 5, 1)
    got = table_rows(reader, target)
    assert [r["quantity"] for r in got] == [Decimal(q) for q in EXACT]
    assert [r["available"] for r in got] == [Decimal(q) for q in EXACT]
    assert got[1]["sources"] == '{"mes":"7","sap":"0.1"}'
    assert got[1]["as_of"] == rows[1]["as_of"]
    assert (got[1]["conflict"], got[1]["single_source"]) == (True, False)
    with reader.connect() as conn:
        if reader.dialect.name == "postgresql":
            columns = inspect(conn).get_columns("stock", schema="reporting")
            quantity = next(c["type"] for c in columns if c["name"] == "quantity")
            assert (quantity.precision, quantity.scale) == (28, 6)
            total = conn.execute(
                text("SELECT sum(quantity) FROM reporting.stock")
            ).scalar_one()
            assert total == sum(Decimal(q) for q in EXACT)  # summed exactly in SQL
        else:  # decimal text on SQLite: exact, six places
            stored = conn.execute(
                text("SELECT quantity FROM stock WHERE material = 'M1'")
            ).scalar_one()
            assert stored == "0.100000"
    (audit,) = kit.audit()
    assert (audit["actor"], audit["action"]) == ("planner-1", "sink.push")
    assert audit["target"].startswith("reporting_table:report ")
    assert PASSWORD not in str(audit) + str(result)
    assert audit["remote_addr"]
    assert audit["detail"]["outcome"] == "pushed"
    assert audit["detail"]["rows"] == 5
    assert audit["detail"]["content_hash"] == result.content_hash
    assert kit.count(sink_state) == 1


def test_replace_is_one_transaction_a_reader_sees_old_or_new(
    kit: Any,
    target: str,
    reader: Engine,
    report: Callable[[str], Settings],
) -> None:
    settings = report("replace")
    kit.put([kit.row(f"A{n:02}", "1000", "RM01", "1") for n in range(30)])
    push(kit.store, settings, "report", apply=True)
    kit.put([kit.row(f"B{n:02}", "1000", "RM01", "2") for n in range(40)])
    sink = build_sink(settings, "report")
    assert isinstance(sink, ReportingTableSink)
    deleted, resume = threading.Event(), threading.Event()
    seen: list[tuple[int, Decimal]] = []

    def pause_before_first_insert(*args: object) -> None:
        statement = str(args[2])
        if statement.lstrip().upper().startswith("INSERT") and not deleted.is_set():
            deleted.set()  # the old rows are deleted, the new ones not yet written
            resume.wait(10)

    def read_meanwhile() -> None:
        if deleted.wait(10):
            seen.append(count_and_sum(reader, target))
        resume.set()

    event.listen(sink.engine, "before_cursor_execute", pause_before_first_insert)
    thread = threading.Thread(target=read_meanwhile)
    thread.start()
    try:
        with closing(iter_consolidated(kit.store, StockFilter())) as rows:  # type: ignore[type-var]
            sink.push(rows, dry_run=False)
    finally:
        resume.set()
        thread.join()
        sink.close()

    assert seen == [(30, Decimal(30))]  # mid-swap: the old table, whole
    assert count_and_sum(reader, target) == (40, Decimal(80))


def test_upsert_writes_only_what_changed(
    kit: Any,
    target: str,
    reader: Engine,
    report: Callable[[str], Settings],
) -> None:
    settings = report("upsert")
    rows = [kit.row(f"M{n:02}", "1000", "RM01", f"{n}.5") for n in range(20)]
    kit.put(rows)
    assert push(kit.store, settings, "report", apply=True).changed == 20
    before = table_rows(reader, target)
    sink = build_sink(settings, "report")
    assert isinstance(sink, ReportingTableSink)
    writes: list[str] = []

    def count_writes(*args: object) -> None:
        statement = str(args[2]).lstrip().upper()
        if statement.startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(statement)

    event.listen(sink.engine, "before_cursor_execute", count_writes)
    try:
        with closing(iter_consolidated(kit.store, StockFilter())) as again:  # type: ignore[type-var]
            result = sink.push(again, dry_run=False)
    finally:
        sink.close()

    assert (result.changed, writes) == (0, [])
    assert table_rows(reader, target) == before
    rows[3] = kit.row("M03", "1000", "RM01", "99.125")
    del rows[5]
    rows.append(kit.row("M99", "1000", "RM01", "0.000001"))
    kit.put(rows)

    changed = push(kit.store, settings, "report", apply=True)

    assert changed.changed == 3  # one updated, one deleted, one inserted
    got = {r["material"]: r["quantity"] for r in table_rows(reader, target)}
    assert got == {r["material"]: r["quantity"] for r in rows}
    assert got["M03"] == Decimal("99.125")


def test_a_dry_run_opens_no_connection_to_the_target(
    kit: Any,
    reader: Engine,
    report: Callable[[str], Settings],
) -> None:
    kit.put([kit.row("M1", "1000", "RM01", "1.25")])

    result = push(kit.store, report("replace"), "report", apply=False)

    assert (result.dry_run, result.rows, result.sent) == (True, 1, 0)
    assert result.preview[0]["quantity"] == "1.25"
    with reader.connect() as conn:
        schema = "reporting" if reader.dialect.name == "postgresql" else None
        assert not inspect(conn).has_table("stock", schema=schema)
    assert kit.audit() == []
    assert kit.count(sink_state) == 0


def test_a_table_of_another_layout_is_refused_not_altered(
    kit: Any,
    target: str,
    reader: Engine,
    report: Callable[[str], Settings],
) -> None:
    with reader.begin() as conn:
        conn.execute(text(f"CREATE TABLE {table_name(target)} (material TEXT)"))
        conn.execute(text(f"INSERT INTO {table_name(target)} VALUES ('kept')"))
    kit.put([kit.row("M1", "1000", "RM01", "1")])

    with pytest.raises(SinkError, match="exists without the columns key_hash, site"):
        push(kit.store, report("replace"), "report", apply=True)

    with reader.connect() as conn:
        kept = conn.execute(text(f"SELECT material FROM {table_name(target)}"))
        assert kept.scalars().all() == ["kept"]
    (audit,) = kit.audit()
    assert audit["detail"]["outcome"] == "failed"
    assert "exists without the columns" in audit["detail"]["error"]
    assert PASSWORD not in str(audit)
    assert kit.count(sink_state) == 0
