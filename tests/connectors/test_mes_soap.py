"""The `mes_soap` connector: zeep against the MES simulator's served WSDL, and odd payloads.

The generated truth is the oracle: the MES share (system "mes") of its
stock, its effective movements and its materials. The MES's transaction log
holds posted transactions only, so every effective truth line comes back as
one movement keyed (document, line). The three result shapes are the
simulator's: a DataSet DiffGram (stock), an XML document in a string that
declares utf-16 (transactions) and JSON in a string (materials); the odder
variants of each are replayed with `responses`.
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

import pytest
import responses
from pydantic import ValidationError
from sqlalchemy import select

from stockbridge.config.models import Settings
from stockbridge.connectors.base import CheckState, Page, Stream
from stockbridge.connectors.errors import (
    AuthError,
    ProtocolError,
    SourceConfigError,
    TransientError,
)
from stockbridge.connectors.mes_soap import MesSoapConnector, MesSoapSettings
from stockbridge.connectors.xml_safety import REFUSED
from stockbridge.mapping.model import (
    MaterialRecord,
    MovementRecord,
    StockRecord,
    UnreadableRecord,
)
from stockbridge.simulators.http_server import SimServer
from stockbridge.simulators.soap import start_mes_soap
from stockbridge.simulators.soap_mes import MES_STATUSES, MES_UNITS
from stockbridge.simulators.soap_wsdl import mes_wsdl
from stockbridge.simulators.truth import generate
from stockbridge.store.database import open_store
from stockbridge.store.schema import movements, stock_lines
from stockbridge.sync.runner import sync_stream

USER, PASSWORD = "mes-reader", "mes-S3cret-pw"
ZONE = "Asia/Shanghai"
FACTORIES = ("1000", "2000", "3000", "4000")
KINDS = {
    "RECEIVE": "receipt", "ISSUE": "issue", "CONSUME": "production_issue",
    "OUTPUT": "production_receipt", "SHIP": "sales_issue", "ADJUST": "adjustment",
    "SCRAP": "scrap", "RETURN": "return", "REVERSAL": "reversal",
    "TRANSFER_IN": "transfer", "TRANSFER_OUT": "transfer",
}  # fmt: skip
STATUS_MAP = {code: status for status, code in MES_STATUSES.items()}


def operations(page: int = 100) -> dict[str, Any]:
    """The simulator's MES, described as a user would describe it in the config."""
    return {
        "stock": {
            "name": "GetLineSideStock",
            "args": [{"factoryCode": factory} for factory in FACTORIES],
            "result": "dataset",
            "rows_path": "Table",
            "fields": {
                "material": "MaterialCode", "site": "FactoryCode",
                "warehouse": "WarehouseCode", "batch": "BatchNo",
                "status": "QualityStatus", "quantity": "Qty", "reserved": "LockQty",
                "unit": "Unit",
            },
            "status_map": STATUS_MAP,
        },
        "movements": {
            "name": "GetMaterialTransactions",
            "result": "xml_string",
            "rows_path": "rows/row",
            "since_arg": "since",
            "paging": {"index_arg": "pageIndex", "size_arg": "pageSize", "size": page,
                       "total_path": "total"},
            "code_path": "code",
            "message_path": "message",
            "fields": {
                "document": "TransId", "line": "LineNo", "kind": "TransType",
                "direction": "IoType", "site": "FactoryCode",
                "warehouse": "WarehouseCode", "material": "MaterialCode",
                "batch": "BatchNo", "status": "QualityStatus", "quantity": "Qty",
                "unit": "Unit", "posted_at": "TransTime", "entered_at": "CreateTime",
                "order_ref": "WorkOrderNo", "reverses_document": "RefTransId",
                "reverses_line": "RefLineNo",
            },
            "kinds": KINDS,
            "directions": {"IN": "in", "OUT": "out"},
            "status_map": STATUS_MAP,
        },
        "materials": {
            "name": "GetMaterialList",
            "result": "json_string",
            "rows_path": "data.rows",
            "paging": {"index_arg": "pageIndex", "size_arg": "pageSize", "size": 5,
                       "total_path": "data.total"},
            "code_path": "code",
            "message_path": "msg",
            "fields": {
                "material": "materialCode", "name": "materialName", "base_unit": "unit",
                "batch_managed": "batchManaged", "safety_stock": "safetyStock",
            },
        },
    }  # fmt: skip


# --- the oracle -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mes-truth") / "truth.sqlite"
    generate(path, seed=17, materials=12, days=12)
    return path


def _rows(truth: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(truth)) as conn:
        return conn.execute(sql).fetchall()


def _seconds(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(microsecond=0)


def expected_movements(truth: Path, *, late: bool = True) -> dict[tuple[str, ...], Any]:
    rows = _rows(
        truth,
        "SELECT m.document, m.line, m.kind, m.material, m.site, m.warehouse, m.batch,"
        " m.status, m.quantity, t.base_unit, m.posted_at, m.entered_at, m.order_ref,"
        " o.document, o.line, m.late FROM movements m"
        " JOIN materials t ON t.material = m.material"
        " LEFT JOIN movements o ON o.id = m.reverses"
        " WHERE m.system = 'mes' AND m.effective = 1",
    )
    return {
        (doc, str(line), ""): (
            kind, material, site, warehouse, batch, status, Decimal(quantity), MES_UNITS[unit], _seconds(posted), _seconds(entered),
            f"{o_doc}/{o_line}" if o_doc else "", order_ref,
        )
        for (doc, line, kind, material, site, warehouse, batch, status, quantity, unit,
             posted, entered, order_ref, o_doc, o_line, is_late) in rows
        if late or not is_late
    }  # fmt: skip


def served_movements(records: list[Any]) -> dict[tuple[str, ...], Any]:
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


def expected_stock(truth: Path, *, early: bool = False) -> dict[tuple[str, ...], Any]:
    """MES stock per key, zero rows left out as the MES leaves them out.

    `early`: without the late lines' effect, which may bring back a row the
    late lines took to zero.
    """
    units = dict(_rows(truth, "SELECT material, base_unit FROM materials"))
    quantities: dict[tuple[str, ...], Decimal] = defaultdict(Decimal)
    reserved: dict[tuple[str, ...], Decimal] = defaultdict(Decimal)
    for *key, quantity, locked in _rows(
        truth,
        "SELECT material, site, warehouse, batch, status, quantity, reserved"
        " FROM stock WHERE system = 'mes'",
    ):
        quantities[tuple(key)] += Decimal(quantity)
        reserved[tuple(key)] += Decimal(locked)
    if early:
        for *key, quantity in _rows(
            truth,
            "SELECT material, site, warehouse, batch, status, quantity FROM movements"
            " WHERE system = 'mes' AND late = 1 AND effective = 1",
        ):
            quantities[tuple(key)] -= Decimal(quantity)
    return {
        (m, s, w, b, st): (q, reserved[m, s, w, b, st], MES_UNITS[units[m]])
        for (m, s, w, b, st), q in quantities.items()
        if q
    }


def served_stock(records: list[Any]) -> dict[tuple[str, ...], Any]:
    assert all(isinstance(r, StockRecord) for r in records)
    served = {
        (r.material, r.site, r.warehouse, r.batch, r.status): (
            r.quantity,
            r.reserved,
            r.unit,
        )
        for r in records
    }
    assert len(served) == len(records)
    return served


# --- servers and connectors ----------------------------------------------------------------


def _start(truth: Path, work: Path) -> SimServer:
    return start_mes_soap(truth, work, username=USER, password=PASSWORD)


@pytest.fixture(scope="module")
def server(
    truth: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimServer]:
    with _start(truth, tmp_path_factory.mktemp("mes-work")) as srv:
        yield srv


@pytest.fixture
def mes(server: SimServer) -> Iterator[SimServer]:
    server.requests.clear()
    yield server
    server.faults.update(
        error_rate=0.0, throttle_rate=0.0, retry_after=1, latency=0.0,
        drop_rate=0.0, truncate_rate=0.0, late_postings=False,
    )  # fmt: skip
    server.app.evil_reply = None
    server.app.evil_payload = None


def settings_for(url: str, **overrides: Any) -> MesSoapSettings:
    values: dict[str, Any] = {
        "wsdl": f"{url}/MesService.asmx?WSDL",
        "username": USER,
        "password": PASSWORD,
        "timezone": ZONE,
        "page_size": 70,
        "retry_attempts": 8,
        "retry_max_wait": 0.01,
        "timeout": 5,
        "operations": operations(),
    }
    values.update(overrides)
    return MesSoapSettings.model_validate(values)


def connector_for(url: str, **overrides: Any) -> MesSoapConnector:
    return MesSoapConnector(
        "mes", settings_for(url, **overrides), timezone="UTC", sleep=lambda _: None
    )


def pull(pages: Iterator[Page]) -> tuple[list[Page], list[Any]]:
    collected = list(pages)
    return collected, [record for page in collected for record in page.records]


# --- check and full pulls --------------------------------------------------------------


def test_check_says_ok_auth_failed_unreachable_and_protocol_error(
    mes: SimServer,
) -> None:
    with connector_for(mes.url) as conn:
        assert conn.check().state is CheckState.OK
    with connector_for(mes.url, password="wrong-password") as conn:
        result = conn.check()
        assert result.state is CheckState.AUTH_FAILED
        assert "wrong-password" not in result.detail
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with connector_for(f"http://127.0.0.1:{closed}") as conn:
        assert conn.check().state is CheckState.UNREACHABLE
    with connector_for(mes.url) as conn:
        conn.check()
        mes.app.evil_reply = "dtd"
        result = conn.check()
    assert result.state is CheckState.PROTOCOL_ERROR
    assert REFUSED in result.detail


def test_stock_from_the_dataset_equals_the_truth(mes: SimServer, truth: Path) -> None:
    with connector_for(mes.url) as conn:
        pages, records = pull(conn.stock())
    assert all(len(page.records) <= 70 for page in pages)
    assert served_stock(records) == expected_stock(truth)
    assert any(not r.batch for r in records), "DBNull BatchNo reads as no batch"


def test_movements_from_the_xml_string_equal_the_truth(
    mes: SimServer, truth: Path
) -> None:
    with connector_for(mes.url) as conn:
        pages, records = pull(conn.movements(None, lookback=timedelta(hours=2)))
    assert all(len(page.records) <= 70 for page in pages)
    assert served_movements(records) == expected_movements(truth)
    assert {r.kind.value for r in records} >= {
        "reversal",
        "transfer",
        "production_issue",
    }
    marks = [json.loads(page.cursor)["entered"]["{}"] for page in pages]
    assert marks == sorted(marks)


def test_materials_from_the_json_string_equal_the_truth(
    mes: SimServer, truth: Path
) -> None:
    with connector_for(mes.url) as conn:
        _, records = pull(conn.materials())
    assert all(isinstance(r, MaterialRecord) for r in records)
    assert [
        (r.material, r.name, r.base_unit, r.batch_managed, r.safety_stock)
        for r in records
    ] == [
        (m, name, MES_UNITS[unit], bool(batch), Decimal(safety))
        for m, name, unit, batch, safety in _rows(
            truth,
            "SELECT material, name, base_unit, batch_managed, safety_stock"
            " FROM materials ORDER BY material",
        )
    ]
    without = operations()
    del without["materials"]
    with connector_for(mes.url, operations=without) as conn:
        assert conn.offered_streams() == {Stream.STOCK, Stream.MOVEMENTS}
        with pytest.raises(SourceConfigError, match=r"no operations\.materials"):
            list(conn.materials())
    with connector_for(mes.url) as conn:
        assert conn.offered_streams() == {
            Stream.STOCK,
            Stream.MOVEMENTS,
            Stream.MATERIALS,
        }


# --- incremental pulls ---------------------------------------------------------------------


def test_incremental_pull_returns_newer_lines_plus_the_lookback(mes: SimServer) -> None:
    with connector_for(mes.url) as conn:
        pages, records = pull(conn.movements(None, lookback=timedelta(0)))
        middle = pages[len(pages) // 2]
        mark = datetime.fromisoformat(json.loads(middle.cursor)["entered"]["{}"])
        _, again = pull(conn.movements(middle.cursor, lookback=timedelta(0)))
        _, wider = pull(conn.movements(middle.cursor, lookback=timedelta(hours=5)))

    def keys(records: list[Any], since: datetime) -> set[tuple[str, str]]:
        return {(r.document, r.line) for r in records if r.entered_at >= since}

    assert {(r.document, r.line) for r in again} == keys(records, mark)
    assert 0 < len(again) < len(records)
    assert {(r.document, r.line) for r in wider} == keys(
        records, mark - timedelta(hours=5)
    )


def test_resume_from_a_cursor_saved_mid_way_loses_nothing(
    mes: SimServer, truth: Path
) -> None:
    with connector_for(mes.url) as conn:
        stream = conn.movements(None, lookback=timedelta(hours=2))
        first = [next(stream) for _ in range(3)]
        stream.close()
        _, rest = pull(conn.movements(first[-1].cursor, lookback=timedelta(0)))
    committed = [r for page in first for r in page.records]
    assert {**served_movements(committed), **served_movements(rest)} == (
        expected_movements(truth)
    )


def test_each_argument_set_keeps_its_own_cursor(mes: SimServer, truth: Path) -> None:
    # two calls that both read every transaction (their pageSize is paging's)
    twice = operations(page=500)
    twice["movements"]["args"] = [{"pageSize": 1}, {"pageSize": 2}]
    first, second = '{"pageSize": 1}', '{"pageSize": 2}'
    with connector_for(mes.url, operations=twice) as conn:
        pages, records = pull(conn.movements(None, lookback=timedelta(0)))
        latest = max(r.entered_at for r in records).isoformat()
        assert json.loads(pages[-1].cursor) == {
            "entered": {first: latest, second: latest}
        }
        # the first call was committed up to its end, the second not at all
        cursor = json.dumps({"entered": {first: latest}})
        _, resumed = pull(conn.movements(cursor, lookback=timedelta(0)))
    assert len(records) == 2 * len(expected_movements(truth))
    expected = expected_movements(truth)
    assert served_movements(
        [r for r in resumed if r.entered_at.isoformat() != latest]
    ) == {
        key: value for key, value in expected.items() if value[9].isoformat() != latest
    }


# --- errors and faults ------------------------------------------------------------------------


def test_bad_credentials_raise_auth_error_without_retrying(mes: SimServer) -> None:
    with (
        connector_for(mes.url, password="not-the-password") as conn,
        pytest.raises(AuthError) as raised,
    ):
        list(conn.stock())
    assert len(mes.requests) == 1, "a refused logon is not retried"
    assert "not-the-password" not in str(raised.value)


def test_an_asmx_fault_is_a_protocol_error_with_its_text(mes: SimServer) -> None:
    zero = operations()
    zero["movements"]["paging"]["first_index"] = 0
    with (
        connector_for(mes.url, operations=zero) as conn,
        pytest.raises(ProtocolError, match="pageIndex must be at least 1"),
    ):
        list(conn.movements(None, lookback=timedelta(0)))
    assert sum(1 for method, _ in mes.requests if method == "POST") == 1


@pytest.mark.parametrize(
    "knobs",
    [
        {"error_rate": 0.4},
        {"throttle_rate": 0.4, "retry_after": 3},
        {"drop_rate": 0.4},
        {"truncate_rate": 0.4},
        {"latency": 0.01},
    ],
    ids=["5xx", "429", "dropped", "truncated", "latency"],
)
def test_fault_knobs_end_in_the_exact_result(
    mes: SimServer, truth: Path, knobs: dict[str, Any]
) -> None:
    mes.faults.update(**knobs)
    mes.reseed(5)
    waits: list[float] = []
    settings = settings_for(mes.url, operations=operations(page=100))
    with MesSoapConnector("mes", settings, timezone="UTC", sleep=waits.append) as conn:
        _, moved = pull(conn.movements(None, lookback=timedelta(0)))
        _, stock = pull(conn.stock())
    assert served_movements(moved) == expected_movements(truth)
    assert served_stock(stock) == expected_stock(truth)
    if "latency" not in knobs:
        assert waits, "the knob did strike, and the connector retried"
    if "retry_after" in knobs:
        assert set(waits) == {3.0}


def test_persistent_server_errors_end_in_a_clear_transient_error(
    mes: SimServer,
) -> None:
    with connector_for(mes.url, retry_attempts=3) as conn:
        conn.check()
        mes.faults.update(error_rate=1.0)
        with pytest.raises(TransientError, match="simulated fault"):
            list(conn.stock())


# --- late postings -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def late_truth(truth: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The truth with a few MES lines (neither reversed nor reversing) entered late."""
    copy = tmp_path_factory.mktemp("mes-late") / "truth.sqlite"
    shutil.copyfile(truth, copy)
    with closing(sqlite3.connect(copy)) as conn:
        conn.execute(
            "UPDATE movements SET late = 1 WHERE id IN (SELECT id FROM movements"
            " WHERE system = 'mes' AND effective = 1 AND reverses IS NULL"
            " AND id NOT IN (SELECT reverses FROM movements WHERE reverses IS NOT NULL)"
            " ORDER BY entered_at LIMIT 4 OFFSET 30)"
        )
        conn.commit()
    return copy


def test_late_postings_are_missing_everywhere_until_entered(
    late_truth: Path, tmp_path: Path
) -> None:
    with _start(late_truth, tmp_path) as server:
        server.faults.late_postings = True
        with connector_for(server.url) as conn:
            pages, early = pull(conn.movements(None, lookback=timedelta(0)))
            _, stock = pull(conn.stock())
            assert served_movements(early) == expected_movements(late_truth, late=False)
            assert served_stock(stock) == expected_stock(late_truth, early=True)
            assert served_stock(stock) != expected_stock(late_truth)
            server.faults.late_postings = False
            _, long = pull(
                conn.movements(pages[-1].cursor, lookback=timedelta(days=30))
            )
            _, stock = pull(conn.stock())
    assert {**served_movements(early), **served_movements(long)} == (
        expected_movements(late_truth)
    )
    assert served_stock(stock) == expected_stock(late_truth)


# --- settings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda o: o["stock"]["fields"].pop("quantity"), "must name quantity"),
        (
            lambda o: o["stock"]["fields"].update(colour="Colour"),
            "unknown field 'colour'",
        ),
        (lambda o: o["movements"].pop("directions"), "directions table come together"),
        (lambda o: o["stock"].update(result="csv"), "dataset"),
        (lambda o: o.pop("movements"), "movements"),
        (
            lambda o: o["materials"].update(status_map={"OK": "unrestricted"}),
            "status_map",
        ),
        (lambda o: o["stock"].update(status_map={"OK": "free"}), "unrestricted"),
    ],
)
def test_settings_say_what_is_wrong(change: Any, message: str) -> None:
    described = operations()
    change(described)
    with pytest.raises(ValidationError, match=message):
        settings_for("http://127.0.0.1:1", operations=described)


def test_a_default_stands_in_for_a_column_the_mes_does_not_have() -> None:
    described = operations()
    del described["stock"]["fields"]["status"]
    described["stock"]["defaults"] = {"status": "unrestricted"}
    settings = settings_for("http://127.0.0.1:1", operations=described)
    assert settings.operations.stock.defaults == {"status": "unrestricted"}


# --- odd payloads, replayed ----------------------------------------------------------------------

BASE = "http://mes.test"
ENDPOINT = f"{BASE}/MesService.asmx"
NS = "http://tempuri.org/"


def _envelope(operation: str, result: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        f'<{operation}Response xmlns="{NS}"><{operation}Result>{result}'
        f"</{operation}Result></{operation}Response></soap:Body></soap:Envelope>"
    )


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@pytest.fixture
def replay() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(
            f"{ENDPOINT}?WSDL",
            body=mes_wsdl(ENDPOINT),
            content_type="text/xml; charset=utf-8",
        )
        yield mock


def _reply(mock: responses.RequestsMock, operation: str, result: str) -> None:
    mock.post(
        ENDPOINT,
        body=_envelope(operation, result).encode("utf-8"),
        content_type="text/xml; charset=utf-8",
    )


def test_a_dataset_diffgram_reads_current_rows_of_its_table_only(
    replay: responses.RequestsMock,
) -> None:
    dataset = (
        '<xs:schema id="NewDataSet" xmlns="" xmlns:xs="http://www.w3.org/2001/XMLSchema"'
        ' xmlns:msdata="urn:schemas-microsoft-com:xml-msdata"><xs:element name="NewDataSet"'
        ' msdata:IsDataSet="true"/></xs:schema>'
        '<diffgr:diffgram xmlns:msdata="urn:schemas-microsoft-com:xml-msdata"'
        ' xmlns:diffgr="urn:schemas-microsoft-com:xml-diffgram-v1">'
        '<NewDataSet xmlns="">'
        '<Table diffgr:id="Table1" msdata:rowOrder="0" diffgr:hasChanges="modified">'
        "<FactoryCode>1000</FactoryCode><WarehouseCode>LS01</WarehouseCode>"
        "<MaterialCode>100023</MaterialCode><QualityStatus>OK</QualityStatus>"
        "<Qty>19.500</Qty><Unit>PCS</Unit></Table>"
        '<Summary diffgr:id="Summary1" msdata:rowOrder="0"><Qty>999</Qty></Summary>'
        "</NewDataSet>"
        '<diffgr:before><Table diffgr:id="Table1" msdata:rowOrder="0" xmlns="">'
        "<FactoryCode>1000</FactoryCode><WarehouseCode>LS01</WarehouseCode>"
        "<MaterialCode>100023</MaterialCode><QualityStatus>OK</QualityStatus>"
        "<Qty>7</Qty><Unit>PCS</Unit></Table></diffgr:before>"
        "</diffgr:diffgram>"
    )
    _reply(replay, "GetLineSideStock", dataset)
    described = operations()
    described["stock"]["args"] = {"factoryCode": "1000"}
    with connector_for(BASE, operations=described) as conn:
        _, records = pull(conn.stock())
    assert [(r.material, r.batch, r.quantity, r.reserved, r.unit) for r in records] == [
        ("100023", "", Decimal("19.500"), Decimal(0), "PCS")
    ]


def test_xml_in_a_string_that_declares_utf16_is_read_from_its_text(
    replay: responses.RequestsMock,
) -> None:
    document = (
        '<?xml version="1.0" encoding="utf-16"?><root><code>0</code><total>2</total>'
        "<rows><row><TransId>MT-1</TransId><LineNo>1</LineNo><TransType>CONSUME</TransType>"
        "<IoType>OUT</IoType><FactoryCode>1000</FactoryCode><WarehouseCode>线边仓</WarehouseCode>"
        "<MaterialCode>六角螺栓</MaterialCode><QualityStatus>OK</QualityStatus><Qty>-5</Qty>"
        "<Unit>个</Unit><TransTime>2026/3/1 12:00:00</TransTime>"
        "<CreateTime>2026-03-01T12:00:05.1234567</CreateTime></row>"
        '<row TransId="MT-2" LineNo="1" TransType="TRANSFER_IN" IoType="IN"'
        ' FactoryCode="1000" WarehouseCode="LS01" MaterialCode="FG29" QualityStatus="OK"'
        ' Qty="1.250" Unit="KG" TransTime="/Date(1772337600000+0800)/"'
        ' CreateTime="2026-03-01T04:00:00Z"/></rows></root>'
    )
    _reply(replay, "GetMaterialTransactions", _escaped(document))
    with connector_for(BASE) as conn:
        _, records = pull(conn.movements(None, lookback=timedelta(0)))
    bolt, grease = records
    assert isinstance(bolt, MovementRecord)
    assert isinstance(grease, MovementRecord)
    assert (bolt.material, bolt.warehouse, bolt.unit) == ("六角螺栓", "线边仓", "个")
    assert bolt.quantity == Decimal(-5), "the direction says out, whatever the sign"
    assert bolt.posted_at == datetime(2026, 3, 1, 4, tzinfo=UTC)
    assert bolt.entered_at == datetime(2026, 3, 1, 4, 0, 5, 123456, tzinfo=UTC)
    assert (grease.quantity, grease.kind.value) == (Decimal("1.250"), "transfer")
    assert grease.posted_at == datetime(2026, 3, 1, 4, tzinfo=UTC)


def test_an_mes_error_code_is_a_protocol_error_with_its_message(
    replay: responses.RequestsMock,
) -> None:
    document = "<root><code>500</code><message>数据库连接超时</message></root>"
    _reply(replay, "GetMaterialTransactions", _escaped(document))
    with (
        connector_for(BASE) as conn,
        pytest.raises(ProtocolError, match="code 500: 数据库连接超时"),
    ):
        list(conn.movements(None, lookback=timedelta(0)))


def test_json_in_a_string_keeps_decimal_digits_and_flags_bad_rows(
    replay: responses.RequestsMock,
) -> None:
    document = {
        "code": 0,
        "msg": "success",
        "data": {
            "total": 3,
            "rows": [
                {"materialCode": "100023", "materialName": "六角螺栓",
                 "unit": "PCS", "batchManaged": True, "safetyStock": 12.500},
                {"materialCode": "FG29", "materialName": "润滑脂", "unit": "KG",
                 "batchManaged": False, "safetyStock": None},
                {"materialCode": "X1", "materialName": "?", "unit": "KG",
                 "batchManaged": "maybe", "safetyStock": "1"},
            ],
        },
    }  # fmt: skip
    text = json.dumps(document, ensure_ascii=False).replace("12.5", "12.500")
    _reply(replay, "GetMaterialList", _escaped(text))
    with connector_for(BASE) as conn:
        _, records = pull(conn.materials())
    bolt, grease, bad = records
    assert isinstance(bolt, MaterialRecord)
    assert isinstance(grease, MaterialRecord)
    assert (bolt.batch_managed, str(bolt.safety_stock)) == (True, "12.500")
    assert (grease.batch_managed, grease.safety_stock) == (False, None)
    assert isinstance(bad, UnreadableRecord)
    assert "maybe" in bad.reason


def test_a_row_that_cannot_be_read_is_kept_as_unreadable(
    replay: responses.RequestsMock,
) -> None:
    document = (
        "<root><code>0</code><total>1</total><rows><row><TransId>MT-9</TransId>"
        "<LineNo>1</LineNo><TransType>TELEPORT</TransType><IoType>IN</IoType>"
        "<FactoryCode>1000</FactoryCode><WarehouseCode>LS01</WarehouseCode>"
        "<MaterialCode>FG29</MaterialCode><QualityStatus>OK</QualityStatus>"
        "<Qty>1</Qty><Unit>KG</Unit><TransTime>2026-03-01 12:00:00</TransTime>"
        "<CreateTime>2026-03-01 12:00:00</CreateTime></row></rows></root>"
    )
    _reply(replay, "GetMaterialTransactions", _escaped(document))
    with connector_for(BASE) as conn:
        pages, records = pull(conn.movements(None, lookback=timedelta(0)))
    (record,) = records
    assert isinstance(record, UnreadableRecord)
    assert "TELEPORT" in record.reason
    assert record.raw["TransId"] == "MT-9"
    assert pages[-1].cursor == '{"entered": {}}', "an unreadable row moves no cursor"


# --- through sync into a store ----------------------------------------------------------------------


def test_sync_end_to_end_loads_what_the_truth_says(
    mes: SimServer, truth: Path, sqlite_url: str
) -> None:
    # without status_map: the MES's codes pass through and mapping resolves them
    described = operations(page=500)
    del described["stock"]["status_map"], described["movements"]["status_map"]
    source = {
        "kind": "mes_soap",
        "timezone": ZONE,
        "wsdl": f"{mes.url}/MesService.asmx?WSDL",
        "username": USER,
        "password": PASSWORD,
        "page_size": 100,
        "operations": described,
    }
    settings = Settings.model_validate(
        {
            "timezone": "UTC",
            "sources": {"mes": source},
            "mapping": {"mes": {"status": {"table": STATUS_MAP}}},
        }
    )
    engine = open_store(sqlite_url)
    try:
        for stream in (Stream.MATERIALS, Stream.STOCK, Stream.MOVEMENTS):
            run = sync_stream(engine, settings, "mes", stream)
            assert run.status == "succeeded", run.error
            assert run.pulled == run.loaded + run.rejected
            assert run.rejected == 0
            assert run.pulled > 0
        with engine.connect() as conn:
            loaded: dict[tuple[str, ...], Decimal] = defaultdict(Decimal)
            for row in conn.execute(select(movements)):
                loaded[row.material, row.site, row.batch, row.status] += row.quantity
            stock = {
                (r.material, r.site, r.batch, r.status): (r.quantity, r.unit)
                for r in conn.execute(select(stock_lines))
            }
    finally:
        engine.dispose()
    expected: dict[tuple[str, ...], Decimal] = defaultdict(Decimal)
    for m, s, b, st, q in _rows(
        truth,
        "SELECT material, site, batch, status, quantity FROM movements"
        " WHERE system = 'mes' AND effective = 1",
    ):
        expected[m, s, b, st] += Decimal(q)
    assert dict(loaded) == dict(expected)
    truth_stock = {
        (m, s, b, st): (Decimal(q), u)
        for m, s, b, st, q, u in _rows(
            truth,
            "SELECT s.material, s.site, s.batch, s.status, s.quantity, t.base_unit"
            " FROM stock s JOIN materials t USING (material) WHERE s.system = 'mes'",
        )
    }
    assert stock == truth_stock
