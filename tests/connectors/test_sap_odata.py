"""The `sap_odata` connector end to end, against the SAP simulator over real sockets.

The generated truth is the oracle: the SAP share (plant 1000, system "sap")
of its stock table and of its effective movements. SAP has no unaudited or
voided goods movements: every posted material document moved stock, so the
simulator serves exactly the truth's effective lines and each one must come
back as a movement, keyed (document, item, year).
"""

from __future__ import annotations

import json
import socket
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from stockbridge.config.models import Settings
from stockbridge.connectors.base import CheckState, Page, Stream
from stockbridge.connectors.errors import AuthError, TransientError
from stockbridge.connectors.sap_odata import SapODataConnector, SapODataSettings
from stockbridge.mapping.model import MovementRecord, StockRecord, UnitRecord
from stockbridge.simulators.sap_codes import (
    UNIT_TO_COMMERCIAL,
    external_batch,
    external_material,
)
from stockbridge.simulators.sap_odata import (
    SapODataServer,
    create_sap_odata_app,
    start_sap_odata,
)
from stockbridge.simulators.truth import generate
from stockbridge.store.database import open_store
from stockbridge.store.schema import movements, stock_lines
from stockbridge.sync.runner import sync_stream

USER, PASSWORD, CLIENT = "STOCK_API", "s3cret-Pw-42", "200"
ZONE = "Asia/Shanghai"
PAGE = 60
MovementKey = tuple[str, str, str]


# --- the oracle ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sap-connector-truth") / "truth.sqlite"
    generate(path, seed=23, materials=20, days=10)
    return path


def _rows(truth: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(truth)) as conn:
        return conn.execute(sql).fetchall()


def _local_midnight_utc(iso: str) -> datetime:
    day = datetime.fromisoformat(iso).astimezone(ZoneInfo(ZONE)).date()
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(ZONE)).astimezone(UTC)


def expected_movements(
    truth: Path, *, late: bool = True
) -> dict[MovementKey, tuple[Any, ...]]:
    """Every effective SAP line as the connector must emit it."""
    rows = _rows(
        truth,
        "SELECT m.document, m.line, m.year, m.kind, m.material, m.warehouse, m.batch,"
        " m.status, m.quantity, t.base_unit, m.posted_at, m.entered_at,"
        " o.document, o.line, o.year, m.late FROM movements m"
        " JOIN materials t ON t.material = m.material"
        " LEFT JOIN movements o ON o.id = m.reverses"
        " WHERE m.system = 'sap' AND m.site = '1000' AND m.effective = 1",
    )
    return {
        (doc, str(line), year): (
            kind,
            external_material(material),
            "1000",
            warehouse,
            external_batch(batch),
            status,
            Decimal(quantity),
            UNIT_TO_COMMERCIAL[unit],
            _local_midnight_utc(posted),
            datetime.fromisoformat(entered),
            f"{o_doc}/{o_line}/{o_year}" if o_doc else "",
        )
        for (doc, line, year, kind, material, warehouse, batch, status, quantity, unit,
             posted, entered, o_doc, o_line, o_year, is_late) in rows
        if late or not is_late
    }  # fmt: skip


def served_movements(records: list[Any]) -> dict[MovementKey, tuple[Any, ...]]:
    assert all(isinstance(r, MovementRecord) for r in records), [
        r for r in records if not isinstance(r, MovementRecord)
    ][:3]
    served = {
        (r.document, r.line, r.year): (
            r.kind.value,
            r.material,
            r.site,
            r.warehouse,
            r.batch,
            r.status,
            r.quantity,
            r.unit,
            r.posted_at,
            r.entered_at,
            r.reverses,
        )
        for r in records
    }
    assert len(served) == len(records), "a key was emitted twice in one pull"
    return served


def expected_stock(
    truth: Path, *, early: bool = False
) -> dict[tuple[str, ...], tuple[Decimal, str]]:
    held = defaultdict(Decimal)
    if early:
        for material, warehouse, batch, status, quantity in _rows(
            truth,
            "SELECT material, warehouse, batch, status, quantity FROM movements"
            " WHERE system = 'sap' AND site = '1000' AND late = 1 AND effective = 1",
        ):
            held[material, warehouse, batch, status] += Decimal(quantity)
    return {
        (external_material(m), "1000", w, external_batch(b), s, ""): (
            Decimal(q) - held[m, w, b, s],
            UNIT_TO_COMMERCIAL[u],
        )
        for m, w, b, s, q, u in _rows(
            truth,
            "SELECT s.material, s.warehouse, s.batch, s.status, s.quantity, t.base_unit"
            " FROM stock s JOIN materials t USING (material)"
            " WHERE s.system = 'sap' AND s.site = '1000'",
        )
    }  # fmt: skip


def served_stock(records: list[Any]) -> dict[tuple[str, ...], tuple[Decimal, str]]:
    assert all(isinstance(r, StockRecord) for r in records)
    return {
        (r.material, r.site, r.warehouse, r.batch, r.status, r.special_stock): (
            r.quantity,
            r.unit,
        )
        for r in records
    }


# --- servers and connectors -----------------------------------------------------------


@pytest.fixture(scope="module")
def server(
    truth: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SapODataServer]:
    work = tmp_path_factory.mktemp("sap-connector-work")
    srv = start_sap_odata(
        truth, work, username=USER, password=PASSWORD, client=CLIENT, timezone=ZONE
    )
    yield srv
    srv.stop()


@pytest.fixture
def sap(server: SapODataServer) -> Iterator[SapODataServer]:
    """The shared server; its fault knobs are back at rest afterwards."""
    yield server
    server.faults.update(
        error_rate=0.0,
        throttle_rate=0.0,
        retry_after=1,
        latency=0.0,
        drop_rate=0.0,
        truncate_rate=0.0,
        session_expiry_calls=0,
        late_postings=False,
    )


def settings_for(server: SapODataServer, **overrides: Any) -> SapODataSettings:
    values: dict[str, Any] = {
        "url": f"{server.url}/sap/opu/odata/sap",
        "client": CLIENT,
        "username": USER,
        "password": PASSWORD,
        "timezone": ZONE,
        "page_size": PAGE,
        "retry_attempts": 10,
        "retry_max_wait": 0.05,
        **overrides,
    }
    return SapODataSettings.model_validate(values)


def connect(server: SapODataServer, **overrides: Any) -> SapODataConnector:
    return SapODataConnector(
        "sap1000", settings_for(server, **overrides), timezone="UTC"
    )


def pull(pages: Iterator[Page]) -> tuple[list[Page], list[Any]]:
    collected = list(pages)
    assert all(len(p.records) <= PAGE for p in collected)
    return collected, [r for p in collected for r in p.records]


def stamp(cursor: str) -> datetime:
    data = json.loads(cursor)
    local = datetime.fromisoformat(f"{data['creation_date']}T{data['creation_time']}")
    return local.replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC)


# --- check ------------------------------------------------------------------------------


def test_check_says_ok_auth_failed_unreachable_and_protocol_error(
    sap: SapODataServer,
) -> None:
    with connect(sap) as ok:
        assert ok.check().state is CheckState.OK
    with connect(sap, password="wrong-password") as refused:
        assert refused.check().state is CheckState.AUTH_FAILED
    with connect(sap, client="999") as other_client:
        assert other_client.check().state is CheckState.AUTH_FAILED
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    closed = f"http://127.0.0.1:{closed_port}/sap/opu/odata/sap"
    with connect(sap, url=closed) as unreachable:
        assert unreachable.check().state is CheckState.UNREACHABLE
    with connect(sap, url=f"{sap.url}/sap/opu/odata/sap/ZWRONG") as wrong:
        result = wrong.check()
    assert result.state is CheckState.PROTOCOL_ERROR
    assert "No service found" in result.detail
    assert PASSWORD not in result.detail


# --- full pulls ---------------------------------------------------------------------------


def test_stock_equals_the_truth(sap: SapODataServer, truth: Path) -> None:
    before = datetime.now(UTC)
    with connect(sap) as conn:
        pages, records = pull(conn.stock())
    assert len(pages) > 1
    assert served_stock(records) == expected_stock(truth)
    assert len(records) == len(expected_stock(truth)), "rows are not aggregated"
    assert all(before <= r.as_of <= datetime.now(UTC) for r in records)
    assert all(r.raw["Plant"] == "1000" and "Supplier" in r.raw for r in records)


def test_plants_filter_reads_only_those_plants(sap: SapODataServer) -> None:
    with connect(sap, plants=["1100"]) as conn:
        assert list(conn.stock()) == []
        pages = list(conn.movements(None, lookback=timedelta(0)))
    assert [r for p in pages for r in p.records] == []
    assert pages[-1].cursor is not None, "the documents were read, so the cursor moves"


def test_movements_equal_the_truth(sap: SapODataServer, truth: Path) -> None:
    with connect(sap) as conn:
        pages, records = pull(conn.movements(None, lookback=timedelta(hours=2)))
    expected = expected_movements(truth)
    assert served_movements(records) == expected
    assert {v[0] for v in expected.values()} >= {"transfer", "reversal", "receipt"}
    cursors = [stamp(p.cursor) for p in pages if p.cursor]
    assert len(pages) > 3
    assert cursors == sorted(cursors)
    assert cursors[-1] == max(r.entered_at for r in records)


def test_movements_without_debit_credit_code_use_the_movement_type_table(
    truth: Path, tmp_path: Path
) -> None:
    app = create_sap_odata_app(
        truth, tmp_path, username=USER, password=PASSWORD, client=CLIENT,
        timezone=ZONE, debit_credit_code=False,
    )  # fmt: skip
    with SapODataServer(app) as old, connect(old) as conn:
        _, records = pull(conn.movements(None, lookback=timedelta(hours=2)))
        asked = [path for _, path in old.requests]
    assert served_movements(records) == expected_movements(truth)
    assert sum("$metadata" in p for p in asked) == 1, "metadata is read once per run"
    assert not any("DebitCreditCode" in p for p in asked)


def test_units_equal_the_truth(sap: SapODataServer, truth: Path) -> None:
    with connect(sap) as conn:
        _, records = pull(conn.units())
    assert all(isinstance(r, UnitRecord) for r in records)
    served = {(r.material, r.unit): (r.base_unit, r.factor) for r in records}
    expected = {
        (external_material(m), UNIT_TO_COMMERCIAL[alt]): (
            UNIT_TO_COMMERCIAL[base],
            Fraction(Decimal(factor)),
        )
        for m, base, alt, factor in _rows(
            truth, "SELECT material, base_unit, alt_unit, alt_factor FROM materials WHERE alt_unit != ''"
        )
    }  # fmt: skip
    assert served == expected
    assert expected


# --- incremental pulls ------------------------------------------------------------------------


def test_incremental_pull_returns_newer_documents_plus_the_lookback(
    sap: SapODataServer,
) -> None:
    with connect(sap) as conn:
        pages, everything = pull(conn.movements(None, lookback=timedelta(0)))
        cursor = pages[len(pages) // 2].cursor
        assert cursor is not None
        since = stamp(cursor)
        for lookback in (timedelta(0), timedelta(hours=6)):
            _, again = pull(conn.movements(cursor, lookback=lookback))
            newer = {
                (r.document, r.line, r.year)
                for r in everything
                if r.entered_at >= since - lookback
            }
            assert {(r.document, r.line, r.year) for r in again} == newer
            assert 0 < len(newer) < len(everything)
        last = pages[-1].cursor
        assert last is not None
        _, at_end = pull(conn.movements(last, lookback=timedelta(0)))
    assert stamp(last) == max(r.entered_at for r in everything)
    assert {r.entered_at for r in at_end} == {stamp(last)}, "only the last second again"


def test_resume_from_a_cursor_saved_mid_way_loses_nothing(sap: SapODataServer) -> None:
    with connect(sap) as conn:
        _, everything = pull(conn.movements(None, lookback=timedelta(0)))
        committed: list[Any] = []
        stream = conn.movements(None, lookback=timedelta(0))
        for _ in range(3):
            page = next(stream)
            committed.extend(page.records)
            cursor = page.cursor
        stream.close()  # the process dies here
        _, resumed = pull(conn.movements(cursor, lookback=timedelta(0)))

    def keys(rs: list[Any]) -> set[MovementKey]:
        return {(r.document, r.line, r.year) for r in rs}

    assert keys(committed) | keys(resumed) == keys(everything)
    assert len(resumed) < len(everything)


def test_a_cursor_this_connector_did_not_write_is_a_clear_error(
    sap: SapODataServer,
) -> None:
    with connect(sap) as conn, pytest.raises(Exception, match="full sync"):
        list(conn.movements("12345", lookback=timedelta(0)))


# --- auth and faults ---------------------------------------------------------------------------


@pytest.mark.parametrize("stream", ["stock", "movements", "units"])
def test_bad_credentials_raise_auth_error_without_retrying(
    sap: SapODataServer, stream: str
) -> None:
    before = len(sap.requests)
    with connect(sap, password="not-the-password") as conn:
        pages = (
            conn.movements(None, lookback=timedelta(0))
            if stream == "movements"
            else getattr(conn, stream)()
        )
        with pytest.raises(AuthError) as info:
            list(pages)
    assert len(sap.requests) - before == 1
    assert "401" in str(info.value)
    assert "not-the-password" not in str(info.value)


@pytest.mark.parametrize(
    "knobs",
    [
        {"error_rate": 0.3},
        {"drop_rate": 0.25},
        {"truncate_rate": 0.25},
        {"latency": 0.02},
        {"session_expiry_calls": 1},
    ],
    ids=lambda k: next(iter(k)),
)
def test_fault_knobs_end_in_the_exact_result(
    sap: SapODataServer, truth: Path, knobs: dict[str, float]
) -> None:
    def requests_for_a_full_pull() -> int:
        before = len(sap.requests)
        with connect(sap) as conn:
            _, stock = pull(conn.stock())
            _, moved = pull(conn.movements(None, lookback=timedelta(0)))
        assert served_stock(stock) == expected_stock(truth)
        assert served_movements(moved) == expected_movements(truth)
        return len(sap.requests) - before

    calm = requests_for_a_full_pull()
    sap.faults.update(**knobs)
    sap.reseed(7)
    stormy = requests_for_a_full_pull()
    if "rate" in next(iter(knobs)):
        assert stormy > calm, "some calls failed and were retried"


def test_throttling_waits_as_long_as_retry_after_says(
    sap: SapODataServer, truth: Path
) -> None:
    sap.faults.update(throttle_rate=0.4, retry_after=3)
    sap.reseed(3)
    waits: list[float] = []
    conn = SapODataConnector(
        "sap1000", settings_for(sap), timezone="UTC", sleep=waits.append
    )
    with conn:
        _, moved = pull(conn.movements(None, lookback=timedelta(0)))
    assert served_movements(moved) == expected_movements(truth)
    assert waits
    assert set(waits) == {3.0}


def test_persistent_server_errors_end_in_a_clear_transient_error(
    sap: SapODataServer,
) -> None:
    sap.faults.update(error_rate=1.0)
    before = len(sap.requests)
    with (
        connect(sap, retry_attempts=3) as conn,
        pytest.raises(TransientError, match=r"answered 50[023]"),
    ):
        list(conn.stock())
    assert len(sap.requests) - before == 3


def test_a_server_slower_than_the_timeout_is_a_clear_transient_error(
    sap: SapODataServer,
) -> None:
    sap.faults.update(latency=0.5)
    with (
        connect(sap, timeout=0.1, retry_attempts=2) as conn,
        pytest.raises(TransientError, match="timed out"),
    ):
        list(conn.units())


def test_late_postings_are_caught_by_a_lookback_that_covers_them(
    sap: SapODataServer, truth: Path
) -> None:
    late = {k for k, v in expected_movements(truth).items()} - set(
        expected_movements(truth, late=False)
    )
    assert late, "the truth has late SAP postings"
    sap.faults.update(late_postings=True)
    with connect(sap) as conn:
        pages, early = pull(conn.movements(None, lookback=timedelta(0)))
        _, stock = pull(conn.stock())
        assert served_movements(early) == expected_movements(truth, late=False)
        assert served_stock(stock) == expected_stock(truth, early=True)
        cursor = pages[-1].cursor
        sap.faults.update(late_postings=False)
        _, short = pull(conn.movements(cursor, lookback=timedelta(hours=2)))
        _, long = pull(conn.movements(cursor, lookback=timedelta(days=10)))
    assert not late & {(r.document, r.line, r.year) for r in short}
    assert {**served_movements(early), **served_movements(long)} == expected_movements(
        truth
    )


# --- through sync into a store -------------------------------------------------------------------


def test_sync_end_to_end_loads_what_the_truth_says(
    sap: SapODataServer, truth: Path, sqlite_url: str
) -> None:
    source = {
        "kind": "sap_odata",
        "timezone": ZONE,
        "url": f"{sap.url}/sap/opu/odata/sap",
        "client": CLIENT,
        "username": USER,
        "password": PASSWORD,
        "page_size": 100,
    }
    settings = Settings.model_validate(
        {"timezone": "UTC", "sources": {"sap1000": source}}
    )
    engine = open_store(sqlite_url)
    try:
        for stream in (Stream.UNITS, Stream.STOCK, Stream.MOVEMENTS):
            run = sync_stream(engine, settings, "sap1000", stream)
            assert run.status == "succeeded", run.error
            assert run.pulled == run.loaded + run.rejected
            assert run.rejected == 0
            assert run.pulled > 0
        with engine.connect() as conn:
            loaded = defaultdict(Decimal)
            units = set()
            for row in conn.execute(select(movements)):
                loaded[row.material, row.warehouse, row.batch, row.status] += (
                    row.quantity
                )
                units.add(row.unit)
            stock = {
                (r.material, r.warehouse, r.batch, r.status): (r.quantity, r.unit)
                for r in conn.execute(select(stock_lines))
            }
    finally:
        engine.dispose()
    expected = defaultdict(Decimal)
    for m, w, b, s, q in _rows(
        truth,
        "SELECT material, warehouse, batch, status, quantity FROM movements"
        " WHERE system = 'sap' AND site = '1000' AND effective = 1",
    ):
        expected[m, w, b, s] += Decimal(q)
    assert dict(loaded) == dict(expected)
    assert units <= {"KGM", "H87", "MTR", "LTR"}
    assert "H87" in units
    truth_stock = {
        (m, w, b, s): (Decimal(q), u)
        for m, w, b, s, q, u in _rows(
            truth,
            "SELECT s.material, s.warehouse, s.batch, s.status, s.quantity, t.base_unit"
            " FROM stock s JOIN materials t USING (material)"
            " WHERE s.system = 'sap' AND s.site = '1000'",
        )
    }
    assert stock == truth_stock
