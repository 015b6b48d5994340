"""The SOAP simulators over real HTTP, consumed by zeep from their served WSDLs.

Two truths: a small hand-made one whose every line has a known SAP and MES
rendering, and a generated one (`simulators.truth.generate`) that the replies
are checked against as the oracle, per key and in total.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
import zeep
import zeep.exceptions
from lxml import etree
from requests.auth import HTTPBasicAuth
from zeep.transports import Transport

from stockbridge.simulators.http_server import SimServer
from stockbridge.simulators.soap import (
    create_sap_ecc_app,
    start_mes_soap,
    start_sap_ecc,
)
from stockbridge.simulators.truth import generate
from stockbridge.simulators.truth_master import MES_SITES
from stockbridge.simulators.truth_schema import TRUTH_DDL

CHINA = ZoneInfo("Asia/Shanghai")
USER, PASSWORD = "RFC_STOCK", "s3cret-Pw"
ECC_NS = "urn:sap-com:document:sap:rfc:functions"
DIFFGR = "urn:schemas-microsoft-com:xml-diffgram-v1"
MARD_FIELDS = {
    "unrestricted": "LABST",
    "in_transit": "UMLME",
    "quality_inspection": "INSME",
    "restricted": "EINME",
    "blocked": "SPEME",
}
MCHB_FIELDS = {
    "unrestricted": "CLABS",
    "in_transit": "CUMLM",
    "quality_inspection": "CINSM",
    "restricted": "CEINM",
    "blocked": "CSPEM",
}

# --- truths ---------------------------------------------------------------

BATCH = "2603010001"
HAND_MOVEMENTS = [
    # id, event, system, document, line, year, kind, material, site, warehouse,
    # batch, status, quantity, entry_unit, entry_quantity, posted_at, entered_at,
    # reverses, order_ref, effective, late, counterpart
    (1, 1, "ecc", "4500000001", 1, "2026", "receipt", "100023", "1100", "RM01",
     BATCH, "quality_inspection", "48", "CT", "2", "2026-03-01T01:00:00+00:00",
     "2026-03-01T01:05:00+00:00", None, "4500012345", 1, 0, None),
    (2, 2, "ecc", "4900000001", 1, "2026", "transfer", "100023", "1100", "RM01",
     BATCH, "quality_inspection", "-48", "H87", "48", "2026-03-01T02:00:00+00:00",
     "2026-03-01T02:00:30+00:00", None, "", 1, 0, 3),
    (3, 2, "ecc", "4900000001", 2, "2026", "transfer", "100023", "1100", "RM01",
     BATCH, "unrestricted", "48", "H87", "48", "2026-03-01T02:00:00+00:00",
     "2026-03-01T02:00:30+00:00", None, "", 1, 0, 2),
    (4, 3, "ecc", "4900000002", 1, "2026", "transfer", "100023", "1100", "RM01",
     BATCH, "unrestricted", "-24", "H87", "24", "2026-03-01T03:00:00+00:00",
     "2026-03-01T03:10:00+00:00", None, "", 1, 0, 5),
    (5, 3, "ecc", "4900000002", 2, "2026", "transfer", "100023", "1100", "LS01",
     BATCH, "unrestricted", "24", "H87", "24", "2026-03-01T03:00:00+00:00",
     "2026-03-01T03:10:00+00:00", None, "", 1, 0, 4),
    (6, 4, "ecc", "4900000003", 1, "2026", "production_issue", "100023", "1100",
     "LS01", BATCH, "unrestricted", "-10", "H87", "10",
     "2026-03-01T05:00:00+00:00", "2026-03-01T05:01:00+00:00", None, "1000001",
     1, 0, None),
    (7, 5, "ecc", "4900000004", 1, "2026", "reversal", "100023", "1100", "LS01",
     BATCH, "unrestricted", "10", "H87", "10", "2026-03-01T06:00:00+00:00",
     "2026-03-01T17:30:00+00:00", 6, "1000001", 1, 0, None),
    (8, 6, "ecc", "5000000001", 1, "2026", "receipt", "FG29", "1100", "RM01",
     "", "unrestricted", "12.5", "KGM", "12.5", "2026-03-01T07:00:00+00:00",
     "2026-03-02T08:00:00+00:00", None, "", 1, 1, None),
    (9, 7, "mes", "MT0000001", 1, "", "transfer", "100023", "1000", "LS01",
     BATCH, "unrestricted", "24", "H87", "24", "2026-03-01T03:00:00+00:00",
     "2026-03-01T03:00:00+00:00", None, "", 1, 0, None),
    (10, 8, "mes", "MT0000002", 1, "", "production_issue", "100023", "1000",
     "LS01", BATCH, "unrestricted", "-5", "H87", "5", "2026-03-01T04:00:00+00:00",
     "2026-03-01T04:00:00+00:00", None, "WO-0001", 1, 1, None),
    (11, 9, "mes", "MT0000003", 1, "", "production_issue", "FG29", "1000",
     "LS01", "", "unrestricted", "-1.25", "KGM", "1.25",
     "2026-03-01T09:00:00+00:00", "2026-03-01T09:00:00+00:00", None, "WO-0002",
     1, 0, None),
]  # fmt: skip
HAND_STOCK = [
    ("ecc", "100023", "1100", "RM01", BATCH, "quality_inspection", "0", "0"),
    ("ecc", "100023", "1100", "RM01", BATCH, "unrestricted", "24", "0"),
    ("ecc", "100023", "1100", "LS01", BATCH, "unrestricted", "24", "0"),
    ("ecc", "FG29", "1100", "RM01", "", "unrestricted", "12.5", "0"),
    ("mes", "100023", "1000", "LS01", BATCH, "unrestricted", "19", "2"),
    ("mes", "FG29", "1000", "LS01", "", "unrestricted", "3.750", "0"),
]


def _hand_truth(path: Path) -> Path:
    with closing(sqlite3.connect(path)) as db:
        db.executescript(TRUTH_DDL)
        db.execute(
            "INSERT INTO meta VALUES (0, 2, 2, '2026-03-01T00:00:00+00:00',"
            " '2026-03-02T16:00:00+00:00', ?)",
            (len(HAND_MOVEMENTS),),
        )
        db.executemany(
            "INSERT INTO materials VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ("100023", "六角螺栓 M8x30", "Hex bolt M8x30", "H87", "CT", "24", 1,
                 "100"),
                ("FG29", "润滑脂", "Grease", "KGM", "", "", 0, "5.5"),
            ],
        )  # fmt: skip
        db.executemany(
            "INSERT INTO sites VALUES (?, ?, ?)",
            [("1000", "上海电机工厂", "sap"), ("1100", "苏州装配工厂", "ecc")],
        )
        db.executemany(
            "INSERT INTO movements VALUES"
            " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            HAND_MOVEMENTS,
        )
        db.executemany("INSERT INTO stock VALUES (?, ?, ?, ?, ?, ?, ?, ?)", HAND_STOCK)
        db.commit()
    return path


@pytest.fixture(scope="module")
def hand_truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _hand_truth(tmp_path_factory.mktemp("hand") / "truth.sqlite")


@pytest.fixture(scope="module")
def generated_truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("generated") / "truth.sqlite"
    generate(path, seed=11, materials=12, days=4)
    return path


def _truth_rows(truth: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(truth)) as db:
        return db.execute(sql, args).fetchall()


# --- servers and clients --------------------------------------------------


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        http.auth = HTTPBasicAuth(USER, PASSWORD)
        yield http


def _zeep(session: requests.Session, wsdl: str) -> zeep.Client:
    transport = Transport(session=session, timeout=5, operation_timeout=5)
    return zeep.Client(wsdl, transport=transport)


def _ecc(truth: Path, work: Path) -> Iterator[SimServer]:
    with start_sap_ecc(truth, work, username=USER, password=PASSWORD) as server:
        yield server


def _mes(truth: Path, work: Path) -> Iterator[SimServer]:
    with start_mes_soap(truth, work, username=USER, password=PASSWORD) as server:
        yield server


@pytest.fixture(scope="module")
def ecc_hand(hand_truth: Path, tmp_path_factory: pytest.TempPathFactory):
    yield from _ecc(hand_truth, tmp_path_factory.mktemp("ecc_hand"))


@pytest.fixture(scope="module")
def ecc_generated(generated_truth: Path, tmp_path_factory: pytest.TempPathFactory):
    yield from _ecc(generated_truth, tmp_path_factory.mktemp("ecc_generated"))


@pytest.fixture(scope="module")
def mes_hand(hand_truth: Path, tmp_path_factory: pytest.TempPathFactory):
    yield from _mes(hand_truth, tmp_path_factory.mktemp("mes_hand"))


@pytest.fixture(scope="module")
def mes_generated(generated_truth: Path, tmp_path_factory: pytest.TempPathFactory):
    yield from _mes(generated_truth, tmp_path_factory.mktemp("mes_generated"))


def _ecc_client(server: SimServer, session: requests.Session) -> zeep.Client:
    return _zeep(session, f"{server.url}{server.app.endpoint_path}?wsdl")


def _mes_client(server: SimServer, session: requests.Session) -> zeep.Client:
    return _zeep(session, f"{server.url}/MesService.asmx?WSDL")


@pytest.fixture
def late_postings_on(ecc_hand: SimServer, mes_hand: SimServer) -> Iterator[None]:
    ecc_hand.faults.late_postings = True
    mes_hand.faults.late_postings = True
    try:
        yield
    finally:
        ecc_hand.faults.late_postings = False
        mes_hand.faults.late_postings = False


# --- SAP ECC: helpers -----------------------------------------------------


def _read_stock(client: zeep.Client, plant: str, max_rows: int, **filters: str):
    mard: dict[tuple[str, str], dict[str, Decimal]] = {}
    mchb: dict[tuple[str, str, str], dict[str, Decimal]] = {}
    pages, key = 0, ""
    while True:
        reply = client.service.ZMM_STOCK_READ(
            IV_WERKS=plant, IV_MAX_ROWS=max_rows, IV_CONTINUE=key or None, **filters
        )
        pages += 1
        for item in reply.ET_MARD.item if reply.ET_MARD else []:
            assert plant == item.WERKS
            assert (item.MATNR, item.LGORT) not in mard, "a MARD row came twice"
            mard[item.MATNR, item.LGORT] = {f: item[f] for f in MARD_FIELDS.values()}
        for item in reply.ET_MCHB.item if reply.ET_MCHB else []:
            mchb[item.MATNR, item.LGORT, item.CHARG] = {
                f: item[f] for f in MCHB_FIELDS.values()
            }
        key = reply.EV_CONTINUE
        if not key:
            return mard, mchb, pages


def _read_movements(client: zeep.Client, since: str, max_rows: int, at=None):
    rows, key, pages = [], "", 0
    while True:
        reply = client.service.ZMM_GOODSMVT_READ(
            IV_WERKS="1100",
            IV_CPUDT_FROM=since,
            IV_CPUTM_FROM=at,
            IV_MAX_ROWS=max_rows,
            IV_CONTINUE=key or None,
        )
        pages += 1
        rows.extend(reply.ET_GOODSMVT.item if reply.ET_GOODSMVT else [])
        key = reply.EV_CONTINUE
        if not key:
            return rows, pages


def _padded(material: str) -> str:
    return material.zfill(18) if material.isdigit() else material


# --- SAP ECC: against the generated truth ---------------------------------


def test_ecc_stock_matches_truth_per_key_and_batch(
    ecc_generated, generated_truth, session
):
    client = _ecc_client(ecc_generated, session)
    mard, mchb, pages = _read_stock(client, "1100", max_rows=5)

    expected_mard: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
        lambda: dict.fromkeys(MARD_FIELDS.values(), Decimal(0))
    )
    expected_mchb: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(
        lambda: dict.fromkeys(MCHB_FIELDS.values(), Decimal(0))
    )
    for material, warehouse, batch, status, quantity in _truth_rows(
        generated_truth,
        "SELECT material, warehouse, batch, status, quantity FROM stock"
        " WHERE system = 'ecc' AND site = '1100'",
    ):
        expected_mard[_padded(material), warehouse][MARD_FIELDS[status]] += Decimal(
            quantity
        )
        if batch:
            key = (_padded(material), warehouse, batch)
            expected_mchb[key][MCHB_FIELDS[status]] += Decimal(quantity)
    assert pages > 2
    assert mard == expected_mard
    assert mchb == expected_mchb
    assert any(batch for _, _, batch in mchb), "the truth has batch-managed stock"
    assert all(len(matnr) == 18 for matnr, _ in mard if matnr.isdigit())


def test_ecc_material_filter_takes_the_internal_form(
    ecc_generated, generated_truth, session
):
    client = _ecc_client(ecc_generated, session)
    ((material,),) = _truth_rows(
        generated_truth,
        "SELECT material FROM stock WHERE system = 'ecc' ORDER BY material LIMIT 1",
    )
    mard, _, _ = _read_stock(client, "1100", 100, IV_MATNR=_padded(material))
    assert mard
    assert {matnr for matnr, _ in mard} == {_padded(material)}
    unpadded, _, _ = _read_stock(client, "1100", 100, IV_MATNR=material)
    assert unpadded == {} or material == _padded(material)


def test_ecc_movements_match_truth_count_direction_and_quantity(
    ecc_generated, generated_truth, session
):
    client = _ecc_client(ecc_generated, session)
    rows, pages = _read_movements(client, "2000-01-01", max_rows=20)
    truth = {
        (document, f"{line:04d}"): (Decimal(quantity), material, warehouse)
        for document, line, quantity, material, warehouse in _truth_rows(
            generated_truth,
            "SELECT document, line, quantity, material, warehouse FROM movements"
            " WHERE system = 'ecc' AND effective = 1",
        )
    }
    assert pages > 2
    assert len(rows) == len(truth)
    seen = {(row.MBLNR, row.ZEILE) for row in rows}
    assert seen == set(truth)
    for row in rows:
        quantity, material, warehouse = truth[row.MBLNR, row.ZEILE]
        direction = "S" if quantity > 0 else "H"
        assert (direction, abs(quantity)) == (row.SHKZG, row.MENGE)
        assert (_padded(material), warehouse) == (row.MATNR, row.LGORT)
        assert row.MEINS in {"ST", "KG", "M", "L"}
        assert row.BWART.isdigit()
        assert len(row.BWART) == 3
        if row.SMBLN:
            assert (row.SMBLN, row.SMBLP) in seen
    entries = [(row.CPUDT, row.CPUTM) for row in rows]
    assert entries == sorted(entries)


def test_ecc_movements_from_an_entry_time_on(ecc_generated, generated_truth, session):
    client = _ecc_client(ecc_generated, session)
    entered = sorted(
        datetime.fromisoformat(str(at)).astimezone(CHINA)
        for (at,) in _truth_rows(
            generated_truth,
            "SELECT entered_at FROM movements WHERE system = 'ecc' AND effective = 1",
        )
    )
    since = entered[len(entered) // 2].replace(microsecond=0)
    since_time = since.time().replace(tzinfo=None)
    rows, _ = _read_movements(client, since.strftime("%Y-%m-%d"), 500, at=since_time)
    assert 0 < len(rows) < len(entered)
    assert len(rows) == sum(1 for at in entered if at.replace(microsecond=0) >= since)
    assert min((row.CPUDT, row.CPUTM) for row in rows) >= (
        since.strftime("%Y-%m-%d"),
        since_time,
    )


# --- SAP ECC: the hand-made truth, line by line ----------------------------


def test_ecc_renders_each_movement_as_sap_writes_it(ecc_hand, session):
    rows, _ = _read_movements(_ecc_client(ecc_hand, session), "2026-03-01", 100)
    by_line = {(row.MBLNR, row.ZEILE): row for row in rows}
    receipt = by_line["4500000001", "0001"]
    assert (receipt.BWART, receipt.SHKZG, receipt.INSMK) == ("101", "S", "X")
    assert receipt.MATNR == "000000000000100023"
    assert (
        Decimal("48.000"),
        "ST",
        Decimal("2.000"),
        "KAR",
    ) == (receipt.MENGE, receipt.MEINS, receipt.ERFMG, receipt.ERFME)
    # SAP sends empty fields as empty elements, which zeep reads as None
    assert (receipt.EBELN, receipt.AUFNR, receipt.CHARG) == ("4500012345", None, BATCH)
    # 01:05 UTC is 09:05 in Suzhou: SAP keeps the system's local time
    assert (receipt.BUDAT, receipt.CPUDT) == ("2026-03-01", "2026-03-01")
    assert time(9, 5) == receipt.CPUTM
    assert (receipt.SMBLN, receipt.SMBLP, receipt.SJAHR) == (None, "0000", "0000")
    release = [by_line["4900000001", z] for z in ("0001", "0002")]
    assert [(r.BWART, r.SHKZG, r.INSMK) for r in release] == [
        ("321", "H", "X"),
        ("321", "S", None),
    ]
    move = [by_line["4900000002", z] for z in ("0001", "0002")]
    assert [(r.BWART, r.SHKZG, r.LGORT) for r in move] == [
        ("311", "H", "RM01"),
        ("311", "S", "LS01"),
    ]
    issue = by_line["4900000003", "0001"]
    assert (issue.BWART, issue.SHKZG, issue.AUFNR) == ("261", "H", "000001000001")
    reversal = by_line["4900000004", "0001"]
    assert (reversal.BWART, reversal.SHKZG, reversal.AUFNR) == (
        "262",
        "S",
        "000001000001",
    )
    assert (reversal.SMBLN, reversal.SMBLP, reversal.SJAHR) == (
        "4900000003",
        "0001",
        "2026",
    )
    # entered 17:30 UTC on the 1st is the 2nd in local time; posted the 1st
    assert (reversal.BUDAT, reversal.CPUDT) == ("2026-03-01", "2026-03-02")
    grease = by_line["5000000001", "0001"]
    assert ("FG29", "KG", Decimal("12.5")) == (grease.MATNR, grease.MEINS, grease.MENGE)
    assert grease.CHARG is None
    assert len(rows) == 8


def test_ecc_stock_of_the_hand_truth(ecc_hand, session):
    mard, mchb, _ = _read_stock(_ecc_client(ecc_hand, session), "1100", 1)
    bolt = "000000000000100023"
    assert mard[bolt, "RM01"]["LABST"] == Decimal("24.000")
    assert mard[bolt, "RM01"]["INSME"] == Decimal(0)
    assert mard[bolt, "LS01"]["LABST"] == Decimal(24)
    assert mard["FG29", "RM01"]["LABST"] == Decimal("12.5")
    assert mchb == {
        (bolt, "LS01", BATCH): {**dict.fromkeys(MCHB_FIELDS.values(), 0), "CLABS": 24},
        (bolt, "RM01", BATCH): {**dict.fromkeys(MCHB_FIELDS.values(), 0), "CLABS": 24},
    }


def test_ecc_late_postings_are_held_back_from_the_movement_feed(
    ecc_hand, session, late_postings_on
):
    client = _ecc_client(ecc_hand, session)
    rows, _ = _read_movements(client, "2026-03-01", 100)
    assert "5000000001" not in {row.MBLNR for row in rows}
    assert len(rows) == 7
    # not entered, not booked: the receipt's 12.5 KG is missing from the stock
    # too, and the storage location keeps its MARD row at zero, as SAP does
    mard, _, _ = _read_stock(client, "1100", 100)
    assert mard["FG29", "RM01"]["LABST"] == Decimal(0)
    assert mard["000000000000100023", "RM01"]["LABST"] == Decimal(24)
    ecc_hand.faults.late_postings = False
    mard, _, _ = _read_stock(client, "1100", 100)
    assert mard["FG29", "RM01"]["LABST"] == Decimal("12.5")


def test_ecc_paging_is_stable_at_one_row_per_page(ecc_hand, session):
    client = _ecc_client(ecc_hand, session)
    rows, pages = _read_movements(client, "2026-03-01", 1)
    assert pages == len(rows) == 8
    mard, _, pages = _read_stock(client, "1100", 1)
    assert pages == len(mard) == 3


def test_ecc_wsdl_is_served_at_both_addresses_behind_basic_auth(ecc_hand, session):
    endpoint = f"{ecc_hand.url}{ecc_hand.app.endpoint_path}"
    assert ecc_hand.app.endpoint_path == (
        "/sap/bc/srt/rfc/sap/zmm_stock/100/zmm_stock/zmm_stock"
    )
    for url in (f"{endpoint}?wsdl", f"{ecc_hand.url}{ecc_hand.app.wsdl_path}"):
        reply = session.get(url, params={"sap-client": "100"}, timeout=5)
        assert reply.status_code == 200
        assert b'location="' + endpoint.encode() + b'"' in reply.content
        anonymous = requests.get(url, timeout=5)
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"].startswith("Basic ")
    wrong = requests.post(
        endpoint, data=b"<x/>", auth=HTTPBasicAuth(USER, "wrong"), timeout=5
    )
    assert wrong.status_code == 401


def test_ecc_bad_password_fails_zeep_with_401(ecc_hand):
    with requests.Session() as http:
        http.auth = HTTPBasicAuth(USER, "not-the-password")
        with pytest.raises(requests.HTTPError) as raised:
            _ecc_client(ecc_hand, http)
    assert raised.value.response.status_code == 401


def test_ecc_soap12_binding_answers_too(ecc_hand, session):
    client = _ecc_client(ecc_hand, session)
    service = client.bind("service", "ZMM_STOCK_soap12")
    reply = service.ZMM_STOCK_READ(IV_WERKS="1100", IV_MATNR="FG29")
    assert [(i.MATNR, i.LABST) for i in reply.ET_MARD.item] == [
        ("FG29", Decimal("12.5"))
    ]
    with pytest.raises(zeep.exceptions.Fault) as raised:
        service.ZMM_STOCK_READ(IV_WERKS="9999")
    assert raised.value.message == "PLANT_NOT_FOUND"
    assert raised.value.code.endswith(":Sender")


def test_ecc_unknown_plant_is_an_rfc_exception_fault(ecc_hand, session):
    client = _ecc_client(ecc_hand, session)
    with pytest.raises(zeep.exceptions.Fault) as raised:
        client.service.ZMM_STOCK_READ(IV_WERKS="9999")
    assert raised.value.message == "PLANT_NOT_FOUND"
    assert raised.value.code.endswith(":Client")
    exception = raised.value.detail.find(f"{{{ECC_NS}}}ZMM_STOCK_READ.Exception")
    assert exception.findtext("Name") == "PLANT_NOT_FOUND"
    assert exception.findtext("Text") == "Plant 9999 does not exist"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"IV_CPUDT_FROM": "01.03.2026"}, "Deserialisation failed"),
        ({"IV_CPUDT_FROM": "2026-03-01", "IV_MAX_ROWS": -1}, "INVALID_INPUT"),
        ({"IV_CPUDT_FROM": "2026-03-01", "IV_CONTINUE": "abc"}, "INVALID_INPUT"),
    ],
)
def test_ecc_bad_input_is_a_fault_in_sap_style(ecc_hand, session, arguments, message):
    client = _ecc_client(ecc_hand, session)
    with pytest.raises(zeep.exceptions.Fault) as raised:
        client.service.ZMM_GOODSMVT_READ(IV_WERKS="1100", **arguments)
    assert raised.value.message == message


def test_ecc_refuses_a_request_carrying_a_dtd(ecc_hand, session):
    body = (
        b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>'
        b'<n0:ZMM_STOCK_READ xmlns:n0="urn:sap-com:document:sap:rfc:functions">'
        b"<IV_WERKS>&x;</IV_WERKS></n0:ZMM_STOCK_READ></e:Body></e:Envelope>"
    )
    reply = session.post(
        f"{ecc_hand.url}{ecc_hand.app.endpoint_path}",
        data=body,
        headers={"Content-Type": "text/xml; charset=utf-8"},
        timeout=5,
    )
    assert reply.status_code == 500
    assert b"DTD is prohibited" in reply.content
    assert b"root:" not in reply.content


def test_ecc_share_is_reused_until_the_truth_changes(hand_truth, tmp_path):
    truth = tmp_path / "truth.sqlite"
    truth.write_bytes(hand_truth.read_bytes())
    first = create_sap_ecc_app(truth, tmp_path, username=USER, password=PASSWORD)
    built = first.share_path.stat().st_mtime_ns
    again = create_sap_ecc_app(truth, tmp_path, username=USER, password=PASSWORD)
    assert again.share_path.stat().st_mtime_ns == built
    with closing(sqlite3.connect(truth)) as db:
        db.execute("DELETE FROM movements WHERE document = '5000000001'")
        db.commit()
    changed = create_sap_ecc_app(truth, tmp_path, username=USER, password=PASSWORD)
    assert changed.share_path.stat().st_mtime_ns != built
    with closing(sqlite3.connect(changed.share_path)) as share:
        assert share.execute("SELECT COUNT(*) FROM mseg").fetchone() == (7,)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "sap_ecc_share.sqlite",
        "truth.sqlite",
    ]


# --- evil replies -----------------------------------------------------------


def _raw_call(client: zeep.Client, session, url: str, operation: str, **arguments):
    message = client.create_message(client.service, operation, **arguments)
    return session.post(
        url,
        data=etree.tostring(message),
        headers={"Content-Type": "text/xml; charset=utf-8"},
        timeout=5,
    )


_ENTITY = re.compile(r'<!ENTITY\s+(\w+)\s+(?:SYSTEM\s+"([^"]*)"|"([^"]*)")\s*>')


def _entities(document: str) -> dict[str, tuple[str, str]]:
    """(content, system URL) of each entity the document's internal DTD declares.

    Read from the text: libxml2 refuses to parse an entity bomb even without
    expanding it, which is the point of the bomb but hides its declarations.
    """
    subset = re.match(r"(?:<\?xml[^>]*\?>)?<!DOCTYPE [^\[>]+\[(.*?)\]>", document)
    assert subset is not None, "the document carries no DTD"
    return {
        name: (content, system) for name, system, content in _ENTITY.findall(subset[1])
    }


def _expansion(
    entities: dict[str, tuple[str, str]], name: str, sizes: dict[str, int] | None = None
) -> int:
    """Characters `&name;` expands to, computed from the declarations."""
    sizes = {} if sizes is None else sizes
    if name not in sizes:
        size, rest = 0, entities[name][0]
        while "&" in rest:
            before, _, after = rest.partition("&")
            reference, _, rest = after.partition(";")
            size += len(before) + _expansion(entities, reference, sizes)
        sizes[name] = size + len(rest)
    return sizes[name]


def _assert_evil(document: str, kind: str) -> None:
    entities = _entities(document)
    encoded = document.encode("utf-16" if 'encoding="utf-16"' in document else "utf-8")
    if kind == "dtd":
        assert entities["xxe"][1] == "file:///etc/hostname"
        assert "&xxe;" in document
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        tree = etree.fromstring(encoded, parser).getroottree()
        assert tree.docinfo.internalDTD is not None
    else:
        assert _expansion(entities, "lol9") == 3 * 10**9
        assert "&lol9;" in document
        with pytest.raises(etree.XMLSyntaxError, match="amplification"):
            etree.fromstring(encoded)


@pytest.mark.parametrize("kind", ["dtd", "entity_bomb"])
def test_ecc_evil_replies_carry_a_dtd_or_an_entity_bomb(ecc_hand, session, kind):
    client = _ecc_client(ecc_hand, session)
    endpoint = f"{ecc_hand.url}{ecc_hand.app.endpoint_path}"
    ecc_hand.app.evil_reply = kind
    try:
        reply = _raw_call(client, session, endpoint, "ZMM_STOCK_READ", IV_WERKS="1100")
        # zeep refuses both with its default settings (the bomb already in libxml2)
        with pytest.raises(
            (zeep.exceptions.EntitiesForbidden, zeep.exceptions.TransportError)
        ):
            client.service.ZMM_STOCK_READ(IV_WERKS="1100")
    finally:
        ecc_hand.app.evil_reply = None
    assert reply.status_code == 200
    _assert_evil(reply.text, kind)
    assert client.service.ZMM_STOCK_READ(IV_WERKS="1100").ET_MARD.item


# --- MES ------------------------------------------------------------------

MES_STATUS = {"unrestricted": "OK", "quality_inspection": "QC", "blocked": "HOLD"}


def _china(*fields: int) -> datetime:
    """A naive China wall-clock time: what a .NET client sends as a DateTime."""
    return datetime(*fields, tzinfo=CHINA).replace(tzinfo=None)


def _diffgram_rows(content: bytes) -> list[dict[str, str]]:
    envelope = etree.fromstring(content)
    result = envelope.find(".//{http://tempuri.org/}GetLineSideStockResult")
    schema = result.find("{http://www.w3.org/2001/XMLSchema}schema")
    assert schema.get("id") == "NewDataSet"
    dataset = result.find(f"{{{DIFFGR}}}diffgram").find("NewDataSet")
    tables = dataset.findall("Table")
    assert [t.get(f"{{{DIFFGR}}}id") for t in tables] == [
        f"Table{n + 1}" for n in range(len(tables))
    ]
    return [{column.tag: column.text for column in table} for table in tables]


def _transactions(client: zeep.Client, since: datetime, page_size: int):
    rows, page = [], 1
    while True:
        text = client.service.GetMaterialTransactions(
            since=since, pageIndex=page, pageSize=page_size
        )
        # a .NET StringWriter's document: it declares utf-16 whatever carries it
        assert text.startswith('<?xml version="1.0" encoding="utf-16"?>')
        root = etree.fromstring(text.encode("utf-16"))
        total = int(root.findtext("total"))
        rows.extend({c.tag: c.text or "" for c in row} for row in root.find("rows"))
        if page * page_size >= total:
            return rows, page, total
        page += 1


def test_mes_line_side_stock_dataset_matches_truth(
    mes_generated, generated_truth, session
):
    client = _mes_client(mes_generated, session)
    expected = {
        (site, warehouse, material, batch, MES_STATUS[status]): (
            Decimal(quantity),
            Decimal(reserved),
        )
        for site, warehouse, material, batch, status, quantity, reserved in _truth_rows(
            generated_truth,
            "SELECT site, warehouse, material, batch, status, quantity, reserved"
            " FROM stock WHERE system = 'mes'",
        )
    }
    got = {}
    for site in sorted(MES_SITES):
        with client.settings(raw_response=True):
            reply = client.service.GetLineSideStock(factoryCode=site)
        assert reply.status_code == 200
        for row in _diffgram_rows(reply.content):
            key = (
                row["FactoryCode"],
                row["WarehouseCode"],
                row["MaterialCode"],
                row.get("BatchNo", ""),
                row["QualityStatus"],
            )
            got[key] = (Decimal(row["Qty"]), Decimal(row["LockQty"]))
    assert got == expected
    assert {key[1] for key in got} == {"LS01"}
    # zeep itself reads the DataSet through its inline schema
    site = sorted(MES_SITES)[0]
    parsed = client.service.GetLineSideStock(factoryCode=site)
    tables = [choice["Table"] for choice in parsed._value_1._value_1]
    assert sorted((t.MaterialCode, t.Qty) for t in tables) == sorted(
        (key[2], quantity) for key, (quantity, _) in got.items() if key[0] == site
    )


def test_mes_transactions_xml_string_decodes_to_truth(
    mes_generated, generated_truth, session
):
    client = _mes_client(mes_generated, session)
    rows, pages, total = _transactions(client, _china(2000, 1, 1), page_size=50)
    truth = {
        (document, str(line)): (Decimal(quantity), material, site, entered_at)
        for document, line, quantity, material, site, entered_at in _truth_rows(
            generated_truth,
            "SELECT document, line, quantity, material, site, entered_at"
            " FROM movements WHERE system = 'mes' AND effective = 1",
        )
    }
    assert pages > 2
    assert total == len(rows) == len(truth)
    assert {(row["TransId"], row["LineNo"]) for row in rows} == set(truth)
    for row in rows:
        quantity, material, site, entered_at = truth[row["TransId"], row["LineNo"]]
        sign = 1 if row["IoType"] == "IN" else -1
        assert sign * Decimal(row["Qty"]) == quantity
        assert (row["MaterialCode"], row["FactoryCode"]) == (material, site)
        local = datetime.fromisoformat(str(entered_at)).astimezone(CHINA)
        assert row["CreateTime"] == local.strftime("%Y-%m-%d %H:%M:%S")


def test_mes_transactions_since_a_local_time(mes_generated, generated_truth, session):
    client = _mes_client(mes_generated, session)
    entered = sorted(
        datetime.fromisoformat(str(at)).astimezone(CHINA).replace(tzinfo=None)
        for (at,) in _truth_rows(
            generated_truth,
            "SELECT entered_at FROM movements WHERE system = 'mes' AND effective = 1",
        )
    )
    since = entered[len(entered) // 3].replace(microsecond=0)
    rows, _, total = _transactions(client, since, page_size=1000)
    assert total == len(rows) == sum(1 for at in entered if at >= since)
    # the same moment with an explicit offset selects the same rows
    aware = since.replace(tzinfo=CHINA).astimezone(UTC)
    _, _, total_aware = _transactions(client, aware, page_size=1000)
    assert total_aware == total


def test_mes_material_list_json_string_decodes_to_truth(
    mes_generated, generated_truth, session
):
    client = _mes_client(mes_generated, session)
    rows, page = [], 1
    while True:
        document = json.loads(
            client.service.GetMaterialList(pageIndex=page, pageSize=5)
        )
        assert (document["code"], document["msg"]) == (0, "success")
        rows.extend(document["data"]["rows"])
        if page * 5 >= document["data"]["total"]:
            break
        page += 1
    expected = [
        {
            "materialCode": material,
            "materialName": name,
            "batchManaged": bool(batch_managed),
            "safetyStock": safety_stock,
        }
        for material, name, batch_managed, safety_stock in _truth_rows(
            generated_truth,
            "SELECT material, name, batch_managed, safety_stock FROM materials"
            " ORDER BY material",
        )
    ]
    assert [
        {key: row[key] for key in ("materialCode", "materialName", "batchManaged",
                                   "safetyStock")}
        for row in rows
    ] == expected  # fmt: skip
    assert page > 1


def test_mes_hand_truth_renders_and_holds_back_late_lines(mes_hand, session):
    client = _mes_client(mes_hand, session)
    rows, _, total = _transactions(client, _china(2026, 3, 1), 10)
    assert total == 3
    issue = next(row for row in rows if row["TransId"] == "MT0000002")
    assert issue["TransType"] == "CONSUME"
    assert rows[0]["TransType"] == "TRANSFER_IN"
    assert (issue["IoType"], issue["Qty"], issue["Unit"]) == ("OUT", "5", "PCS")
    assert issue["TransTime"] == "2026-03-01 12:00:00"
    assert issue["WorkOrderNo"] == "WO-0001"
    with client.settings(raw_response=True):
        content = client.service.GetLineSideStock(factoryCode="1000").content
    stock = {row["MaterialCode"]: row for row in _diffgram_rows(content)}
    assert (stock["100023"]["Qty"], stock["100023"]["LockQty"]) == ("19", "2")
    assert "BatchNo" not in stock["FG29"], ".NET leaves DBNull columns out"
    assert stock["FG29"]["UpdateTime"] == "2026-03-03T00:00:00+08:00"


def test_mes_late_postings_are_held_back(mes_hand, session, late_postings_on):
    client = _mes_client(mes_hand, session)
    rows, _, total = _transactions(client, _china(2026, 3, 1), 10)
    assert total == len(rows) == 2
    assert "MT0000002" not in {row["TransId"] for row in rows}
    with client.settings(raw_response=True):
        content = client.service.GetLineSideStock(factoryCode="1000").content
    stock = {row["MaterialCode"]: row for row in _diffgram_rows(content)}
    # the held-back issue of 5 has not reduced the line-side stock either
    assert (stock["100023"]["Qty"], stock["100023"]["LockQty"]) == ("24", "2")
    assert stock["FG29"]["Qty"] == "3.750"


def test_mes_late_postings_leave_zero_rows_out(hand_truth, tmp_path):
    """A row the late lines bring to zero, or from zero, shows as the MES keeps it."""
    truth = tmp_path / "truth.sqlite"
    truth.write_bytes(hand_truth.read_bytes())
    with closing(sqlite3.connect(truth)) as db:
        # FG29: a late issue took the last 3.75 KG, so the MES dropped the row
        db.execute("DELETE FROM stock WHERE system = 'mes' AND material = 'FG29'")
        db.execute("UPDATE movements SET late = 1, quantity = '-3.75' WHERE id = 11")
        # 100023: the whole 19 came from a late receipt (and the issue is on time)
        db.execute("UPDATE movements SET late = 0 WHERE id = 10")
        db.execute("UPDATE movements SET late = 1, quantity = '19' WHERE id = 9")
        db.commit()
    with (
        start_mes_soap(truth, tmp_path, username=USER, password=PASSWORD) as server,
        requests.Session() as http,
    ):
        http.auth = HTTPBasicAuth(USER, PASSWORD)
        client = _mes_client(server, http)

        def line_side() -> dict[str, str]:
            with client.settings(raw_response=True):
                reply = client.service.GetLineSideStock(factoryCode="1000")
            return {r["MaterialCode"]: r["Qty"] for r in _diffgram_rows(reply.content)}

        assert line_side() == {"100023": "19"}
        server.faults.late_postings = True
        assert line_side() == {"FG29": "3.75"}


def test_mes_soap12_binding_answers_too(mes_hand, session):
    client = _mes_client(mes_hand, session)
    service = client.bind("MesService", "MesServiceSoap12")
    document = json.loads(service.GetMaterialList(pageIndex=1, pageSize=10))
    assert [row["materialCode"] for row in document["data"]["rows"]] == [
        "100023",
        "FG29",
    ]


def test_mes_bad_page_is_an_asmx_fault(mes_hand, session):
    client = _mes_client(mes_hand, session)
    with pytest.raises(zeep.exceptions.Fault) as raised:
        client.service.GetMaterialTransactions(
            since=_china(2026, 3, 1), pageIndex=0, pageSize=10
        )
    assert raised.value.message.startswith("Server was unable to process request.")
    assert raised.value.code == "soap:Server"


def test_mes_needs_its_credentials(mes_hand):
    url = f"{mes_hand.url}/MesService.asmx?WSDL"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, auth=(USER, "nope"), timeout=5).status_code == 401
    assert requests.get(url, auth=(USER, PASSWORD), timeout=5).status_code == 200


@pytest.mark.parametrize("kind", ["dtd", "entity_bomb"])
def test_mes_evil_envelope_and_evil_payload(mes_hand, session, kind):
    client = _mes_client(mes_hand, session)
    mes_hand.app.evil_reply = kind
    try:
        reply = _raw_call(
            client,
            session,
            f"{mes_hand.url}/MesService.asmx",
            "GetMaterialList",
            pageIndex=1,
            pageSize=1,
        )
    finally:
        mes_hand.app.evil_reply = None
    assert reply.status_code == 200
    _assert_evil(reply.text, kind)
    mes_hand.app.evil_payload = kind
    try:
        text = client.service.GetMaterialTransactions(
            since=_china(2026, 3, 1), pageIndex=1, pageSize=10
        )
    finally:
        mes_hand.app.evil_payload = None
    _assert_evil(text, kind)
