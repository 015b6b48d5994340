"""The `sap_odata` connector against odd Gateway payloads, with `responses`.

Each case is a reply a real Gateway can send and the simulator does not:
empty and looping pages, decimals of every scale, dates with and without
offsets, error bodies, `sap-message` headers, an old material document
service without DebitCreditCode.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from pydantic import ValidationError

from stockbridge.connectors.base import CheckState
from stockbridge.connectors.errors import ProtocolError, SourceConfigError
from stockbridge.connectors.sap_odata import SapODataConnector, SapODataSettings
from stockbridge.connectors.sap_odata_movements import MovementCursor
from stockbridge.connectors.sap_odata_wire import (
    WireError,
    datetime_literal,
    decimal_value,
    odata_date,
    odata_datetime,
    odata_time,
    query_string,
    sap_error_text,
    sap_message_error,
    string_literal,
    time_literal,
)
from stockbridge.mapping.model import (
    MovementKind,
    MovementRecord,
    StockRecord,
    UnreadableRecord,
)

ROOT = "http://sap.example.test/sap/opu/odata/sap"
STOCK = f"{ROOT}/API_MATERIAL_STOCK_SRV/A_MatlStkInAcctMod"
HEADERS = f"{ROOT}/API_MATERIAL_DOCUMENT_SRV/A_MaterialDocumentHeader"
PASSWORD = "Pa55-word-xyz"
JSON = {"Content-Type": "application/json; charset=utf-8"}
Reply = tuple[int, dict[str, str], str]

# --- pure wire functions ----------------------------------------------------------------


@pytest.mark.parametrize("text", ["1160.000", "2", "0.5", "-3.25", "0.00010000000000"])
def test_decimal_strings_of_any_scale_are_exact(text: str) -> None:
    value = decimal_value(text, "Qty")
    assert value == Decimal(text)
    assert str(value) == text


@pytest.mark.parametrize("value", [5, 1.5, None, "abc", "NaN", "Infinity", ""])
def test_non_decimals_are_refused(value: object) -> None:
    with pytest.raises(WireError, match="Qty"):
        decimal_value(value, "Qty")


def test_odata_dates_with_and_without_offset() -> None:
    assert odata_datetime("/Date(1470268800000)/", "d") == datetime(
        2016, 8, 4, tzinfo=UTC
    )
    with_offset = odata_datetime("/Date(1542801052000+0000)/", "d")
    assert with_offset == datetime(2018, 11, 21, 11, 50, 52, tzinfo=UTC)
    shifted = odata_datetime("/Date(1542801052000+0060)/", "d")
    assert shifted == with_offset
    assert shifted.utcoffset() == timedelta(hours=1)
    west = odata_datetime("/Date(1542801052000-0300)/", "d")
    assert west == with_offset
    assert west.tzinfo == timezone(timedelta(hours=-5))
    assert odata_datetime("/Date(-86400000)/", "d") == datetime(
        1969, 12, 31, tzinfo=UTC
    )
    assert odata_date("/Date(1470268800000)/", "d") == datetime(
        2016, 8, 4, tzinfo=UTC
    ).replace(tzinfo=None)
    for bad in ("2016-08-04", "/Date(abc)/", "/Date(1)", None):
        with pytest.raises(WireError):
            odata_datetime(bad, "d")
    with pytest.raises(WireError, match="carries a time"):
        odata_date("/Date(1542801052000)/", "PostingDate")


def test_odata_times() -> None:
    assert odata_time("PT10H37M02S", "t") == time(10, 37, 2)
    assert odata_time("PT0S", "t") == time(0)
    assert odata_time("PT7M", "t") == time(0, 7)
    assert odata_time("PT23H59M59.5S", "t") == time(23, 59, 59, 500000)
    for bad in ("PT", "PT24H", "10:37:02", "P1DT1H", None):
        with pytest.raises(WireError):
            odata_time(bad, "t")


def test_filter_literals_and_query_encoding() -> None:
    assert string_literal("O'Neil") == "'O''Neil'"
    assert (
        datetime_literal(
            datetime(2024, 3, 11, 5, 6, 7, 89, tzinfo=UTC).replace(tzinfo=None)
        )
        == "datetime'2024-03-11T05:06:07'"
    )
    assert time_literal(time(9, 5, 3)) == "time'PT09H05M03S'"
    encoded = query_string({"$filter": "Plant eq '1000'", "$top": "5"})
    assert encoded == "$filter=Plant%20eq%20'1000'&$top=5"


def test_sap_error_bodies_are_decoded() -> None:
    body = {
        "error": {
            "code": "/IWBEP/CM_MGW_RT/020",
            "message": {"lang": "en", "value": "Resource not found"},
            "innererror": {
                "errordetails": [{"code": "M7/021", "message": "Plant 9 unknown"}]
            },
        }
    }
    assert sap_error_text(json.dumps(body).encode()) == (
        "/IWBEP/CM_MGW_RT/020: Resource not found (M7/021: Plant 9 unknown)"
    )
    xml = (
        b'<?xml version="1.0"?><error xmlns="http://schemas.microsoft.com/ado/2007/08/'
        b'dataservices/metadata"><code>/IWFND/MED/170</code><message xml:lang="en">'
        b"No service found</message></error>"
    )
    assert sap_error_text(xml) == "/IWFND/MED/170: No service found"
    assert sap_error_text(b"<html><body>down</body></html>") is None
    assert sap_error_text(b"plain text") is None


def test_sap_message_header_severities() -> None:
    error = (
        '{"code":"M7/022","message":"Stock is locked","severity":"error","details":[]}'
    )
    warning = '{"code":"W1","message":"Sorted late","severity":"warning","details":[]}'
    nested = (
        '{"code":"I1","message":"ok","severity":"info","details":'
        '[{"code":"E9","message":"Item 2 failed","severity":"error"}]}'
    )
    xml = "<notification><code>E1</code><message>Bad</message><severity>error</severity></notification>"
    assert sap_message_error(error) == "M7/022: Stock is locked"
    assert sap_message_error(warning) is None
    assert sap_message_error(nested) == "E9: Item 2 failed"
    assert sap_message_error(xml) == "E1: Bad"
    assert sap_message_error(None) is None


def test_cursor_round_trip_and_order() -> None:
    a = MovementCursor(date(2026, 3, 9), time(23, 59, 59), "2026", "4900000001")
    b = MovementCursor(date(2026, 3, 10), time(0, 0, 1), "2026", "4900000000")
    assert MovementCursor.from_json(a.to_json(), source="s") == a
    assert a < b
    with pytest.raises(SourceConfigError, match="full sync"):
        MovementCursor.from_json('{"creation_date": "yesterday"}', source="s")


# --- a fake Gateway -------------------------------------------------------------------------


def edmx(*, debit_credit_code: bool) -> str:
    item = [
        "MaterialDocumentYear", "MaterialDocument", "MaterialDocumentItem", "Material",
        "Plant", "StorageLocation", "Batch", "GoodsMovementType", "InventoryStockType",
        "InventorySpecialStockType", "MaterialBaseUnit", "QuantityInBaseUnit",
        "IsAutomaticallyCreated", "ReversedMaterialDocumentYear", "ReversedMaterialDocument",
        "ReversedMaterialDocumentItem", "ManufacturingOrder", "PurchaseOrder",
    ] + (["DebitCreditCode"] if debit_credit_code else [])  # fmt: skip
    props = "".join(f'<Property Name="{p}" Type="Edm.String"/>' for p in item)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx">'
        '<edmx:DataServices><Schema xmlns="http://schemas.microsoft.com/ado/2008/09/edm">'
        '<EntityType Name="A_MatlStkInAcctModType"><Property Name="Material" Type="Edm.String"/></EntityType>'
        f'<EntityType Name="A_MaterialDocumentItemType">{props}</EntityType>'
        "</Schema></edmx:DataServices></edmx:Edmx>"
    )


def serve(
    url: str | re.Pattern[str], handler: Callable[[requests.PreparedRequest], Reply]
) -> None:
    pattern = (
        url if isinstance(url, re.Pattern) else re.compile(re.escape(url) + r"(\?.*)?$")
    )
    responses.add_callback(responses.GET, pattern, callback=handler)


def reply(body: object, status: int = 200, **headers: str) -> Reply:
    return status, {**JSON, **headers}, json.dumps(body)


def one_window(
    rows: list[Any], **headers: str
) -> Callable[[requests.PreparedRequest], Reply]:
    """A collection that fits one `$top` window: rows first, then nothing."""

    def handler(request: requests.PreparedRequest) -> Reply:
        return reply(
            {"d": {"results": [] if "$skip" in query(request) else rows}}, **headers
        )

    return handler


def query(request: requests.PreparedRequest) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(request.url or "").query).items()}


def serve_metadata(*, debit_credit_code: bool = True) -> None:
    body = edmx(debit_credit_code=debit_credit_code)
    for service in ("API_MATERIAL_STOCK_SRV", "API_MATERIAL_DOCUMENT_SRV"):
        serve(
            f"{ROOT}/{service}/$metadata",
            lambda _r, body=body: (200, {"Content-Type": "application/xml"}, body),
        )


def connector(**overrides: Any) -> SapODataConnector:
    values: dict[str, Any] = {
        "url": ROOT + "/",
        "client": "100",
        "username": "API_USER",
        "password": PASSWORD,
        "timezone": "Asia/Shanghai",
        "page_size": 100,
        "retry_attempts": 3,
        "retry_max_wait": 0.01,
        **overrides,
    }
    settings = SapODataSettings.model_validate(values)
    return SapODataConnector("sap1", settings, timezone="UTC", sleep=lambda _s: None)


def stock_row(qty: object, **fields: str) -> dict[str, object]:
    return {
        "__metadata": {"type": "API_MATERIAL_STOCK_SRV.A_MatlStkInAcctModType"},
        "Material": "100141", "Plant": "1000", "StorageLocation": "RM01",
        "Batch": "0000000109", "Supplier": "", "Customer": "", "WBSElementInternalID": "0",
        "SDDocument": "", "SDDocumentItem": "0", "InventorySpecialStockType": "",
        "InventoryStockType": "01", "MaterialBaseUnit": "PC",
        "MatlWrhsStkQtyInMatlBaseUnit": qty, **fields,
    }  # fmt: skip


def records(pages: Iterator[Any]) -> list[Any]:
    return [r for p in pages for r in p.records]


# --- stock: numbers, statuses, paging ----------------------------------------------------------------


@responses.activate
def test_stock_rows_keep_decimal_text_status_and_special_stock() -> None:
    rows = [
        stock_row("1160.000"),
        stock_row("2", InventoryStockType="02"),
        stock_row("0.5", InventorySpecialStockType="K", Supplier="V100"),
        stock_row("7", InventoryStockType="09"),
        stock_row(12.5),
    ]
    serve(STOCK, one_window(rows))
    got = records(connector().stock())
    stock = [r for r in got if isinstance(r, StockRecord)]
    assert [str(r.quantity) for r in stock] == ["1160.000", "2", "0.5", "7"]
    assert [r.status for r in stock] == [
        "unrestricted",
        "quality_inspection",
        "unrestricted",
        "09",
    ]
    assert (stock[2].special_stock, stock[2].raw["Supplier"]) == ("K", "V100")
    assert (stock[0].material, stock[0].batch, stock[0].unit) == (
        "100141",
        "0000000109",
        "PC",
    )
    (bad,) = [r for r in got if isinstance(r, UnreadableRecord)]
    assert "MatlWrhsStkQtyInMatlBaseUnit" in bad.reason
    assert bad.raw["MatlWrhsStkQtyInMatlBaseUnit"] == "12.5"
    sent = query(responses.calls[0].request)
    assert sent["sap-client"] == "100"
    assert sent["sap-language"] == "EN"
    assert sent["$orderby"].startswith("Material,Plant,StorageLocation,Batch")
    assert responses.calls[0].request.headers["Accept"] == "application/json"


@responses.activate
def test_empty_pages_are_followed_and_an_empty_set_reads_once() -> None:
    second = f"{STOCK}?$skiptoken=100&sap-client=100"

    def gateway(request: requests.PreparedRequest) -> Reply:
        asked = query(request)
        if "$skip" in asked:
            return reply({"d": {"results": []}})
        if "$skiptoken" in asked:
            return reply({"d": {"results": [stock_row("3")]}})
        return reply({"d": {"results": [], "__next": second}})

    serve(STOCK, gateway)
    assert [str(r.quantity) for r in records(connector().stock())] == ["3"]
    assert "sap-language=EN" in (responses.calls[1].request.url or ""), (
        "system options added"
    )
    assert len(responses.calls) == 3, "page, next page, then an empty window"

    responses.reset()
    serve(STOCK, lambda _: reply({"d": {"results": []}}))
    assert list(connector().stock()) == []
    assert len(responses.calls) == 1


@responses.activate
def test_a_next_link_seen_twice_is_a_protocol_error_not_a_loop() -> None:
    again = f"{STOCK}?$skiptoken=1&sap-client=100&sap-language=EN"
    serve(STOCK, lambda _: reply({"d": {"results": [stock_row("1")], "__next": again}}))
    with pytest.raises(ProtocolError, match="repeats a page"):
        records(connector().stock())
    assert len(responses.calls) == 2


@responses.activate
def test_a_next_link_to_another_host_is_not_followed() -> None:
    serve(
        STOCK,
        lambda _: reply({"d": {"results": [], "__next": "http://evil.example.test/x"}}),
    )
    with pytest.raises(ProtocolError, match="not following it with our credentials"):
        records(connector().stock())
    assert len(responses.calls) == 1


@responses.activate
def test_without_next_links_top_and_skip_windows_read_everything() -> None:
    def window(request: requests.PreparedRequest) -> Reply:
        skip = int(query(request).get("$skip", "0"))
        count = {0: 2, 2: 2, 4: 1, 5: 0}[skip]
        return reply(
            {"d": {"results": [stock_row(str(skip + i)) for i in range(count)]}}
        )

    serve(STOCK, window)
    got = records(connector(page_size=2).stock())
    assert [str(r.quantity) for r in got] == ["0", "1", "2", "3", "4"]
    sent = [query(c.request) for c in responses.calls]
    assert [q.get("$skip") for q in sent] == [None, "2", "4", "5"]
    assert {q["$top"] for q in sent} == {"2"}
    assert len({q["$orderby"] for q in sent}) == 1


@responses.activate
def test_a_silently_capped_service_is_read_to_the_end() -> None:
    rows = [stock_row(str(n)) for n in range(7)]

    def capped(request: requests.PreparedRequest) -> Reply:
        skip = int(query(request).get("$skip", "0"))
        return reply({"d": {"results": rows[skip : skip + 3]}})  # 3, whatever $top says

    serve(STOCK, capped)
    got = records(connector(page_size=5).stock())
    assert [str(r.quantity) for r in got] == [str(n) for n in range(7)]


@responses.activate
def test_a_service_that_ignores_skip_is_a_protocol_error_not_a_loop() -> None:
    serve(STOCK, lambda _: reply({"d": {"results": [stock_row("1"), stock_row("2")]}}))
    with pytest.raises(ProtocolError, match=r"ignores \$skip"):
        records(connector(page_size=5).stock())
    assert len(responses.calls) == 2


# --- errors ---------------------------------------------------------------------------------------


@responses.activate
def test_sap_error_bodies_become_protocol_errors_in_sap_words() -> None:
    error = {
        "error": {
            "code": "/IWBEP/CM_MGW_RT/021",
            "message": {
                "lang": "en",
                "value": f"Property 'Plnt' not found ({PASSWORD})",
            },
        }
    }
    serve(STOCK, lambda _: reply(error, status=400))
    with pytest.raises(ProtocolError) as info:
        records(connector().stock())
    text = str(info.value)
    assert "answered 400: /IWBEP/CM_MGW_RT/021: Property 'Plnt' not found" in text
    assert PASSWORD not in text
    assert len(responses.calls) == 1, "not retried"


@responses.activate
def test_sap_message_header_with_severity_error_fails_a_200() -> None:
    message = '{"code":"M7/022","message":"Stock of plant 1000 is being counted","severity":"error"}'
    serve(
        STOCK,
        one_window([stock_row("1")], **{"sap-message": message}),
    )
    with pytest.raises(
        ProtocolError, match="SAP error message: M7/022: Stock of plant 1000"
    ):
        records(connector().stock())

    responses.reset()
    warning = '{"code":"W","message":"slow","severity":"warning"}'
    serve(
        STOCK,
        one_window([stock_row("1")], **{"sap-message": warning}),
    )
    assert len(records(connector().stock())) == 1


@responses.activate
def test_html_instead_of_json_is_a_protocol_error_and_a_cut_body_is_retried() -> None:
    serve(STOCK, lambda _: (200, {"Content-Type": "text/html"}, "<html>login</html>"))
    with pytest.raises(ProtocolError, match="not JSON"):
        records(connector().stock())

    responses.reset()
    full = json.dumps({"d": {"results": [stock_row("4")]}})
    bodies = iter([full[: len(full) // 2], full, json.dumps({"d": {"results": []}})])
    serve(STOCK, lambda _: (200, JSON, next(bodies)))
    assert [str(r.quantity) for r in records(connector().stock())] == ["4"]
    assert len(responses.calls) == 3, "cut body, whole body, empty next window"


@responses.activate
def test_check_reports_sap_errors_and_refused_logons() -> None:
    metadata = f"{ROOT}/API_MATERIAL_STOCK_SRV/$metadata"
    error = {
        "error": {"code": "/IWFND/MED/170", "message": {"value": "No service found"}}
    }
    serve(metadata, lambda _: reply(error, status=404))
    result = connector().check()
    assert result.state is CheckState.PROTOCOL_ERROR
    assert "/IWFND/MED/170: No service found" in result.detail

    responses.reset()
    serve(metadata, lambda _: (401, {"Content-Type": "text/html"}, "Logon failed"))
    assert connector().check().state is CheckState.AUTH_FAILED
    assert len(responses.calls) == 1


def test_settings_are_checked() -> None:
    good = {"url": ROOT, "username": "U", "password": "p"}
    assert SapODataSettings.model_validate(good).language == "EN"
    for bad in (
        {**good, "url": "sap.example.test"},
        {**good, "client": "1"},
        {**good, "passwd": "p"},
        {**good, "language": "English"},
    ):
        with pytest.raises(ValidationError):
            SapODataSettings.model_validate(bad)
    shown = repr(SapODataSettings.model_validate({**good, "password": PASSWORD}))
    assert PASSWORD not in shown


# --- material documents -----------------------------------------------------------------------------

POSTED = "/Date(1773014400000)/"  # 2026-03-09
CREATED = "/Date(1773014400000+0000)/"


def header(
    doc: str, items: list[dict[str, object]], *, at: str = "PT23H50M05S"
) -> dict[str, object]:
    return {
        "MaterialDocumentYear": "2026", "MaterialDocument": doc, "PostingDate": POSTED,
        "CreationDate": CREATED, "CreationTime": at,
        "to_MaterialDocumentItem": {"results": items},
    }  # fmt: skip


def item(
    doc: str, line: str, mvt: str, qty: str = "5.000", **fields: str
) -> dict[str, object]:
    return {
        "MaterialDocumentYear": "2026", "MaterialDocument": doc, "MaterialDocumentItem": line,
        "Material": "100141", "Plant": "1000", "StorageLocation": "RM01", "Batch": "",
        "GoodsMovementType": mvt, "InventoryStockType": "01", "InventorySpecialStockType": "",
        "MaterialBaseUnit": "KG", "QuantityInBaseUnit": qty, "IsAutomaticallyCreated": "",
        "ReversedMaterialDocumentYear": "0000", "ReversedMaterialDocument": "",
        "ReversedMaterialDocumentItem": "0", "ManufacturingOrder": "", "PurchaseOrder": "",
        **fields,
    }  # fmt: skip


def movements(headers: list[dict[str, object]], **overrides: Any) -> list[Any]:
    serve(HEADERS, one_window(headers))
    return records(connector(**overrides).movements(None, lookback=timedelta(0)))


@responses.activate
def test_documents_become_signed_movements_in_utc() -> None:
    serve_metadata()
    got = movements(
        [
            header("5000000001", [item("5000000001", "0001", "101", "1160.000", DebitCreditCode="S", PurchaseOrder="4500000001")]),
            header("4900000001", [item("4900000001", "1", "261", "0.5", DebitCreditCode="H", ManufacturingOrder="1000001")]),
            header("4900000002", [item("4900000002", "1", "102", "2", DebitCreditCode="H",
                                       ReversedMaterialDocumentYear="2026",
                                       ReversedMaterialDocument="5000000001",
                                       ReversedMaterialDocumentItem="0001")]),
        ]
    )  # fmt: skip
    receipt, issue, reversal = got
    assert (receipt.line, receipt.kind, receipt.quantity) == (
        "1",
        MovementKind.RECEIPT,
        Decimal("1160.000"),
    )
    assert receipt.order_ref == "4500000001"
    assert (issue.kind, issue.quantity, issue.order_ref) == (
        MovementKind.PRODUCTION_ISSUE,
        Decimal("-0.5"),
        "1000001",
    )
    assert (reversal.kind, reversal.quantity) == (MovementKind.REVERSAL, Decimal(-2))
    assert reversal.reverses == "5000000001/1/2026"
    # System zone Asia/Shanghai: posting day 2026-03-09 starts 2026-03-08T16:00Z.
    assert receipt.posted_at == datetime(2026, 3, 8, 16, tzinfo=UTC)
    assert receipt.entered_at == datetime(2026, 3, 9, 15, 50, 5, tzinfo=UTC)
    sent = query(responses.calls[-1].request)
    assert sent["$expand"] == "to_MaterialDocumentItem"
    assert (
        sent["$orderby"]
        == "CreationDate,CreationTime,MaterialDocumentYear,MaterialDocument"
    )
    assert "to_MaterialDocumentItem/DebitCreditCode" in sent["$select"]


@responses.activate
def test_without_debit_credit_code_the_movement_type_table_decides() -> None:
    serve_metadata(debit_credit_code=False)
    issued = item("4900000010", "1", "311")
    received = item(
        "4900000010", "2", "311", IsAutomaticallyCreated="X", StorageLocation="LS01"
    )
    by_key = f"{ROOT}/API_MATERIAL_DOCUMENT_SRV/A_MaterialDocumentItem("
    for original in (issued, received):
        key = (
            "MaterialDocumentYear='2026',MaterialDocument='4900000010',"
            f"MaterialDocumentItem='{original['MaterialDocumentItem']}')"
        )
        serve(by_key + key, lambda _, original=original: reply({"d": original}))
    reversal = {
        "ReversedMaterialDocumentYear": "2026",
        "ReversedMaterialDocument": "4900000010",
    }
    got = movements(
        [
            header("5000000001", [item("5000000001", "1", "101", ManufacturingOrder="1000001")]),
            header("4900000001", [item("4900000001", "1", "261"), item("4900000001", "2", "701")]),
            header("4900000010", [issued, received]),
            header("4900000011", [
                item("4900000011", "1", "312", ReversedMaterialDocumentItem="1", **reversal),
                item("4900000011", "2", "312", StorageLocation="LS01",
                     ReversedMaterialDocumentItem="2", **reversal),
            ]),
            header("4900000012", [item("4900000012", "1", "Z01"), item("4900000012", "2", "711")]),
        ]
    )  # fmt: skip
    signed = [
        (r.kind.value, r.warehouse, r.quantity)
        for r in got
        if isinstance(r, MovementRecord)
    ]
    assert signed == [
        ("production_receipt", "RM01", Decimal("5.000")),
        ("production_issue", "RM01", Decimal("-5.000")),
        ("adjustment", "RM01", Decimal("5.000")),
        ("transfer", "RM01", Decimal("-5.000")),
        ("transfer", "LS01", Decimal("5.000")),
        ("reversal", "RM01", Decimal("5.000")),
        ("reversal", "LS01", Decimal("-5.000")),
    ]
    z01, unknown = [r for r in got if isinstance(r, UnreadableRecord)]
    assert "movement type 'Z01' is not in" in z01.reason
    assert "cannot tell the direction of movement type '711'" in unknown.reason
    assert unknown.raw["MaterialDocument"] == "4900000012"
    assert "DebitCreditCode" not in query(responses.calls[1].request)["$select"]


@responses.activate
def test_items_that_move_no_stock_of_our_plants_are_not_movements() -> None:
    serve_metadata()
    got = movements(
        [
            header("5000000001", [
                item("5000000001", "1", "103", DebitCreditCode="S"),
                item("5000000001", "2", "101", DebitCreditCode="S", StorageLocation="", InventoryStockType=""),
                item("5000000001", "3", "101", DebitCreditCode="S", Plant="1100"),
                item("5000000001", "4", "101", DebitCreditCode="S"),
            ]),
        ],
        plants=["1000"],
    )  # fmt: skip
    assert [(r.line, r.site) for r in got] == [("4", "1000")]


@responses.activate
def test_pages_split_a_big_document_and_carry_only_safe_cursors() -> None:
    serve_metadata()
    lines = [
        item("4900000001", str(n), "261", DebitCreditCode="H") for n in range(1, 6)
    ]
    serve(HEADERS, one_window([header("4900000001", lines)]))
    pages = list(connector(page_size=2).movements(None, lookback=timedelta(0)))
    assert [len(p.records) for p in pages] == [2, 2, 1]
    assert [p.cursor for p in pages[:2]] == [None, None], (
        "the document is not complete yet"
    )
    assert (
        pages[2].cursor
        == MovementCursor(
            date(2026, 3, 9), time(23, 50, 5), "2026", "4900000001"
        ).to_json()
    )


@responses.activate
def test_incremental_filter_reaches_back_by_the_lookback_across_midnight() -> None:
    serve_metadata()
    serve(HEADERS, lambda _: reply({"d": {"results": []}}))
    cursor = MovementCursor(date(2026, 3, 10), time(0, 10), "2026", "4900000001")
    conn = connector()
    pages = list(conn.movements(cursor.to_json(), lookback=timedelta(minutes=30)))
    assert pages == []
    assert query(responses.calls[-1].request)["$filter"] == (
        "CreationDate gt datetime'2026-03-09T00:00:00' or "
        "(CreationDate eq datetime'2026-03-09T00:00:00' and CreationTime ge time'PT23H40M00S')"
    )


@responses.activate
def test_unexpanded_items_are_a_protocol_error() -> None:
    serve_metadata()
    deferred = header("4900000001", [])
    deferred["to_MaterialDocumentItem"] = {"__deferred": {"uri": "x"}}
    with pytest.raises(ProtocolError, match="did not expand"):
        movements([deferred])
