"""`kind: k3cloud` against scripted WebAPI replies (`responses`): the odd shapes K3 answers in.

Each test scripts what the server says: an error dressed as a data row, a lost
session and a new login, the wrong-account 500, numbers at any scale, the call
limit, a tenant without an unverified field, a server that caps Limit at 2000.
Signatures are checked against the reference's description
(`kingdee-yonyou-mes.md` §1.2), written out here again rather than imported.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import responses
from requests import PreparedRequest

from stockbridge.config.errors import ConfigError
from stockbridge.config.models import Settings
from stockbridge.connectors.errors import AuthError, ProtocolError
from stockbridge.connectors.k3cloud import K3CloudConnector, K3CloudSettings
from stockbridge.connectors.k3cloud_client import LoginMode
from stockbridge.connectors.k3cloud_forms import INVENTORY_KEYS
from stockbridge.mapping.model import MovementRecord, StockRecord

ROOT = "http://127.0.0.1:9/k3cloud"
ACCT, USER = "6548e1b1f3a7a1", "stockbridge"
APP_ID = "299961_" + base64.b64encode(bytes(range(40, 64))).decode()
APP_SECRET = "a3f5c1e8b2d94f6a8c7e1b0d2f4a6c8e"
SESSION_LOST = "会话信息已丢失，请重新登录"
CALL = re.compile(
    re.escape(ROOT)
    + r"/Kingdee\.BOS\.WebApi\.ServicesStub\.(\w+)\.(\w+)\.common\.kdsvc"
)
Reply = tuple[int, dict[str, str], str]


def status(msg_code: int, message: str) -> dict[str, object]:
    return {
        "Result": {
            "ResponseStatus": {
                "ErrorCode": 500,
                "IsSuccess": False,
                "Errors": [{"FieldName": None, "Message": message, "DIndex": 0}],
                "SuccessEntitys": [],
                "SuccessMessages": [],
                "MsgCode": msg_code,
            }
        }
    }


def error_row(msg_code: int, message: str) -> str:
    return json.dumps([[status(msg_code, message)]], ensure_ascii=False)


def logged_in(session: str = "s1") -> Reply:
    body = {"LoginResultType": 1, "KDSVCSessionId": session, "IsSuccessByApi": True}
    cookie = f"kdservice-sessionid={session}; path=/"
    return 200, {"Set-Cookie": cookie}, json.dumps(body)


class FakeK3:
    """Answers logins from a script and queries with `query(data) -> Reply`."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.logins: list[Reply] = []
        self.query: Callable[[dict[str, Any]], Reply] = lambda _data: (200, {}, "[]")
        self.calls: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        mock.add_callback(responses.POST, CALL, callback=self._answer)

    def _answer(self, request: PreparedRequest) -> Reply:
        match = CALL.fullmatch(str(request.url))
        assert match is not None
        method = match.group(2)
        body = json.loads(request.body or b"{}")
        self.calls.append((method, body, dict(request.headers)))
        if match.group(1) == "AuthService":
            return self.logins.pop(0)
        return self.query(body["data"])

    @property
    def methods(self) -> list[str]:
        return [method for method, _, _ in self.calls]

    def queries(self) -> list[dict[str, Any]]:
        return [
            body["data"]
            for method, body, _ in self.calls
            if method == "ExecuteBillQuery"
        ]


@pytest.fixture
def k3() -> Iterator[FakeK3]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeK3(mock)


def connector(**changes: Any) -> K3CloudConnector:
    values: dict[str, Any] = {
        "url": ROOT,
        "acct_id": ACCT,
        "username": USER,
        "app_id": APP_ID,
        "app_secret": APP_SECRET,
        "timezone": "Asia/Shanghai",
        "retry_attempts": 4,
        "retry_max_wait": 0.01,
        **changes,
    }
    return K3CloudConnector(
        "k3", K3CloudSettings.model_validate(values), timezone="UTC"
    )


def stock(conn: K3CloudConnector) -> list[StockRecord]:
    with conn:
        found = [r for p in conn.stock() for r in p.records]
    assert all(isinstance(r, StockRecord) for r in found), found
    return [r for r in found if isinstance(r, StockRecord)]


def movements(conn: K3CloudConnector) -> list[MovementRecord]:
    with conn:
        found = [
            r for p in conn.movements(None, lookback=timedelta(0)) for r in p.records
        ]
    assert all(isinstance(r, MovementRecord) for r in found), found
    return [r for r in found if isinstance(r, MovementRecord)]


INVENTORY = {
    "FID": '"a1"',
    "FStockOrgId.FNumber": '"3000"',
    "FMaterialId.FNumber": '"100001"',
    "FStockId.FNumber": '"RM01"',
    "FStockLocId": "0",
    "FLot.FNumber": '"B1"',
    "FStockStatusId.FNumber": '"KCZT02_SYS"',
    "FOwnerTypeId": '"BD_OwnerOrg"',
    "FOwnerId.FNumber": '"3000"',
    "FKeeperTypeId": '"BD_KeeperOrg"',
    "FKeeperId.FNumber": '"3000"',
    "FBaseUnitId.FNumber": '"kg"',
    "FBaseQty": "5.0",
    "FBaseLockQty": "0.0",
    "FBaseAVBQty": "5.0",
    "FUpdateTime": '"2026-03-23T10:44:38.64"',
}


def inventory_row(**cells: str) -> str:
    """One STK_Inventory row as JSON text, cells written verbatim (numbers at any scale)."""
    values = {**INVENTORY, **cells}
    return "[" + ",".join(values[k] for k in INVENTORY_KEYS) + "]"


def rows(*texts: str) -> Reply:
    return 200, {"Content-Type": "application/json"}, "[" + ",".join(texts) + "]"


# --- errors and sessions --------------------------------------------------------------


def test_an_error_wrapped_as_a_row_is_a_protocol_error_with_its_msgcode(
    k3: FakeK3,
) -> None:
    k3.logins = [logged_in()]
    k3.query = lambda _data: (
        200,
        {},
        error_row(9, "元数据中标识为FBaseQty的字段不存在"),
    )
    with pytest.raises(ProtocolError) as raised:
        stock(connector())
    assert "MsgCode 9" in str(raised.value)
    assert "元数据中标识为FBaseQty的字段不存在" in str(raised.value)
    assert k3.methods == ["LoginBySign", "ExecuteBillQuery"]


def test_an_error_row_after_data_rows_is_still_an_error(k3: FakeK3) -> None:
    k3.logins = [logged_in()]
    bad = json.dumps([status(4, "GetRealExpress error")])
    k3.query = lambda _data: rows(inventory_row(), bad)
    with pytest.raises(ProtocolError, match="MsgCode 4: GetRealExpress error"):
        stock(connector())


def test_a_lost_session_logs_in_again_once_and_repeats_the_call(k3: FakeK3) -> None:
    k3.logins = [logged_in("s1"), logged_in("s2")]
    answers = iter([(200, {}, error_row(1, SESSION_LOST)), rows(inventory_row())])
    k3.query = lambda _data: next(answers)
    assert [r.quantity for r in stock(connector())] == [Decimal("5.0")]
    assert k3.methods == [
        "LoginBySign",
        "ExecuteBillQuery",
        "LoginBySign",
        "ExecuteBillQuery",
    ]
    last = k3.calls[-1][2]
    assert "kdservice-sessionid=s2" in last["Cookie"]
    assert "s1" not in last["Cookie"]
    assert last["kdservice-sessionid"] == "s2"


def test_a_session_lost_again_after_login_is_an_auth_error(k3: FakeK3) -> None:
    k3.logins = [logged_in("s1"), logged_in("s2")]
    k3.query = lambda _data: (200, {}, error_row(1, SESSION_LOST))
    with pytest.raises(AuthError, match="lost again after a login"):
        stock(connector())
    assert len(k3.calls) == 4


def test_a_failed_re_login_is_an_auth_error_not_retried(k3: FakeK3) -> None:
    refused = {
        "LoginResultType": 0,
        "Message": "第三方系统登录授权验证失败：签名验证失败",
    }
    k3.logins = [logged_in(), (200, {}, json.dumps(refused, ensure_ascii=False))]
    k3.query = lambda _data: (200, {}, error_row(1, SESSION_LOST))
    with pytest.raises(AuthError, match="签名验证失败"):
        stock(connector())
    assert k3.methods == ["LoginBySign", "ExecuteBillQuery", "LoginBySign"]


def test_a_wrong_account_500_is_an_auth_error_not_retried(k3: FakeK3) -> None:
    k3.logins = [(500, {}, "Fail to verify thirty passport")]
    with pytest.raises(AuthError, match="thirty passport"):
        stock(connector(retry_attempts=5))
    assert k3.methods == ["LoginBySign"]


def test_any_other_500_is_retried(k3: FakeK3) -> None:
    k3.logins = [(500, {}, "Server Error"), logged_in()]
    k3.query = lambda _data: rows(inventory_row())
    assert len(stock(connector())) == 1
    assert k3.methods == ["LoginBySign", "LoginBySign", "ExecuteBillQuery"]


def test_the_call_limit_is_transient(k3: FakeK3) -> None:
    k3.logins = [logged_in()]
    answers = iter([(200, {}, error_row(14, "调用限制")), rows(inventory_row())])
    k3.query = lambda _data: next(answers)
    assert len(stock(connector())) == 1
    assert k3.methods == ["LoginBySign", "ExecuteBillQuery", "ExecuteBillQuery"]


def test_no_permission_is_an_auth_error(k3: FakeK3) -> None:
    k3.logins = [logged_in()]
    k3.query = lambda _data: (200, {}, error_row(2, "没有即时库存的查看权限"))
    with pytest.raises(AuthError, match="MsgCode 2: 没有即时库存的查看权限"):
        stock(connector())


# --- values ---------------------------------------------------------------------------


def test_numbers_keep_their_exact_value_at_any_scale(k3: FakeK3) -> None:
    k3.logins = [logged_in()]
    k3.query = lambda _data: rows(
        inventory_row(FID='"a1"', FBaseQty="5.0000000000", FBaseLockQty="1.25"),
        inventory_row(FID='"a2"', FBaseQty="1E+2", FBaseLockQty="0"),
        inventory_row(FID='"a3"', FBaseQty="123456789012.1234567891", FBaseLockQty="7"),
        inventory_row(FID='"a4"', FBaseQty="-0.1", FStockStatusId='"KCZT99"'),
    )
    got = stock(connector())
    assert [str(r.quantity) for r in got] == [
        "5.0000000000",
        "1E+2",
        "123456789012.1234567891",
        "-0.1",
    ]
    assert [r.reserved for r in got[:3]] == [Decimal("1.25"), 0, 7]
    assert got[0].status == "quality_inspection"
    assert got[0].raw["FBaseQty"] == "5.0000000000"
    assert got[0].unit == "kg"


def test_an_unreadable_quantity_is_quarantined_not_dropped(k3: FakeK3) -> None:
    k3.logins = [logged_in()]
    k3.query = lambda _data: rows(
        inventory_row(FBaseQty="null"), inventory_row(FID='"a2"')
    )
    with connector() as conn:
        found = [r for p in conn.stock() for r in p.records]
    assert len(found) == 2
    assert "FBaseQty" in getattr(found[0], "reason", "")
    assert isinstance(found[1], StockRecord)


def test_stock_of_another_owner_keeps_its_own_key(k3: FakeK3) -> None:
    k3.logins = [logged_in()]
    k3.query = lambda _data: rows(
        inventory_row(),
        inventory_row(
            FID='"a2"', FOwnerTypeId='"BD_Supplier"', **{"FOwnerId.FNumber": '"V001"'}
        ),
    )
    assert [r.special_stock for r in stock(connector())] == [
        "",
        "owner:BD_Supplier:V001",
    ]


BILL = {
    "FID": "100001",
    "FBillNo": '"QTCKD00001"',
    "FDate": '"2026-03-23T00:00:00"',
    "FApproveDate": '"2026-03-23T10:44:38.64"',
    "FModifyDate": '"2026-03-23T10:40:00"',
    "FDocumentStatus": '"C"',
    "FCancelStatus": '"A"',
    "FStockOrgId.FNumber": '"3000"',
    "FEntity_FEntryId": "101",
    "FInStockEntry_FEntryId": "101",
    "FMaterialId.FNumber": '"100001"',
    "FStockId.FNumber": '"RM01"',
    "FLot.FNumber": '""',
    "FStockStatusId.FNumber": '"KCZT01_SYS"',
    "FQty": "-1",
    "FRealQty": "2",
    "FUnitID.FNumber": '"箱"',
    "FBaseQty": "-2.50",
    "FBaseUnitQty": "48",
    "FBaseUnitId.FNumber": '"Pcs"',
    "FStockLocId": "0",
    "FPOOrderNo": '"CGDD01"',
}


def bill_rows(data: dict[str, Any], form: str, **cells: str) -> Reply:
    """One row of `form` in the FieldKeys the connector asked for; [] for other forms."""
    if data["FormId"] != form or "FID >" in data["FilterString"]:
        return rows()
    values = {**BILL, **cells}
    keys = data["FieldKeys"].split(",")
    return rows("[" + ",".join(values[k] for k in keys) + "]")


def test_red_ink_issues_carry_their_own_sign_and_dates_are_china_time(
    k3: FakeK3,
) -> None:
    k3.logins = [logged_in()]
    k3.query = lambda data: bill_rows(data, "STK_MisDelivery")
    (found,) = movements(connector())
    assert (found.document, found.line) == ("STK_MisDelivery:QTCKD00001", "101")
    assert (found.quantity, found.unit, found.kind.value) == (
        Decimal("2.50"),
        "Pcs",
        "issue",
    )
    assert found.posted_at.isoformat() == "2026-03-22T16:00:00+00:00"
    assert found.entered_at is not None
    assert found.entered_at.isoformat() == "2026-03-23T02:44:38.640000+00:00"
    first = k3.queries()[0]
    assert "FDocumentStatus = 'C' AND FCancelStatus = 'A'" in first["FilterString"]
    assert (
        first["OrderString"] == "FApproveDate ASC, FID ASC, FInStockEntry_FEntryId ASC"
    )


def test_a_tenant_without_an_unverified_key_is_read_without_it(k3: FakeK3) -> None:
    k3.logins = [logged_in()]

    def answer(data: dict[str, Any]) -> Reply:
        if "FBaseUnitQty" in data["FieldKeys"].split(","):
            return 200, {}, error_row(9, "元数据中标识为FBaseUnitQty的字段不存在")
        return bill_rows(data, "STK_InStock", FBillNo='"CGRK00001"')

    k3.query = answer
    (found,) = movements(connector())
    assert (found.quantity, found.unit) == (Decimal("2"), "箱")
    assert found.order_ref == "CGDD01"
    in_stock = [q for q in k3.queries() if q["FormId"] == "STK_InStock"]
    assert len(in_stock) == 2


def test_a_missing_required_key_stays_an_error(k3: FakeK3) -> None:
    k3.logins = [logged_in()]
    k3.query = lambda _data: (
        200,
        {},
        error_row(9, "元数据中标识为FRealQty的字段不存在"),
    )
    with pytest.raises(ProtocolError, match="FRealQty"):
        movements(connector())


# --- paging -----------------------------------------------------------------------------


def test_a_server_capping_limit_at_2000_is_read_to_the_end(k3: FakeK3) -> None:
    k3.logins = [logged_in()]

    def answer(data: dict[str, Any]) -> Reply:
        assert data["Limit"] == 5000
        if not data["FilterString"]:
            return rows(*(inventory_row(FID=f'"a{i:04d}"') for i in range(2000)))
        assert data["FilterString"] == "FID > 'a1999'"
        return rows(inventory_row(FID='"b0000"'))

    k3.query = answer
    assert len(stock(connector(page_size=5000))) == 2001
    assert len(k3.queries()) == 2


def test_movement_pages_follow_a_keyset_not_an_offset(k3: FakeK3) -> None:
    k3.logins = [logged_in()]
    seen: list[str] = []

    def answer(data: dict[str, Any]) -> Reply:
        if data["FormId"] != "STK_InStock":
            return rows()
        seen.append(data["FilterString"])
        assert data["StartRow"] == 0
        if len(seen) == 1:
            return bill_rows(data, "STK_InStock")
        return rows()

    k3.query = answer
    assert len(movements(connector(page_size=1))) == 1
    assert seen[1].endswith(
        "(FApproveDate > '2026-03-23 10:44:38.64' OR (FApproveDate >= "
        "'2026-03-23 10:44:38.64' AND (FID > 100001 OR (FID >= 100001 AND "
        "FInStockEntry_FEntryId > 101))))"
    )


# --- signatures -----------------------------------------------------------------------------


def hex_hmac_b64(key: str, message: str) -> str:
    digest = hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()
    return base64.b64encode(digest.encode()).decode()


def test_login_by_sign_sends_the_sorted_sha256_sign(k3: FakeK3) -> None:
    k3.logins = [logged_in()]
    k3.query = lambda _data: rows()
    stock(connector())
    acct, user, app_id, stamp, sign, lcid = k3.calls[0][1]["parameters"]
    assert (acct, user, app_id, lcid) == (ACCT, USER, APP_ID, 2052)
    parts = "".join(sorted([ACCT, USER, APP_ID, APP_SECRET, stamp]))
    assert sign == hashlib.sha256(parts.encode()).hexdigest()


def test_signed_headers_follow_the_sdk(k3: FakeK3) -> None:
    k3.query = lambda _data: rows()
    stock(connector(auth="signed_headers", org="3000"))
    (method, _, headers) = k3.calls[0]
    assert method == "ExecuteBillQuery"
    stamp = headers["x-api-timestamp"]
    assert headers["x-api-nonce"] == stamp
    assert re.fullmatch(r"\d{10}", stamp), "unix seconds, as the Python SDK sends"
    path = urlsplit(ROOT).path + (
        "/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.ExecuteBillQuery.common.kdsvc"
    )
    suffix = base64.b64decode(APP_ID.split("_")[1])
    xor_key = b"0054f397c6234378b09ca7d3e5debce7"
    client_sec = base64.b64encode(bytes(b ^ xor_key[i] for i, b in enumerate(suffix)))
    message = f"POST\n{quote(path, safe='')}\n\nx-api-nonce:{stamp}\nx-api-timestamp:{stamp}\n"
    app_data = f"{ACCT},{USER},2052,3000"
    assert headers["X-Api-ClientID"] == "299961"
    assert headers["X-Api-Signature"] == hex_hmac_b64(client_sec.decode(), message)
    assert headers["X-Kd-Appdata"] == base64.b64encode(app_data.encode()).decode()
    assert headers["X-Kd-Signature"] == hex_hmac_b64(APP_SECRET, APP_ID + app_data)


def test_signed_headers_refused_is_an_auth_error_at_once(k3: FakeK3) -> None:
    k3.query = lambda _data: (200, {}, error_row(1, SESSION_LOST))
    with pytest.raises(AuthError, match="signed headers were not accepted"):
        stock(connector(auth="signed_headers"))
    assert k3.methods == ["ExecuteBillQuery"]


# --- settings -----------------------------------------------------------------------------


def source(**keys: Any) -> K3CloudSettings:
    config = Settings.model_validate(
        {
            "sources": {
                "k3": {
                    "kind": "k3cloud",
                    "url": ROOT,
                    "acct_id": ACCT,
                    "username": USER,
                    **keys,
                }
            }
        }
    )
    config.located(Path("stockbridge.yaml"), {})
    return config.source_settings("k3", K3CloudSettings)


def test_the_login_mode_follows_the_credentials() -> None:
    assert source(app_id=APP_ID, app_secret="s3cret-value").login_mode is LoginMode.SIGN
    assert source(password="pw-value").login_mode is LoginMode.PASSWORD
    chosen = source(auth="app_secret", app_id=APP_ID, app_secret="s3cret-value")
    assert chosen.login_mode is LoginMode.APP_SECRET
    assert source(password="pw-value").lcid == 2052


@pytest.mark.parametrize(
    ("keys", "named"),
    [
        ({"auth": "sign", "app_id": APP_ID}, "app_secret"),
        ({"auth": "app_secret", "app_secret": "s3cret-value"}, "app_id"),
        (
            {"auth": "password", "app_id": APP_ID, "app_secret": "s3cret-value"},
            "password",
        ),
        ({}, "password"),
        (
            {"app_id": APP_ID, "app_secret": "s3cret-value", "password": "pw"},
            "choose one",
        ),
        (
            {
                "auth": "signed_headers",
                "app_id": "299961",
                "app_secret": "s3cret-value",
            },
            "app_id",
        ),
        ({"auth": "oauth", "password": "pw"}, "auth"),
    ],
)
def test_a_missing_secret_for_the_mode_is_a_config_error_naming_the_key(
    keys: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        source(**keys)
    text = str(raised.value)
    assert named in text
    assert "s3cret-value" not in text
