"""`kind: mes_rest` on odd payloads: envelopes, field paths, numbers, paging styles, errors.

Every reply here is scripted with `responses`, so each test shows one shape
a real MES sends and what the connector makes of it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import responses
from pydantic import ValidationError

from stockbridge.connectors.base import CheckState
from stockbridge.connectors.errors import AuthError, ProtocolError, SourceConfigError
from stockbridge.connectors.mes_rest import MesRestConnector, MesRestSettings
from stockbridge.connectors.mes_rest_values import FieldPath, decimal_value
from stockbridge.mapping.model import (
    MovementKind,
    MovementRecord,
    StockRecord,
    UnreadableRecord,
)

BASE = "http://mes.test"
STOCK = f"{BASE}/stock"
TXNS = f"{BASE}/txns"
STOCK_FIELDS = {
    "material": "material.code",
    "site": "plant",
    "warehouse": "wh",
    "batch": "lots.0.no",
    "quantity": "qty",
    "unit": "uom",
    "status": "state",
}
MOVES = {
    "path": "/txns",
    "cursor_param": "since",
    "cursor_field": "created",
    "id_pattern": r"^(?P<document>.+)-(?P<line>\d+)$",
    "fields": {
        "document": "id",
        "kind": "type",
        "material": "mat",
        "site": "plant",
        "warehouse": "wh",
        "quantity": "qty",
        "unit": "uom",
        "posted_at": "posted",
        "reverses": "reverses",
    },
    "defaults": {"status": "unrestricted"},
    "direction": {"field": "dir", "in": ["IN", "RECV"], "out": "OUT"},
    "kinds": {"CONSUME": "production_issue", "REVERSAL": "reversal"},
}


def make(streams: dict[str, Any] | None = None, **options: Any) -> MesRestConnector:
    settings = MesRestSettings.model_validate(
        {
            "url": BASE,
            "retry_attempts": 3,
            "retry_max_wait": 0.01,
            **options,
            "streams": streams or {"stock": {"path": "/stock", "fields": STOCK_FIELDS}},
        }
    )
    return MesRestConnector("mes", settings, timezone="Asia/Shanghai")


def stock_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "material": {"code": "100001"},
        "plant": "1000",
        "wh": "LS01",
        "lots": [{"no": "L1"}],
        "qty": "12.500",
        "uom": "KG",
        "state": "OK",
    }
    row.update(changes)
    return row


def move_row(
    number: int, created: str = "2026-03-30 08:00:00", **changes: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": f"MES-PI-{number:06d}-001",
        "type": "CONSUME",
        "dir": "OUT",
        "mat": "100001",
        "plant": "1000",
        "wh": "LS01",
        "qty": "5.000",
        "uom": "KG",
        "posted": "2026-03-30 07:59:00",
        "created": created,
        "reverses": None,
    }
    row.update(changes)
    return row


def envelope(data: object, code: int = 0, msg: str = "success") -> dict[str, Any]:
    return {"code": code, "msg": msg, "data": data}


def pulled(pages: Iterator[Any]) -> list[Any]:
    return [record for page in pages for record in page.records]


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


# --- envelopes ----------------------------------------------------------------------


def test_an_is_success_envelope_with_nested_paths_and_exact_json_numbers(
    mocked: responses.RequestsMock,
) -> None:
    body = (
        '{"isSuccess": true, "message": "", "data": {"list": ['
        '{"material": {"code": "100001"}, "plant": "1000", "wh": "LS01",'
        ' "lots": [{"no": "L1"}], "qty": 1433.000, "uom": "KG", "state": "QC"},'
        '{"material": {"code": 100002}, "plant": "1000", "wh": "LS01",'
        ' "lots": [], "qty": 0.1, "uom": "PCS", "state": "HOLD"}]}}'
    )
    mocked.get(STOCK, body=body, content_type="application/json")
    mes = make(
        envelope={"success_path": "isSuccess", "success_values": [True],
                  "message_path": "message"},
        pagination={"style": "none", "items_path": "list"},
        streams={"stock": {"path": "/stock", "fields": STOCK_FIELDS,
                           "status_map": {"QC": "quality_inspection", "HOLD": "blocked"}}},
    )  # fmt: skip
    first, second = pulled(mes.stock())
    assert isinstance(first, StockRecord)
    assert isinstance(second, StockRecord)
    assert (first.material, first.batch, first.quantity, first.status) == (
        "100001", "L1", Decimal("1433.000"), "quality_inspection",
    )  # fmt: skip
    assert str(first.quantity) == "1433.000"
    assert (second.material, second.batch, second.quantity, second.status) == (
        "100002", "", Decimal("0.1"), "blocked",
    )  # fmt: skip
    assert first.raw["qty"] == "1433.000"  # numbers kept as their exact text


def test_is_success_false_is_a_protocol_error_with_the_message_and_is_not_retried(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(STOCK, json={"isSuccess": False, "message": "工厂不存在", "data": None})
    mes = make(envelope={"success_path": "isSuccess", "success_values": [True],
                         "message_path": "message"})  # fmt: skip
    with pytest.raises(ProtocolError, match="code false: 工厂不存在"):
        pulled(mes.stock())
    assert len(mocked.calls) == 1


def test_a_business_error_in_http_200_is_a_protocol_error(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(STOCK, json=envelope(None, 4001, "参数错误: factoryCode 不能为空"))
    with pytest.raises(ProtocolError) as caught:
        pulled(make().stock())
    assert "answered 200 with code 4001: 参数错误: factoryCode 不能为空" in str(
        caught.value
    )
    assert len(mocked.calls) == 1


def test_a_busy_code_is_retried(mocked: responses.RequestsMock) -> None:
    mocked.get(STOCK, json=envelope(None, 429, "请求过于频繁"))
    mocked.get(STOCK, json=envelope([stock_row()]))
    mes = make(envelope={"retry_values": [429]})
    assert len(pulled(mes.stock())) == 1
    assert len(mocked.calls) == 2


def test_a_bare_list_without_envelope(mocked: responses.RequestsMock) -> None:
    mocked.get(STOCK, json=[stock_row(), stock_row(plant="2000")])
    mes = make(envelope={"success_path": None, "data_path": None})
    assert [r.site for r in pulled(mes.stock())] == ["1000", "2000"]


def test_html_in_a_200_is_a_protocol_error_and_a_cut_body_is_retried(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(STOCK, body="<html>维护中</html>", content_type="text/html")
    with pytest.raises(ProtocolError, match="not JSON: <html>维护中</html>"):
        pulled(make().stock())
    assert len(mocked.calls) == 1
    mocked.get(
        STOCK,
        body='{"code": 0, "msg": "success", "data": [{"mat',
        content_type="application/json",
    )
    mocked.get(STOCK, json=envelope([stock_row()]))
    assert len(pulled(make().stock())) == 1
    assert len(mocked.calls) == 3


def test_missing_data_or_a_non_list_is_a_protocol_error_naming_the_path(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(STOCK, json={"code": 0, "msg": "success"})
    with pytest.raises(ProtocolError, match="without 'data' in its body"):
        pulled(make().stock())
    mocked.get(STOCK, json=envelope({"rows": []}))
    with pytest.raises(ProtocolError, match="expected a list of rows at 'records'"):
        pulled(make(pagination={"style": "none", "items_path": "records"}).stock())


# --- rows ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (stock_row(material={}), "material (material.code) is missing"),
        (stock_row(qty="12,5"), "quantity (qty) is not a number: '12,5'"),
        (stock_row(qty=True), "quantity (qty) is true, not a number"),
        (stock_row(qty="NaN"), "quantity (qty) is not a number"),
        (stock_row(qty=None), "quantity (qty) is missing"),
        (stock_row(uom={"name": "KG"}), "unit (uom) is dict, not text"),
        ("just text", "a row is str, not a JSON object"),
    ],
)
def test_an_unreadable_stock_row_is_kept_with_its_reason(
    mocked: responses.RequestsMock, row: object, reason: str
) -> None:
    mocked.get(STOCK, json=envelope([stock_row(), row]))
    good, bad = pulled(make().stock())
    assert isinstance(good, StockRecord)
    assert isinstance(bad, UnreadableRecord)
    assert bad.reason.startswith(reason), bad.reason
    assert bad.raw == (row if isinstance(row, dict) else {"row": row})


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"type": "MOVE"},
            "movement type 'MOVE' (kind (type)) is not in the stream's kinds",
        ),
        ({"dir": "SIDEWAYS"}, "direction (dir) 'SIDEWAYS' is none of IN, OUT, RECV"),
        ({"qty": "-5"}, "quantity (qty) -5 is negative although direction (dir) 'OUT'"),
        (
            {"id": "MESPI9"},
            "document (id) 'MESPI9' does not match id_pattern",
        ),
        ({"posted": "2026/03/30"}, "posted_at (posted) '2026/03/30' does not match"),
        ({"mat": ""}, "material (mat) is missing"),
    ],
)
def test_an_unreadable_movement_is_kept_with_its_reason(
    mocked: responses.RequestsMock, changes: dict[str, Any], reason: str
) -> None:
    mocked.get(TXNS, json=envelope([move_row(1), move_row(2, **changes)]))
    mes = make({"movements": MOVES})
    pages = list(mes.movements(None, lookback=timedelta(0)))
    good, bad = pages[0].records
    assert isinstance(good, MovementRecord)
    assert isinstance(bad, UnreadableRecord)
    assert bad.reason.startswith(reason), bad.reason
    assert json.loads(pages[-1].cursor or "")["positions"][""]["key"] == [
        str(move_row(2, **changes)["id"])
    ]


def test_movements_signed_split_and_reversed(mocked: responses.RequestsMock) -> None:
    rows = [
        move_row(1, qty=5),
        move_row(
            2, type="REVERSAL", dir="RECV", qty="5.000", reverses="MES-PI-000001-001"
        ),
        move_row(3, qty="0"),
    ]
    mocked.get(TXNS, json=envelope(rows))
    first, reversal, zero = pulled(
        make({"movements": MOVES}).movements(None, lookback=timedelta(0))
    )
    assert (first.document, first.line, first.quantity) == (
        "MES-PI-000001",
        "001",
        Decimal(-5),
    )
    assert first.kind is MovementKind.PRODUCTION_ISSUE
    assert (reversal.kind, reversal.quantity, reversal.reverses) == (
        MovementKind.REVERSAL, Decimal("5.000"), "MES-PI-000001/001",
    )  # fmt: skip
    assert zero.quantity == 0
    assert not zero.quantity.is_signed()
    assert first.posted_at.isoformat() == "2026-03-29T23:59:00+00:00"  # China local


def test_the_since_parameter_is_the_cursor_less_the_look_back_in_local_time(
    mocked: responses.RequestsMock,
) -> None:
    stream = {**MOVES, "cursor_format": "%Y%m%d%H%M%S", "fields": {**MOVES["fields"]}}
    mocked.get(TXNS, json=envelope([move_row(1, created="20260330080000")]))
    mes = make({"movements": stream})
    pages = list(mes.movements(None, lookback=timedelta(0)))
    cursor = pages[-1].cursor
    assert cursor is not None
    assert json.loads(cursor)["positions"][""]["at"] == "2026-03-30T00:00:00+00:00"
    mocked.get(TXNS, json=envelope([]))
    assert pulled(mes.movements(cursor, lookback=timedelta(minutes=90))) == []
    assert mocked.calls[-1].request.params["since"] == "20260330063000"


def test_rows_out_of_cursor_order_are_a_protocol_error(
    mocked: responses.RequestsMock,
) -> None:
    rows = [
        move_row(1, created="2026-03-30 09:00:00"),
        move_row(2, created="2026-03-30 08:00:00"),
    ]
    mocked.get(TXNS, json=envelope(rows))
    with pytest.raises(ProtocolError, match="rows are not in created order"):
        pulled(make({"movements": MOVES}).movements(None, lookback=timedelta(0)))


# --- paging styles ------------------------------------------------------------------


def test_link_paging_from_the_body_follows_relative_links(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(STOCK, json=envelope({"items": [stock_row()], "next": "/stock?page=2"}))
    mocked.get(STOCK, json=envelope({"items": [stock_row(plant="2000")], "next": None}))
    mes = make(pagination={"style": "link", "items_path": "items", "next_path": "next",
                           "size": 1, "size_param": "per_page"})  # fmt: skip
    assert [r.site for r in pulled(mes.stock())] == ["1000", "2000"]
    assert [c.request.url for c in mocked.calls] == [
        f"{STOCK}?per_page=1",
        f"{STOCK}?page=2",
    ]


def test_link_paging_from_the_link_header(mocked: responses.RequestsMock) -> None:
    mocked.get(
        STOCK,
        json=envelope([stock_row()]),
        headers={"Link": '<?after=abc>; rel="next"'},
    )
    mocked.get(STOCK, json=envelope([stock_row(plant="2000")]))
    mes = make(pagination={"style": "link"})
    assert [r.site for r in pulled(mes.stock())] == ["1000", "2000"]
    assert mocked.calls[1].request.url == f"{STOCK}?after=abc"


def test_a_link_to_another_host_is_not_followed(mocked: responses.RequestsMock) -> None:
    mocked.get(STOCK, json=envelope({"items": [], "next": "http://evil.test/stock"}))
    mes = make(pagination={"style": "link", "items_path": "items", "next_path": "next"})
    with pytest.raises(ProtocolError, match="leaves the API's origin"):
        pulled(mes.stock())


def test_a_cursor_sent_twice_stops_the_walk(mocked: responses.RequestsMock) -> None:
    mocked.get(STOCK, json=envelope({"items": [stock_row()], "nextCursor": "c1"}))
    mes = make(
        pagination={"style": "cursor", "items_path": "items", "next_path": "nextCursor"}
    )
    with pytest.raises(ProtocolError, match="the cursor 'c1' twice"):
        pulled(mes.stock())
    assert len(mocked.calls) == 2


def test_a_server_ignoring_the_page_number_stops_the_walk(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(STOCK, json=envelope([stock_row(), stock_row(plant="2000")]))
    mes = make(pagination={"style": "page", "size": 2})
    with pytest.raises(ProtocolError, match="page 2 repeats the page before it"):
        pulled(mes.stock())


def test_a_total_keeps_paging_past_a_server_cap(mocked: responses.RequestsMock) -> None:
    """The server caps pages at 2 although 3 were asked: the total says more remain."""
    mocked.get(
        STOCK, json=envelope({"rows": [stock_row(), stock_row(plant="2")], "n": "3"})
    )
    mocked.get(STOCK, json=envelope({"rows": [stock_row(plant="3")], "n": 3}))
    mes = make(
        pagination={
            "style": "offset",
            "size": 3,
            "items_path": "rows",
            "total_path": "n",
        }
    )
    assert [r.site for r in pulled(mes.stock())] == ["1000", "2", "3"]
    assert [c.request.params["offset"] for c in mocked.calls] == ["0", "2"]


def test_after_id_paging_posts_the_last_key(mocked: responses.RequestsMock) -> None:
    mocked.post(STOCK, json={"data": [stock_row(_id="a"), stock_row(_id="b")]})
    mocked.post(STOCK, json={"data": [stock_row(_id="c")]})
    streams = {"stock": {"path": "/stock", "method": "POST", "params": {"form": "f1"},
                         "fields": STOCK_FIELDS}}  # fmt: skip
    mes = make(
        streams,
        envelope={"success_path": None, "data_path": None},
        pagination={"style": "after_id", "size": 2, "size_param": "limit",
                    "cursor_param": "data_id", "id_path": "_id", "items_path": "data"},
    )  # fmt: skip
    assert len(pulled(mes.stock())) == 3
    bodies = [json.loads(c.request.body or b"") for c in mocked.calls]
    assert bodies == [
        {"form": "f1", "limit": 2},
        {"form": "f1", "limit": 2, "data_id": "b"},
    ]


# --- auth ---------------------------------------------------------------------------

TOKEN_AUTH = {
    "type": "token",
    "token_url": "/token",
    "body": {"appKey": "k", "appSecret": "very-secret-value"},
    "token_path": "data.token",
}


def test_an_auth_code_in_http_200_fetches_a_new_token_once(
    mocked: responses.RequestsMock,
) -> None:
    mocked.post(f"{BASE}/token", json=envelope({"token": "tok-one-1234"}))
    mocked.get(STOCK, json=envelope([stock_row()]))
    mocked.get(STOCK, json=envelope(None, 40101, "token 已过期"))
    mocked.post(f"{BASE}/token", json=envelope({"token": "tok-two-5678"}))
    mocked.get(STOCK, json=envelope([stock_row(plant="2000")]))
    mocked.get(STOCK, json=envelope([]))
    mes = make(
        auth=TOKEN_AUTH,
        envelope={"auth_values": [40101]},
        pagination={"style": "page", "size": 1},
    )
    assert [r.site for r in pulled(mes.stock())] == ["1000", "2000"]
    sent = [
        (c.request.method, c.request.headers.get("Authorization")) for c in mocked.calls
    ]
    assert sent == [
        ("POST", None),
        ("GET", "Bearer tok-one-1234"),
        ("GET", "Bearer tok-one-1234"),
        ("POST", None),
        ("GET", "Bearer tok-two-5678"),
        ("GET", "Bearer tok-two-5678"),
    ]
    assert [c.request.params.get("pageNo") for c in mocked.calls if c.request.method == "GET"] == [
        "1", "2", "2", "3",
    ]  # fmt: skip
    assert json.loads(mocked.calls[0].request.body or b"") == {
        "appKey": "k",
        "appSecret": "very-secret-value",
    }


def test_a_refusal_right_after_a_fresh_token_is_an_auth_error(
    mocked: responses.RequestsMock,
) -> None:
    mocked.post(f"{BASE}/token", json=envelope({"token": "tok-one-1234"}))
    mocked.get(STOCK, status=401, json={"error": "bad token tok-one-1234"})
    with pytest.raises(AuthError) as caught:
        pulled(make(auth=TOKEN_AUTH).stock())
    assert "fetched just now" in str(caught.value)
    assert "tok-one-1234" not in str(caught.value)
    assert len(mocked.calls) == 2


def test_basic_and_api_key_headers(mocked: responses.RequestsMock) -> None:
    mocked.get(STOCK, json=envelope([stock_row()]))
    pulled(
        make(auth={"type": "basic", "username": "mes", "password": "pw-123456"}).stock()
    )
    pulled(
        make(auth={"type": "api_key", "header": "X-Token", "key": "key-123456"}).stock()
    )
    pulled(
        make(auth={"type": "bearer", "token": "tok-123456", "scheme": "Token"}).stock()
    )
    basic = base64.b64encode(b"mes:pw-123456").decode()
    headers = [c.request.headers for c in mocked.calls]
    assert headers[0]["Authorization"] == f"Basic {basic}"
    assert headers[1]["X-Token"] == "key-123456"
    assert headers[2]["Authorization"] == "Token tok-123456"


def test_secrets_echoed_by_the_server_are_masked(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(
        STOCK, status=400, body="bad header Authorization: Bearer tok-echoed-98765"
    )
    mes = make(auth={"type": "bearer", "token": "tok-echoed-98765"})
    with pytest.raises(ProtocolError) as caught:
        pulled(mes.stock())
    assert "tok-echoed-98765" not in str(caught.value)
    assert "400" in str(caught.value)


# --- values and settings -----------------------------------------------------------


def test_field_paths() -> None:
    row = {"a": {"b": [{"c": "x"}, {"c": None}]}, "n": 1}
    assert FieldPath("a.b.0.c").get(row) == "x"
    assert FieldPath("a.b.1.c").get(row) is None
    assert repr(FieldPath("a.b.2.c").get(row)) == "MISSING"
    assert repr(FieldPath("n.x").get(row)) == "MISSING"
    with pytest.raises(ValueError, match="not a dotted field path"):
        FieldPath("a..b")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1433.000", "1433.000"), (" -0.154 ", "-0.154"), (Decimal("2.50"), "2.50"),
     (7, "7"), ("1E+3", "1E+3"), (".5", "0.5")],
)  # fmt: skip
def test_quantities_are_exact(value: object, expected: str) -> None:
    assert str(decimal_value(value, "qty")) == expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"auth": {"type": "token", "token_url": "/t"}}, "add token_path"),
        (
            {"auth": {"type": "bearer", "token": "x", "username": "u"}},
            "remove username",
        ),
        ({"pagination": {"style": "after_id"}}, "add id_path"),
        ({"pagination": {"style": "page", "next_path": "n"}}, "remove next_path"),
        ({"envelope": {"success_values": []}}, "at least one success value"),
        ({"envelope": {"success_values": [0.5]}}, "success_values"),
        ({"url": "mes.local:8080"}, "an http:// or https:// URL"),
    ],
)
def test_settings_refuse_what_does_not_fit(
    options: dict[str, Any], message: str
) -> None:
    data = {
        "url": BASE,
        "streams": {"stock": {"path": "/s", "fields": STOCK_FIELDS}},
        **options,
    }
    with pytest.raises(ValidationError, match=message):
        MesRestSettings.model_validate(data)


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        ({"params": {"qty": 1.5}}, "params.qty"),
        ({"params": {"q": {"a": 1}}}, "a GET parameter is a value or a list"),
        ({"time_format": "%Q"}, "strptime format"),
        ({"id_pattern": "^(?P<doc>.+)$"}, "a (?P<document>...) group"),
        ({"direction": {"field": "d", "in": "X", "out": ["X"]}}, "both have X"),
        ({"fan_out": {"param": "f", "values": ["1", "1"]}}, "distinct values"),
        ({"defaults": {"kind": "moved"}}, "defaults.kind among"),
        ({"defaults": {"quantity": "1"}}, "fields with a default"),
        ({"cursor_field": None}, "a cursor_field"),
        ({"fields": {"material": "m"}}, "a field path or a default for"),
    ],
)
def test_movement_stream_settings_refuse_what_does_not_fit(
    stream: dict[str, Any], message: str
) -> None:
    data = {"url": BASE, "streams": {"movements": {**MOVES, **stream}}}
    with pytest.raises(ValidationError) as caught:
        MesRestSettings.model_validate(data)
    assert message in str(caught.value)


def test_a_source_without_a_stock_stream_says_so_and_checks_its_movements(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(TXNS, json=envelope([move_row(1)]))
    mes = make({"movements": MOVES})
    with pytest.raises(SourceConfigError, match=r"no streams\.stock is configured"):
        pulled(mes.stock())
    result = mes.check()
    assert (result.state, result.detail) == (CheckState.OK, "/txns answers")
    assert len(mocked.calls) == 1
