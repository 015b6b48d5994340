"""The `sap_soap` connector end to end: zeep against the ECC simulator's served WSDL.

The generated truth is the oracle: the ECC share (plant 1100, system "ecc")
of its stock table and of its effective movements. ECC has no unposted
goods movements: every material document line moved stock, so each
effective truth line must come back as a movement keyed (document, item,
year), and nothing else. Reversals come back as kind `reversal` naming the
line they cancel.
"""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import select

from stockbridge.config.models import Settings
from stockbridge.connectors.base import CheckState, Page, Stream
from stockbridge.connectors.errors import (
    AuthError,
    ProtocolError,
    SourceConfigError,
    TransientError,
)
from stockbridge.connectors.sap_soap import SapSoapConnector, SapSoapSettings
from stockbridge.connectors.sap_soap_rows import (
    MARD_STATUS,
    MCHB_STATUS,
    movement_record,
    stock_records,
)
from stockbridge.mapping.model import MovementRecord, StockRecord, UnreadableRecord
from stockbridge.simulators.http_server import SimServer
from stockbridge.simulators.soap import start_sap_ecc
from stockbridge.simulators.soap_ecc_codes import SAP_UNITS
from stockbridge.simulators.truth import generate
from stockbridge.store.database import open_store
from stockbridge.store.schema import movements, stock_lines
from stockbridge.sync.runner import sync_stream

USER, PASSWORD, CLIENT = "RFC_STOCK", "ecc-S3cret-pw", "100"
ZONE = "Asia/Shanghai"
PLANT = "1100"
MovementKey = tuple[str, str, str]


# --- the oracle -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ecc-truth") / "truth.sqlite"
    generate(path, seed=31, materials=15, days=20)
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
    """Every effective ECC line, as the connector must emit it."""
    rows = _rows(
        truth,
        "SELECT m.document, m.line, m.year, m.kind, m.material, m.warehouse, m.batch,"
        " m.status, m.quantity, t.base_unit, m.posted_at, m.entered_at, m.order_ref,"
        " o.document, o.line, o.year, m.late FROM movements m"
        " JOIN materials t ON t.material = m.material"
        " LEFT JOIN movements o ON o.id = m.reverses"
        f" WHERE m.system = 'ecc' AND m.site = '{PLANT}' AND m.effective = 1",
    )
    return {
        (doc, str(line), year): (
            kind, material, PLANT, warehouse, batch.upper(), status, Decimal(quantity),
            SAP_UNITS[unit], _local_midnight_utc(posted),
            datetime.fromisoformat(entered).replace(microsecond=0),
            f"{o_doc}/{o_line}/{o_year}" if o_doc else "", order_ref,
        )
        for (doc, line, year, kind, material, warehouse, batch, status, quantity, unit,
             posted, entered, order_ref, o_doc, o_line, o_year, is_late) in rows
        if late or not is_late
    }  # fmt: skip


def served_movements(records: list[Any]) -> dict[MovementKey, tuple[Any, ...]]:
    assert all(isinstance(r, MovementRecord) for r in records), [
        r for r in records if not isinstance(r, MovementRecord)
    ][:3]
    served = {
        (r.document, r.line, r.year): (
            r.kind.value, r.material, r.site, r.warehouse, r.batch, r.status,
            r.quantity, r.unit, r.posted_at, r.entered_at, r.reverses, r.order_ref,
        )
        for r in records
    }  # fmt: skip
    assert len(served) == len(records), "a key was emitted twice in one pull"
    return served


def expected_stock(
    truth: Path, *, early: bool = False
) -> dict[tuple[str, ...], tuple[Decimal, str]]:
    """Non-zero ECC stock per key; `early`: without the late lines' effect."""
    held: dict[tuple[str, ...], Decimal] = defaultdict(Decimal)
    if early:
        for m, w, b, s, q in _rows(
            truth,
            "SELECT material, warehouse, batch, status, quantity FROM movements"
            " WHERE system = 'ecc' AND late = 1 AND effective = 1",
        ):
            held[m, w, b, s] += Decimal(q)
    expected = {
        (m, PLANT, w, b.upper(), s): (Decimal(q) - held[m, w, b, s], SAP_UNITS[u])
        for m, w, b, s, q, u in _rows(
            truth,
            "SELECT s.material, s.warehouse, s.batch, s.status, s.quantity, t.base_unit"
            " FROM stock s JOIN materials t USING (material) WHERE s.system = 'ecc'",
        )
    }
    return {key: value for key, value in expected.items() if value[0]}


def served_stock(records: list[Any]) -> dict[tuple[str, ...], tuple[Decimal, str]]:
    assert all(isinstance(r, StockRecord) for r in records), [
        r for r in records if not isinstance(r, StockRecord)
    ][:3]
    served = {
        (r.material, r.site, r.warehouse, r.batch, r.status): (r.quantity, r.unit)
        for r in records
    }
    assert len(served) == len(records), "a stock key was emitted twice"
    return served


# --- servers and connectors -------------------------------------------------------------


def _start(truth: Path, work: Path) -> SimServer:
    return start_sap_ecc(truth, work, username=USER, password=PASSWORD, client=CLIENT)


@pytest.fixture(scope="module")
def server(
    truth: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimServer]:
    with _start(truth, tmp_path_factory.mktemp("ecc-work")) as srv:
        yield srv


@pytest.fixture
def ecc(server: SimServer) -> Iterator[SimServer]:
    """The shared server; its fault knobs and evil replies are back at rest afterwards."""
    server.requests.clear()
    yield server
    server.faults.update(
        error_rate=0.0, throttle_rate=0.0, retry_after=1, latency=0.0,
        drop_rate=0.0, truncate_rate=0.0, late_postings=False,
    )  # fmt: skip
    server.app.evil_reply = None


def wsdl_url(server: SimServer) -> str:
    return f"{server.url}{server.app.endpoint_path}?wsdl"


def settings_for(server: SimServer, **overrides: Any) -> SapSoapSettings:
    values: dict[str, Any] = {
        "wsdl": wsdl_url(server),
        "username": USER,
        "password": PASSWORD,
        "client": CLIENT,
        "plants": [PLANT],
        "timezone": ZONE,
        "page_size": 40,
        "retry_attempts": 8,
        "retry_max_wait": 0.01,
        "timeout": 5,
    }
    values.update(overrides)
    return SapSoapSettings.model_validate(values)


def connector_for(server: SimServer, **overrides: Any) -> SapSoapConnector:
    return SapSoapConnector(
        "ecc1100",
        settings_for(server, **overrides),
        timezone="UTC",
        sleep=lambda _: None,
    )


def pull(pages: Iterator[Page]) -> tuple[list[Page], list[Any]]:
    collected = list(pages)
    return collected, [record for page in collected for record in page.records]


def calls(server: SimServer, method: str = "POST") -> int:
    return sum(1 for m, _ in server.requests if m == method)


# --- check ----------------------------------------------------------------------------------


def test_check_says_ok_auth_failed_unreachable_and_protocol_error(
    ecc: SimServer,
) -> None:
    with connector_for(ecc) as conn:
        assert conn.check().state is CheckState.OK
    with connector_for(ecc, password="wrong-password") as conn:
        result = conn.check()
        assert result.state is CheckState.AUTH_FAILED
        assert "wrong-password" not in result.detail
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    url = f"http://127.0.0.1:{closed}{ecc.app.endpoint_path}?wsdl"
    with connector_for(ecc, wsdl=url) as conn:
        assert conn.check().state is CheckState.UNREACHABLE
    with connector_for(ecc, plants=["9999"]) as conn:
        result = conn.check()
        assert result.state is CheckState.PROTOCOL_ERROR
        assert "PLANT_NOT_FOUND: Plant 9999 does not exist" in result.detail


# --- full pulls ------------------------------------------------------------------------------


def test_stock_equals_the_truth(ecc: SimServer, truth: Path) -> None:
    with connector_for(ecc) as conn:
        pages, records = pull(conn.stock())
    assert all(len(page.records) <= 40 for page in pages)
    assert len(pages) > 1
    assert served_stock(records) == expected_stock(truth)
    assert any(r.batch for r in records), "batch stock comes per batch (MCHB)"
    assert any(not r.batch for r in records), "other stock from MARD"
    padded = [r.raw["MATNR"] for r in records if r.material.isdigit()]
    assert padded
    assert all(len(matnr) == 18 for matnr in padded), "raw keeps SAP's padded MATNR"


def test_movements_equal_the_truth(ecc: SimServer, truth: Path) -> None:
    with connector_for(ecc) as conn:
        pages, records = pull(conn.movements(None, lookback=timedelta(hours=2)))
    assert all(len(page.records) <= 40 for page in pages)
    assert served_movements(records) == expected_movements(truth)
    kinds = {r.kind.value for r in records}
    assert {"reversal", "production_issue", "production_receipt", "transfer"} <= kinds
    cursors = [json.loads(page.cursor)["entered"][PLANT] for page in pages]
    assert cursors == sorted(cursors)


def test_a_local_wsdl_file_with_the_endpoint_and_soap12_binding(
    ecc: SimServer, truth: Path, tmp_path: Path
) -> None:
    wsdl = requests.get(
        wsdl_url(ecc), auth=(USER, PASSWORD), params={"sap-client": CLIENT}, timeout=5
    ).text
    endpoint = f"{ecc.url}{ecc.app.endpoint_path}"
    # a WSDL saved from another landscape: its address points nowhere
    local = tmp_path / "zmm_stock.wsdl"
    local.write_text(wsdl.replace(endpoint, "http://127.0.0.1:9/nowhere"), "utf-8")
    ecc.requests.clear()
    with connector_for(
        ecc, wsdl=str(local), endpoint=endpoint, binding="ZMM_STOCK_soap12"
    ) as conn:
        _, records = pull(conn.stock())
    assert served_stock(records) == expected_stock(truth)
    assert calls(ecc, "GET") == 0, "the WSDL came from the file"
    missing = str(tmp_path / "missing.wsdl")
    with (
        connector_for(ecc, wsdl=missing) as conn,
        pytest.raises(SourceConfigError, match=r"missing\.wsdl"),
    ):
        list(conn.stock())
    with (
        connector_for(ecc, wsdl=str(local), binding="NO_SUCH_BINDING") as conn,
        pytest.raises(SourceConfigError, match="NO_SUCH_BINDING"),
    ):
        list(conn.stock())


# --- incremental pulls --------------------------------------------------------------------


def _split(pages: list[Page]) -> tuple[Page, list[Any]]:
    middle = pages[len(pages) // 2]
    after = [r for page in pages[len(pages) // 2 + 1 :] for r in page.records]
    return middle, after


def test_incremental_pull_returns_newer_lines_plus_the_lookback(
    ecc: SimServer, truth: Path
) -> None:
    with connector_for(ecc) as conn:
        pages, records = pull(conn.movements(None, lookback=timedelta(0)))
        middle, _ = _split(pages)
        stamp = datetime.fromisoformat(json.loads(middle.cursor)["entered"][PLANT])
        _, again = pull(conn.movements(middle.cursor, lookback=timedelta(0)))
        _, wider = pull(conn.movements(middle.cursor, lookback=timedelta(hours=6)))
    zone = ZoneInfo(ZONE)

    def entered_local(r: MovementRecord) -> datetime:
        assert r.entered_at is not None
        return r.entered_at.astimezone(zone).replace(tzinfo=None)

    keys = {(r.document, r.line, r.year) for r in again}
    assert keys == {
        (r.document, r.line, r.year) for r in records if entered_local(r) >= stamp
    }
    assert 0 < len(keys) < len(records)
    window = stamp - timedelta(hours=6)
    assert {(r.document, r.line, r.year) for r in wider} == {
        (r.document, r.line, r.year) for r in records if entered_local(r) >= window
    }


def test_resume_from_a_cursor_saved_mid_way_loses_nothing(
    ecc: SimServer, truth: Path
) -> None:
    with connector_for(ecc) as conn:
        stream = conn.movements(None, lookback=timedelta(hours=2))
        first = [next(stream), next(stream), next(stream)]
        stream.close()  # the process died after committing three pages
        _, rest = pull(conn.movements(first[-1].cursor, lookback=timedelta(0)))
    committed = [r for page in first for r in page.records]
    assert {**served_movements(committed), **served_movements(rest)} == (
        expected_movements(truth)
    )


def test_a_cursor_this_connector_did_not_write_is_a_clear_error(ecc: SimServer) -> None:
    with connector_for(ecc) as conn, pytest.raises(SourceConfigError, match="cursor"):
        list(conn.movements('{"creation_date": "2026-03-01"}', lookback=timedelta(0)))


# --- errors -------------------------------------------------------------------------------------


def test_bad_credentials_raise_auth_error_without_retrying(ecc: SimServer) -> None:
    with (
        connector_for(ecc, password="not-the-password") as conn,
        pytest.raises(AuthError) as raised,
    ):
        list(conn.stock())
    assert calls(ecc, "GET") == 1, "a refused logon is not retried"
    assert "401" in str(raised.value)
    assert "not-the-password" not in str(raised.value)


def test_a_soap_fault_is_a_protocol_error_with_sap_s_text(ecc: SimServer) -> None:
    with (
        connector_for(ecc, plants=[PLANT, "9999"]) as conn,
        pytest.raises(ProtocolError, match="PLANT_NOT_FOUND: Plant 9999 does not"),
    ):
        list(conn.movements(None, lookback=timedelta(0)))
    with (
        connector_for(ecc, operations={"stock": "ZMM_NO_SUCH_FM"}) as conn,
        pytest.raises(SourceConfigError, match="ZMM_STOCK_READ"),
    ):
        list(conn.stock())


@pytest.mark.parametrize(
    "knobs",
    [
        {"error_rate": 0.3},
        {"throttle_rate": 0.3, "retry_after": 7},
        {"drop_rate": 0.3},
        {"truncate_rate": 0.3},
        {"latency": 0.01},
    ],
    ids=["5xx", "429", "dropped", "truncated", "latency"],
)
def test_fault_knobs_end_in_the_exact_result(
    ecc: SimServer, truth: Path, knobs: dict[str, Any]
) -> None:
    ecc.faults.update(**knobs)
    ecc.reseed(3)
    waits: list[float] = []
    conn = SapSoapConnector(
        "ecc1100", settings_for(ecc, page_size=100), timezone="UTC", sleep=waits.append
    )
    with conn:
        _, moved = pull(conn.movements(None, lookback=timedelta(0)))
        _, stock = pull(conn.stock())
    assert served_movements(moved) == expected_movements(truth)
    assert served_stock(stock) == expected_stock(truth)
    if "latency" not in knobs:
        assert waits, "the knob did strike, and the connector retried"
    if "retry_after" in knobs:
        assert set(waits) == {7.0}, "a 429 waits as long as Retry-After says"


def test_persistent_server_errors_end_in_a_clear_transient_error(
    ecc: SimServer,
) -> None:
    with connector_for(ecc) as conn:
        conn.check()  # the WSDL is loaded; now every call fails
        ecc.faults.update(error_rate=1.0)
        ecc.requests.clear()
        with pytest.raises(TransientError, match="simulated fault"):
            list(conn.stock())
    assert calls(ecc) == 8, "retried retry_attempts times, then given up"


def test_a_server_slower_than_the_timeout_is_a_clear_transient_error(
    ecc: SimServer,
) -> None:
    ecc.faults.update(latency=0.4)
    with (
        connector_for(ecc, timeout=0.1, retry_attempts=2) as conn,
        pytest.raises(TransientError, match="timed out"),
    ):
        list(conn.stock())


# --- late postings ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def late_truth(truth: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The truth with a few ECC lines (not reversed ones) entered late."""
    copy = tmp_path_factory.mktemp("ecc-late") / "truth.sqlite"
    shutil.copyfile(truth, copy)
    with closing(sqlite3.connect(copy)) as conn:
        conn.execute(
            "UPDATE movements SET late = 1 WHERE id IN (SELECT id FROM movements"
            " WHERE system = 'ecc' AND effective = 1 AND reverses IS NULL"
            " AND id NOT IN (SELECT reverses FROM movements WHERE reverses IS NOT NULL)"
            " ORDER BY entered_at LIMIT 5 OFFSET 20)"
        )
        conn.commit()
    return copy


def test_late_postings_are_missing_everywhere_until_entered(
    late_truth: Path, tmp_path: Path
) -> None:
    with _start(late_truth, tmp_path) as server:
        server.faults.late_postings = True
        with connector_for(server) as conn:
            pages, early = pull(conn.movements(None, lookback=timedelta(0)))
            _, stock = pull(conn.stock())
            assert served_movements(early) == expected_movements(late_truth, late=False)
            assert served_stock(stock) == expected_stock(late_truth, early=True)
            assert served_stock(stock) != expected_stock(late_truth)
            cursor = pages[-1].cursor
            server.faults.late_postings = False
            late = set(expected_movements(late_truth)) - set(
                expected_movements(late_truth, late=False)
            )
            assert len(late) == 5
            _, short = pull(conn.movements(cursor, lookback=timedelta(hours=1)))
            _, long = pull(conn.movements(cursor, lookback=timedelta(days=30)))
            _, stock = pull(conn.stock())
    assert not late & set(served_movements(short))
    assert {**served_movements(early), **served_movements(long)} == (
        expected_movements(late_truth)
    )
    assert served_stock(stock) == expected_stock(late_truth)


# --- through sync into a store ---------------------------------------------------------------


def test_sync_end_to_end_loads_what_the_truth_says(
    ecc: SimServer, truth: Path, sqlite_url: str
) -> None:
    source = {
        "kind": "sap_soap",
        "timezone": ZONE,
        "wsdl": wsdl_url(ecc),
        "client": CLIENT,
        "username": USER,
        "password": PASSWORD,
        "plants": [PLANT],
        "page_size": 100,
    }
    settings = Settings.model_validate({"timezone": "UTC", "sources": {"ecc": source}})
    engine = open_store(sqlite_url)
    try:
        for stream in (Stream.STOCK, Stream.MOVEMENTS):
            run = sync_stream(engine, settings, "ecc", stream)
            assert run.status == "succeeded", run.error
            assert run.pulled == run.loaded + run.rejected
            assert run.rejected == 0
            assert run.pulled > 0
        with engine.connect() as conn:
            loaded: dict[tuple[str, ...], Decimal] = defaultdict(Decimal)
            for row in conn.execute(select(movements)):
                loaded[row.material, row.warehouse, row.batch, row.status] += (
                    row.quantity
                )
            units = {row.unit for row in conn.execute(select(movements))}
            stock = {
                (r.material, r.warehouse, r.batch, r.status): (r.quantity, r.unit)
                for r in conn.execute(select(stock_lines))
            }
    finally:
        engine.dispose()
    expected: dict[tuple[str, ...], Decimal] = defaultdict(Decimal)
    for m, w, b, s, q in _rows(
        truth,
        "SELECT material, warehouse, batch, status, quantity FROM movements"
        " WHERE system = 'ecc' AND effective = 1",
    ):
        expected[m, w, b.upper(), s] += Decimal(q)
    assert dict(loaded) == dict(expected)
    assert units <= {"KGM", "H87", "MTR", "LTR"}
    assert "H87" in units
    truth_stock = {
        (m, w, b.upper(), s): (Decimal(q), u)
        for m, w, b, s, q, u in _rows(
            truth,
            "SELECT s.material, s.warehouse, s.batch, s.status, s.quantity, t.base_unit"
            " FROM stock s JOIN materials t USING (material)"
            " WHERE s.system = 'ecc' AND s.quantity + 0 <> 0",
        )
    }
    assert stock == truth_stock


# --- rows SAP may send that the simulator does not ---------------------------------------------

CHINA = ZoneInfo(ZONE)


def _line(**fields: str) -> dict[str, str]:
    row = {
        "MBLNR": "4900000100", "MJAHR": "2026", "ZEILE": "0001", "BWART": "311",
        "SHKZG": "S", "INSMK": "", "MATNR": "000000000000100023", "WERKS": PLANT,
        "LGORT": "LS01", "CHARG": "", "MENGE": "5.000", "MEINS": "ST",
        "ERFMG": "5.000", "ERFME": "ST", "BUDAT": "2026-03-01", "CPUDT": "2026-03-01",
        "CPUTM": "09:05:00", "SMBLN": "", "SMBLP": "0000", "SJAHR": "0000",
        "AUFNR": "", "EBELN": "", "KDAUF": "",
    }  # fmt: skip
    row.update(fields)
    return row


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"BWART": "313", "SHKZG": "S"}, "in_transit"),
        ({"BWART": "313", "SHKZG": "H"}, "unrestricted"),
        ({"BWART": "315", "SHKZG": "H"}, "in_transit"),
        (
            {"BWART": "314", "SHKZG": "H", "SMBLN": "4900000001", "SJAHR": "2026"},
            "in_transit",
        ),
        ({"INSMK": "S"}, "blocked"),
        ({"INSMK": "3"}, "blocked"),
        ({"INSMK": "X"}, "quality_inspection"),
        ({"INSMK": "Q"}, "Q"),
    ],
)
def test_a_line_s_stock_status(fields: dict[str, str], status: str) -> None:
    record = movement_record(_line(**fields), CHINA)
    assert isinstance(record, MovementRecord)
    assert record.status == status


def test_a_line_reads_as_sap_means_it() -> None:
    record = movement_record(
        _line(BWART="101", AUFNR="000001000002", SHKZG="S", CPUTM="01:30:00"), CHINA
    )
    assert isinstance(record, MovementRecord)
    assert (record.kind.value, record.order_ref) == ("production_receipt", "1000002")
    assert (record.material, record.line, record.quantity) == (
        "100023",
        "1",
        Decimal(5),
    )
    assert record.posted_at == datetime(2026, 2, 28, 16, tzinfo=UTC)
    assert record.entered_at == datetime(2026, 2, 28, 17, 30, tzinfo=UTC)
    reversal = movement_record(
        _line(BWART="102", SHKZG="H", SMBLN="5000000001", SMBLP="0002", SJAHR="2025"),
        CHINA,
    )
    assert isinstance(reversal, MovementRecord)
    assert (reversal.kind.value, reversal.reverses) == ("reversal", "5000000001/2/2025")
    assert reversal.quantity == Decimal(-5)


def test_lines_without_storage_location_stock_are_left_out() -> None:
    assert movement_record(_line(BWART="103"), CHINA) is None
    assert movement_record(_line(BWART="201", LGORT=""), CHINA) is None


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"BWART": "999"}, "movement type '999'"),
        ({"SHKZG": ""}, "SHKZG ''"),
        ({"MENGE": "-5.000"}, "negative"),
        ({"MENGE": "5,000"}, "not a number"),
        ({"BUDAT": "00000000"}, "BUDAT"),
        ({"CPUTM": "9h05"}, "CPUTM"),
        ({"SMBLN": "4900000001", "SJAHR": "0000"}, "names no year"),
    ],
)
def test_a_line_that_cannot_be_read_says_why(
    fields: dict[str, str], reason: str
) -> None:
    record = movement_record(_line(**fields), CHINA)
    assert isinstance(record, UnreadableRecord)
    assert reason in record.reason
    assert record.raw["MBLNR"] == "4900000100"


def _mard(matnr: str, lgort: str, **figures: str) -> dict[str, str]:
    row = {"MATNR": matnr, "WERKS": PLANT, "LGORT": lgort, "MEINS": "ST"}
    return {**row, **dict.fromkeys(MARD_STATUS, "0.000"), **figures}


def _mchb(matnr: str, lgort: str, charg: str, **figures: str) -> dict[str, str]:
    row = {
        "MATNR": matnr,
        "WERKS": PLANT,
        "LGORT": lgort,
        "CHARG": charg,
        "MEINS": "ST",
    }
    return {**row, **dict.fromkeys(MCHB_STATUS, "0.000"), **figures}


def test_batch_stock_comes_from_mchb_and_is_not_counted_twice() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    mard = [
        _mard("000000000000100023", "RM01", LABST="30.000", INSME="5.000"),
        _mard("FG29", "RM01", LABST="12.500", SPEME="1.000", UMLME="2.000"),
    ]
    mchb = [
        _mchb("000000000000100023", "RM01", "0000000109", CLABS="24.000"),
        _mchb("000000000000100023", "RM01", "0000000110", CLABS="6.000", CINSM="5.000"),
    ]
    records = list(stock_records(mard, mchb, now))
    assert all(isinstance(r, StockRecord) for r in records)
    assert sorted(
        (r.material, r.batch, r.status, r.quantity) for r in records
    ) == sorted([
        ("100023", "0000000109", "unrestricted", Decimal(24)),
        ("100023", "0000000110", "unrestricted", Decimal(6)),
        ("100023", "0000000110", "quality_inspection", Decimal(5)),
        ("FG29", "", "unrestricted", Decimal("12.5")),
        ("FG29", "", "blocked", Decimal(1)),
        ("FG29", "", "in_transit", Decimal(2)),
    ])  # fmt: skip


def test_a_mard_row_that_its_batches_do_not_add_up_to_is_quarantined() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    mard = [_mard("000000000000100023", "RM01", LABST="30.000")]
    mchb = [_mchb("000000000000100023", "RM01", "0000000109", CLABS="24.000")]
    batch, difference = stock_records(mard, mchb, now)
    assert isinstance(batch, StockRecord)
    assert batch.quantity == Decimal(24)
    assert isinstance(difference, UnreadableRecord)
    assert "LABST +6.000" in difference.reason


def test_an_unreadable_batch_row_is_quarantined_once() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    mard = [_mard("000000000000100023", "RM01", LABST="30.000")]
    mchb = [
        _mchb("000000000000100023", "RM01", "0000000109", CLABS="24.000"),
        _mchb("000000000000100023", "RM01", "0000000110", CLABS="6,000"),
    ]
    good, bad = stock_records(mard, mchb, now)
    assert isinstance(good, StockRecord)
    assert isinstance(bad, UnreadableRecord)
    assert "CLABS '6,000' is not a number" in bad.reason
