"""The K3 Cloud WebAPI simulator over real HTTP, driven with plain `requests`.

Two truths: a generated one (`simulators.truth.generate`, the oracle for stock
and every movement form) and a small hand-made one whose lines are chosen for
the edges: more rows than the 10000-row cap, a late line, a voided bill, a
red-ink transfer, and room to write back. Signatures are computed here from
the reference's description (`kingdee-yonyou-mes.md` §1.2), not with the
simulator's own code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import shutil
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from stockbridge.simulators.http_server import SimServer
from stockbridge.simulators.k3cloud import start_k3cloud
from stockbridge.simulators.truth import generate
from stockbridge.simulators.truth_schema import TRUTH_DDL

ACCT, USER, PASSWORD = "6548e1b1f3a7a1", "stockbridge", "Kd@2026!"
APP_ID = "299961_" + base64.b64encode(bytes(range(40, 64))).decode()
APP_SECRET = "a3f5c1e8b2d94f6a8c7e1b0d2f4a6c8e"
STUB = "/k3cloud/Kingdee.BOS.WebApi.ServicesStub."
QUERY = "DynamicFormService.ExecuteBillQuery"
QUERY_PATH = f"{STUB}{QUERY}.common.kdsvc"
SESSION_LOST = "会话信息已丢失，请重新登录"
STATUS = {"KCZT01_SYS": "unrestricted", "KCZT02_SYS": "quality_inspection"}
UNIT = {"H87": "Pcs", "KGM": "kg", "MTR": "m", "LTR": "L", "CT": "箱", "BX": "盒"}
# form -> (entity, entry-unit quantity key, base quantity key, direction of stock)
FORMS = {
    "STK_InStock": ("FInStockEntry", "FRealQty", "FBaseUnitQty", 1),
    "PRD_PickMtrl": ("FEntity", "FActualQty", "FBaseActualQty", -1),
    "PRD_INSTOCK": ("FEntity", "FRealQty", "FBaseRealQty", 1),
    "SAL_OUTSTOCK": ("FEntity", "FRealQty", "FBaseUnitQty", -1),
    "STK_MisDelivery": ("FEntity", "FQty", "FBaseQty", -1),
    "STK_MISCELLANEOUS": ("FEntity", "FQty", "FBaseQty", 1),
    "STK_StockCountGain": ("FBillEntry", "FGainQty", "FBaseGainQty", 1),
    "STK_StockCountLoss": ("FBillEntry", "FLossQty", "FBaseLossQty", -1),
}
KIND_FORM = {
    "receipt": "STK_InStock",
    "production_issue": "PRD_PickMtrl",
    "production_receipt": "PRD_INSTOCK",
    "sales_issue": "SAL_OUTSTOCK",
    "scrap": "STK_MisDelivery",
    "issue": "STK_MisDelivery",
}
LINE_KEYS = (
    "FBillNo,FDocumentStatus,FCancelStatus,FMaterialId.FNumber,FStockId.FNumber,"
    "FLot.FNumber,FStockStatusId.FNumber,FUnitID.FNumber"
)
TRANSFER_KEYS = (
    "FBillNo,FDocumentStatus,FCancelStatus,FMaterialId.FNumber,FSrcStockID.FNumber,"
    "FDestStockID.FNumber,FLot.FNumber,FDestLot.FNumber,FSrcStockStatusId.FNumber,"
    "FDestStockStatusId.FNumber,FBaseQty"
)
INVENTORY_KEYS = (
    "FMaterialId.FNumber,FStockId.FNumber,FLot.FNumber,FStockStatusId.FNumber,"
    "FBaseUnitId.FNumber,FBaseQty,FBaseLockQty,FBaseAVBQty,FStockOrgId.FNumber,"
    "FUpdateTime"
)
Key = tuple[str, str, str, str]  # material, warehouse, batch, canonical status
Json = dict[str, object]


# --- clients ------------------------------------------------------------------


def post(
    server: SimServer, call: str, body: object, http: requests.Session | None = None
) -> requests.Response:
    url = f"{server.url}{STUB}{call}.common.kdsvc"
    return (http or requests).post(url, json=body, timeout=10)


def rows(response: requests.Response) -> list[list[object]]:
    """Data rows, exact: JSON numbers become Decimal; an error row fails the test."""
    assert response.status_code == 200, response.text
    data = json.loads(response.text, parse_float=Decimal)
    assert not (data and isinstance(data[0][0], dict)), data
    return list(data)


def query(
    server: SimServer, http: requests.Session, form: str, keys: str, **extra: object
) -> list[list[object]]:
    body = {"data": {"FormId": form, "FieldKeys": keys, "Limit": 10000, **extra}}
    return rows(post(server, QUERY, body, http))


def login(server: SimServer, http: requests.Session) -> None:
    body = {"parameters": [ACCT, USER, PASSWORD, 2052]}
    assert (
        post(server, "AuthService.ValidateUser", body, http).json()["LoginResultType"]
        == 1
    )


def kd_sign(key: str, message: str) -> str:
    """Base64 of the lowercase hex HMAC-SHA256 (not of the raw digest)."""
    digest = hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()
    return base64.b64encode(digest.encode()).decode()


def signed_headers(
    path: str, *, java: bool = False, secret: str = APP_SECRET, acct: str = ACCT
) -> dict[str, str]:
    """The SDK's headers: Python sends seconds, Java milliseconds and other names."""
    client_id, suffix = APP_ID.split("_")
    xor_key = b"0054f397c6234378b09ca7d3e5debce7"
    raw = base64.b64decode(suffix)
    client_sec = base64.b64encode(bytes(b ^ xor_key[i] for i, b in enumerate(raw)))
    stamp = "1774941000000" if java else "1774941000"
    message = (
        f"POST\n{quote(path, safe='')}\n\n"
        f"x-api-nonce:{stamp}\nx-api-timestamp:{stamp}\n"
    )
    app_data = f"{acct},{USER},2052,0"
    sign_headers = (
        "X-Api-TimeStamp,X-Api-Nonce" if java else "x-api-timestamp,x-api-nonce"
    )
    return {
        "X-Api-ClientID": client_id,
        "X-Api-Auth-Version": "2.0",
        "x-api-timestamp": stamp,
        "x-api-nonce": stamp,
        "x-api-signheaders": sign_headers,
        "X-Api-Signature": kd_sign(client_sec.decode(), message),
        "X-Kd-Appkey": APP_ID,
        "X-Kd-Appdata": base64.b64encode(app_data.encode()).decode(),
        "X-Kd-Signature": kd_sign(secret, APP_ID + app_data),
    }


def start(truth: Path, work: Path) -> SimServer:
    return start_k3cloud(
        truth,
        work,
        acct_id=ACCT,
        username=USER,
        password=PASSWORD,
        app_id=APP_ID,
        app_secret=APP_SECRET,
    )


def truth_rows(truth: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(truth)) as db:
        return db.execute(sql).fetchall()


# --- truths and servers ---------------------------------------------------------


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("k3truth") / "truth.sqlite"
    generate(path, seed=3, materials=12, days=6)
    return path


@pytest.fixture(scope="module")
def k3(truth: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimServer]:
    server = start(truth, tmp_path_factory.mktemp("k3work"))
    yield server
    server.stop()


@pytest.fixture
def http(k3: SimServer) -> Iterator[requests.Session]:
    with requests.Session() as session:
        login(k3, session)
        yield session


RECEIPTS = 10_001
T0, T1 = "2026-03-01T01:00:00+00:00", "2026-03-02T10:00:00.250000+00:00"


def _line(mid: int, spec: str, **extra: object) -> tuple[object, ...]:
    """A k3cloud truth row from 'document kind material warehouse batch quantity'."""
    document, kind, material, warehouse, batch, quantity = spec.split()
    row = {
        "unit": "KGM",
        "entered": T0,
        "reverses": None,
        "effective": 1,
        "late": 0,
        "counterpart": None,
        **extra,
    }
    return (
        mid, mid, "k3cloud", document, 1, "", kind, material, "3000", warehouse,
        batch.strip("-"), "unrestricted", quantity, row["unit"],
        quantity.removeprefix("-"), T0, row["entered"], row["reverses"], "",
        row["effective"], row["late"], row["counterpart"],
    )  # fmt: skip


@pytest.fixture(scope="module")
def edge_truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Site 3000 only: many one-line receipts, a late receipt, a voided and an
    unaudited one, and a transfer cancelled by a red-ink transfer."""
    path = tmp_path_factory.mktemp("k3edge") / "truth.sqlite"
    n = RECEIPTS
    lines = [
        _line(i, f"CGRK{i:05d} receipt 200002 RM01 - 1", unit="H87")
        for i in range(1, n + 1)
    ]
    lines += [
        _line(n + 1, "CGRK20001 receipt 200001 RM01 B1 12.5", entered=T1, late=1),
        _line(n + 2, "CGRK20002 receipt 200001 RM01 B1 3", effective=0),
        _line(n + 3, "CGRK20003 receipt 200001 RM01 B1 7", effective=0),
        _line(n + 4, "ZJDB00001 transfer 200001 RM01 B1 -4", counterpart=n + 5),
        _line(n + 5, "ZJDB00001 transfer 200001 LS01 B1 4", counterpart=n + 4),
        _line(
            n + 6,
            "ZJDB00002 reversal 200001 RM01 B1 4",
            reverses=n + 4,
            counterpart=n + 7,
        ),
        _line(
            n + 7,
            "ZJDB00002 reversal 200001 LS01 B1 -4",
            reverses=n + 5,
            counterpart=n + 6,
        ),
    ]
    with closing(sqlite3.connect(path)) as db:
        db.executescript(TRUTH_DDL)
        db.execute("INSERT INTO meta VALUES (1, 2, 2, ?, ?, ?)", (T0, T1, len(lines)))
        db.executemany(
            "INSERT INTO materials VALUES (?, ?, ?, ?, ?, ?, ?, '0')",
            [
                ("200001", "冷轧钢板", "Steel sheet", "KGM", "", "", 1),
                ("200002", "轴承 6205", "Bearing", "H87", "CT", "24", 0),
            ],
        )
        db.execute("INSERT INTO sites VALUES ('3000', '苏州工厂', 'k3cloud')")
        db.executemany(
            "INSERT INTO warehouses VALUES ('3000', ?, ?, ?, 'k3cloud')",
            [
                ("RM01", "原料仓", "main"),
                ("FG01", "成品仓", "main"),
                ("LS01", "线边仓", "line_side"),
            ],
        )
        db.executemany(f"INSERT INTO movements VALUES ({', '.join('?' * 22)})", lines)
        db.execute(
            "INSERT INTO discrepancies VALUES (1, 'unaudited_voucher', 'k3cloud', ?,"
            " '200001', '3000', 'RM01', 'B1', 'unrestricted', '7', 'not audited')",
            (n + 3,),
        )
        db.executemany(
            "INSERT INTO stock VALUES ('k3cloud', ?, '3000', ?, ?, 'unrestricted', ?, ?)",
            [
                ("200002", "RM01", "", str(n), "1"),
                ("200001", "RM01", "B1", "12.5", "0"),
                ("200001", "LS01", "B1", "0", "0"),
            ],
        )
        db.commit()
    return path


@pytest.fixture(scope="module")
def edge_work(edge_truth: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store built once; write-back tests start from copies of it."""
    work = tmp_path_factory.mktemp("k3edgework")
    start(edge_truth, work).stop()
    return work


@pytest.fixture(scope="module")
def edge_reader(
    edge_truth: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimServer]:
    """The edge truth for tests that only read (and reset any knob they turn)."""
    server = start(edge_truth, tmp_path_factory.mktemp("k3edgeread"))
    yield server
    server.stop()


@pytest.fixture
def reader_http(edge_reader: SimServer) -> Iterator[requests.Session]:
    with requests.Session() as session:
        login(edge_reader, session)
        yield session


@pytest.fixture
def edge(edge_truth: Path, edge_work: Path, tmp_path: Path) -> Iterator[SimServer]:
    shutil.copy(edge_work / "k3cloud.sqlite", tmp_path / "k3cloud.sqlite")
    server = start(edge_truth, tmp_path)
    yield server
    server.stop()


@pytest.fixture
def edge_http(edge: SimServer) -> Iterator[requests.Session]:
    with requests.Session() as session:
        login(edge, session)
        yield session


# --- login and sessions ---------------------------------------------------------


def test_validate_user_sets_both_cookies_and_a_session(k3: SimServer) -> None:
    with requests.Session() as http:
        body = {"parameters": [ACCT, USER, PASSWORD, 2052]}
        reply = post(k3, "AuthService.ValidateUser", body, http).json()
        assert (reply["LoginResultType"], reply["IsSuccessByApi"]) == (1, True)
        assert reply["KDSVCSessionId"] == http.cookies["kdservice-sessionid"]
        assert reply["Context"]["SessionId"] == http.cookies["ASP.NET_SessionId"]
        assert query(k3, http, "STK_Inventory", "FMaterialId.FNumber")


def test_login_by_app_secret_with_a_named_body(k3: SimServer) -> None:
    good = {
        "acctID": ACCT,
        "username": USER,
        "appId": APP_ID,
        "appSecret": APP_SECRET,
        "lcid": 2052,
    }
    assert post(k3, "AuthService.LoginByAppSecret", good).json()["LoginResultType"] == 1
    with requests.Session() as http:
        bad = post(
            k3, "AuthService.LoginByAppSecret", {**good, "appSecret": "0" * 32}, http
        )
        assert (bad.status_code, bad.json()["LoginResultType"]) == (200, 0)
        assert bad.json()["Message"]
        assert "kdservice-sessionid" not in http.cookies
        data = {"data": {"FormId": "STK_Inventory", "FieldKeys": "FID"}}
        lost = post(k3, QUERY, data, http).json()[0][0]["Result"]["ResponseStatus"]
        assert lost["MsgCode"] == 1


def test_login_by_sign_checks_the_sha256_sign(k3: SimServer) -> None:
    stamp = "1774941000"
    parts = sorted([ACCT, USER, APP_ID, APP_SECRET, stamp])
    sign = hashlib.sha256("".join(parts).encode()).hexdigest()
    with requests.Session() as http:
        body = {"parameters": [ACCT, USER, APP_ID, stamp, sign, 2052]}
        assert (
            post(k3, "AuthService.LoginBySign", body, http).json()["LoginResultType"]
            == 1
        )
        assert query(k3, http, "STK_Inventory", "FID")
    wrong = {"parameters": [ACCT, USER, APP_ID, "1774941001", sign, 2052]}
    assert post(k3, "AuthService.LoginBySign", wrong).json()["LoginResultType"] == 0


def test_bad_password_is_refused_and_bad_account_is_not_200(k3: SimServer) -> None:
    refused = post(
        k3, "AuthService.ValidateUser", {"parameters": [ACCT, USER, "x", 2052]}
    )
    assert (refused.status_code, refused.json()["LoginResultType"]) == (200, 0)
    by_login = post(
        k3, "AuthService.ValidateUser", {"parameters": ["0", USER, PASSWORD, 2052]}
    )
    by_headers = requests.post(
        k3.url + QUERY_PATH,
        json={"data": {"FormId": "STK_Inventory", "FieldKeys": "FID"}},
        headers=signed_headers(QUERY_PATH, acct="0"),
        timeout=10,
    )
    for reply in (by_login, by_headers):
        assert reply.status_code != 200
        assert "Fail to verify thirty passport" in reply.text


@pytest.mark.parametrize("java", [False, True])
def test_signed_headers_need_no_login(k3: SimServer, java: bool) -> None:
    body = {"data": {"FormId": "STK_Inventory", "FieldKeys": "FMaterialId.FNumber"}}
    headers = signed_headers(QUERY_PATH, java=java)
    reply = requests.post(k3.url + QUERY_PATH, json=body, headers=headers, timeout=10)
    assert rows(reply)
    assert "kdservice-sessionid=" in reply.headers["Set-Cookie"]


def test_bad_signatures_are_a_lost_session(k3: SimServer) -> None:
    body = {"data": {"FormId": "STK_Inventory", "FieldKeys": "FID"}}
    tampered = {**signed_headers(QUERY_PATH), "X-Api-Signature": kd_sign("k", "x")}
    for headers in (signed_headers(QUERY_PATH, secret="0" * 32), tampered):
        reply = requests.post(
            k3.url + QUERY_PATH, json=body, headers=headers, timeout=10
        )
        assert reply.status_code == 200
        assert reply.json()[0][0]["Result"]["ResponseStatus"]["MsgCode"] == 1


def test_no_session_is_msgcode_1_in_each_shape(k3: SimServer) -> None:
    lost = {
        "ErrorCode": 500,
        "IsSuccess": False,
        "Errors": [{"FieldName": None, "Message": SESSION_LOST, "DIndex": 0}],
        "SuccessEntitys": [],
        "SuccessMessages": [],
        "MsgCode": 1,
    }
    reply = post(k3, QUERY, {"data": {"FormId": "STK_Inventory", "FieldKeys": "FID"}})
    assert reply.status_code == 200
    assert reply.json() == [[{"Result": {"ResponseStatus": lost}}]]
    save = {"formid": "STK_MisDelivery", "data": {"Model": {}}}
    assert post(k3, "DynamicFormService.Save", save).json() == {
        "Result": {"ResponseStatus": lost}
    }


def test_session_expiry_knob_forces_a_new_login(k3: SimServer) -> None:
    knobs = requests.post(
        f"{k3.url}/_sim/faults", json={"session_expiry_calls": 2}, timeout=10
    )
    assert knobs.json()["session_expiry_calls"] == 2
    body = {"data": {"FormId": "STK_Inventory", "FieldKeys": "FID", "Limit": 1}}
    try:
        with requests.Session() as http:
            login(k3, http)
            assert rows(post(k3, QUERY, body, http))
            assert rows(post(k3, QUERY, body, http))
            lost = post(k3, QUERY, body, http).json()
            assert lost[0][0]["Result"]["ResponseStatus"]["MsgCode"] == 1
            login(k3, http)
            assert rows(post(k3, QUERY, body, http))
    finally:
        k3.faults.update(session_expiry_calls=0)


# --- queries against the truth ---------------------------------------------------


def test_inventory_equals_the_truth_stock(
    k3: SimServer, http: requests.Session, truth: Path
) -> None:
    body = {"data": {"FormId": "STK_Inventory", "FieldKeys": INVENTORY_KEYS}}
    reply = post(k3, QUERY, body, http)
    # Quantities are JSON numbers, times are local with no offset.
    assert re.search(r'"[A-Za-z]+",-?\d+\.\d+,-?\d+\.\d+,-?\d+\.\d+,"3000"', reply.text)
    stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?")
    got = {}
    for m, w, b, s, unit, qty, lock, avb, org, updated in rows(reply):
        assert org == "3000"
        assert stamp.fullmatch(str(updated))
        got[(m, w, b, STATUS[str(s)])] = (unit, qty, lock, avb)
    units = dict(truth_rows(truth, "SELECT material, base_unit FROM materials"))
    want = {
        (m, w, b, s): (
            UNIT[str(units[m])],
            Decimal(q),
            Decimal(r),
            Decimal(q) - Decimal(r),
        )
        for m, w, b, s, q, r in truth_rows(
            truth,
            "SELECT material, warehouse, batch, status, quantity, reserved"
            " FROM stock WHERE system = 'k3cloud'",
        )
    }
    assert got == want
    assert any(v[1] == 0 for v in got.values())  # zero rows are kept
    assert any(v[2] > 0 for v in got.values())  # locked stock


def expected_lines(truth: Path) -> tuple[Counter[tuple[object, ...]], dict[str, str]]:
    """Each non-transfer truth line as the K3 row it must become; each bill's status."""
    lines: Counter[tuple[object, ...]] = Counter()
    statuses: dict[str, str] = {}
    unaudited = {
        m
        for (m,) in truth_rows(
            truth,
            "SELECT movement FROM discrepancies"
            " WHERE system = 'k3cloud' AND kind = 'unaudited_voucher'",
        )
    }
    for mid, doc, kind, m, w, b, s, q, unit, entry, eff, rkind, rq in truth_rows(
        truth,
        "SELECT m.id, m.document, m.kind, m.material, m.warehouse, m.batch, m.status,"
        " m.quantity, m.entry_unit, m.entry_quantity, m.effective, o.kind, o.quantity"
        " FROM movements m LEFT JOIN movements o ON o.id = m.reverses"
        " WHERE m.system = 'k3cloud'",
    ):
        statuses[str(doc)] = "C" if eff else ("B" if mid in unaudited else "A")
        qty = Decimal(str(q))
        basis, basis_qty = (
            (rkind, Decimal(str(rq))) if kind == "reversal" else (kind, qty)
        )
        if basis == "transfer":
            continue  # see test_transfers_hold_both_legs_in_one_entry
        form = KIND_FORM.get(str(basis))
        if basis == "adjustment":
            form = "STK_StockCountGain" if basis_qty > 0 else "STK_StockCountLoss"
        assert form is not None, basis
        base = qty * FORMS[form][3]  # bills are unsigned by direction; red-ink < 0
        entered = Decimal(str(entry)) * (-1 if base < 0 else 1)
        lines[(form, doc, s, m, w, b, UNIT[str(unit)], entered, base)] += 1
    return lines, statuses


def test_every_movement_form_equals_the_truth(
    k3: SimServer, http: requests.Session, truth: Path
) -> None:
    want, statuses = expected_lines(truth)
    got: Counter[tuple[object, ...]] = Counter()
    seen: dict[str, str] = {}
    for form, (entity, qty_key, base_key, _) in FORMS.items():
        keys = f"{LINE_KEYS},{qty_key},{base_key},{entity}_FEntryId"
        for no, status, cancel, m, w, b, s, unit, qty, base, entry_id in query(
            k3, http, form, keys
        ):
            assert isinstance(entry_id, int)
            assert cancel == "A"
            seen[str(no)] = str(status)
            line = (form, no, STATUS[str(s)], m, w, b, unit)
            got[(*line, Decimal(str(qty)), Decimal(str(base)))] += 1
    assert got == want
    assert {d: s for d, s in statuses.items() if d in seen} == seen
    assert "B" in seen.values()  # the unaudited voucher
    red = [k for k in got if str(k[1]).startswith(("SCTL", "SCTK", "XSTHD", "CGTL"))]
    assert red
    assert all(Decimal(str(k[8])) < 0 for k in red)  # red-ink bills


def test_transfers_hold_both_legs_in_one_entry(
    k3: SimServer, http: requests.Session, truth: Path
) -> None:
    got = {
        (no, m, src, dest, lot, STATUS[str(ss)], STATUS[str(ds)], Decimal(str(base)))
        for no, _, _, m, src, dest, lot, _, ss, ds, base in query(
            k3, http, "STK_TransferDirect", TRANSFER_KEYS
        )
    }
    want = {
        (doc, m, w1, w2, b, s1, s2, -Decimal(str(q)))
        for doc, m, w1, w2, b, s1, s2, q in truth_rows(
            truth,
            "SELECT a.document, a.material, a.warehouse, c.warehouse, a.batch,"
            " a.status, c.status, a.quantity FROM movements a"
            " JOIN movements c ON c.id = a.counterpart"
            " WHERE a.system = 'k3cloud' AND a.kind = 'transfer'"
            " AND a.quantity LIKE '-%'",
        )
    }
    assert got == want
    assert any(row[5] != row[6] for row in got)  # a quality release changes status


def test_only_audited_bills_move_stock(
    k3: SimServer, http: requests.Session, truth: Path
) -> None:
    moved: defaultdict[Key, Decimal] = defaultdict(Decimal)
    for form, (_, _, base_key, direction) in FORMS.items():
        for _, status, cancel, m, w, b, s, _, base in query(
            k3, http, form, f"{LINE_KEYS},{base_key}"
        ):
            if status == "C" and cancel == "A":
                key = (str(m), str(w), str(b), STATUS[str(s)])
                moved[key] += Decimal(str(base)) * direction
    audited = "FDocumentStatus = 'C' AND FCancelStatus = 'A'"
    for row in query(
        k3, http, "STK_TransferDirect", TRANSFER_KEYS, FilterString=audited
    ):
        m, src, dest, lot, dest_lot, ss, ds, base = (str(v) for v in row[3:])
        moved[(m, src, lot, STATUS[ss])] -= Decimal(base)
        moved[(m, dest, dest_lot, STATUS[ds])] += Decimal(base)
    want: defaultdict[Key, Decimal] = defaultdict(Decimal)
    for m, w, b, s, q in truth_rows(
        truth,
        "SELECT material, warehouse, batch, status, quantity FROM movements"
        " WHERE system = 'k3cloud' AND effective = 1",
    ):
        want[(str(m), str(w), str(b), str(s))] += Decimal(str(q))
    assert {k: v for k, v in moved.items() if v} == {k: v for k, v in want.items() if v}


def test_filter_order_and_positional_body(
    k3: SimServer, http: requests.Session
) -> None:
    keys = "FID,FBillNo,FDocumentStatus,FModifyDate,FMaterialId.FNumber,FActualQty"
    everything = query(k3, http, "PRD_PickMtrl", keys)
    cut = sorted(str(r[3]) for r in everything)[len(everything) // 2][:19]
    flt = (
        "(FDocumentStatus = 'C' OR FDocumentStatus = 'B')"
        f" AND FModifyDate >= '{cut.replace('T', ' ')}'"
        " AND FMaterialId.FNumber <> '100001' AND FActualQty > 1.5"
    )
    data = {
        "FormId": "PRD_PickMtrl",
        "FieldKeys": keys,
        "FilterString": flt,
        "OrderString": "FModifyDate DESC, FID ASC",
    }
    picked = rows(post(k3, QUERY, {"parameters": [json.dumps(data)]}, http))
    want = [
        r
        for r in everything
        if r[2] in ("C", "B")
        and str(r[3])[:19] >= cut
        and r[4] != "100001"
        and Decimal(str(r[5])) > Decimal("1.5")
    ]
    assert picked
    assert sorted(map(str, picked)) == sorted(map(str, want))
    order = sorted(picked, key=lambda r: (str(r[3]), -int(str(r[0]))), reverse=True)
    assert picked == order


def test_paging_with_start_row_and_limit(k3: SimServer, http: requests.Session) -> None:
    keys, order = "FID,FInStockEntry_FEntryId,FBillNo", "FID, FInStockEntry_FEntryId"
    everything = query(k3, http, "STK_InStock", keys, OrderString=order)
    pages: list[list[object]] = []
    while page := query(
        k3, http, "STK_InStock", keys, OrderString=order, StartRow=len(pages), Limit=7
    ):
        assert len(page) <= 7
        pages.extend(page)
    assert len(everything) > 7
    assert pages == everything
    assert query(k3, http, "STK_InStock", keys, TopRowCount=3) == everything[:3]


def test_errors_arrive_as_a_row_with_the_real_msgcodes(
    k3: SimServer, http: requests.Session
) -> None:
    def answer(data: Json) -> list[list[Json]]:
        reply = post(k3, QUERY, {"data": data}, http)
        assert reply.status_code == 200
        result: list[list[Json]] = reply.json()
        return result

    unknown_field = {
        "ErrorCode": 500,
        "IsSuccess": False,
        "Errors": [
            {
                "FieldName": None,
                "Message": "元数据中标识为FXxx的字段不存在",
                "DIndex": 0,
            }
        ],
        "SuccessEntitys": [],
        "SuccessMessages": [],
        "MsgCode": 9,
    }
    shape = answer({"FormId": "STK_InStock", "FieldKeys": "FBillNo,FXxx"})
    assert shape == [[{"Result": {"ResponseStatus": unknown_field}}]]
    for data, code in (
        ({"FormId": "NO_SUCH_FORM", "FieldKeys": "FID"}, 4),
        ({"FormId": "STK_InStock", "FieldKeys": ""}, 8),
        ({"FormId": "STK_InStock", "FieldKeys": "FID", "FilterString": "FID = = 1"}, 4),
        ({"FormId": "STK_Inventory", "FieldKeys": "FStockQty"}, 9),
    ):
        result = answer(data)[0][0]["Result"]
        assert isinstance(result, dict)
        assert result["ResponseStatus"]["MsgCode"] == code


# --- edges: caps, late postings, voided bills, red-ink transfers, write-back -------------


def test_row_cap_and_default_limit(
    edge_reader: SimServer, reader_http: requests.Session
) -> None:
    body = {"FormId": "STK_InStock", "FieldKeys": "FID", "OrderString": "FID"}

    def count(**extra: object) -> int:
        return len(
            rows(post(edge_reader, QUERY, {"data": {**body, **extra}}, reader_http))
        )

    assert count(Limit=20000) == 10000
    assert count(Limit=0) == 2000
    assert count(StartRow=10000, Limit=10000) == RECEIPTS + 3 - 10000


def test_late_postings_knob_hides_the_line_and_its_stock(
    edge_reader: SimServer, reader_http: requests.Session
) -> None:
    def ask(form: str, keys: str, flt: str) -> list[list[object]]:
        return query(edge_reader, reader_http, form, keys, FilterString=flt)

    bill = "FBillNo = 'CGRK20001'"
    on_hand = "FMaterialId.FNumber = '200001' AND FStockId.FNumber = 'RM01'"
    assert ask("STK_InStock", "FBillNo,FModifyDate,FDate", bill) == [
        ["CGRK20001", "2026-03-02T18:00:00.25", "2026-03-01T00:00:00"]
    ]
    assert ask("STK_Inventory", "FBaseQty", on_hand) == [[Decimal("12.5")]]
    edge_reader.faults.update(late_postings=True)
    try:
        assert ask("STK_InStock", "FBillNo", bill) == []
        assert ask("STK_Inventory", "FBaseQty", on_hand) == [[Decimal("0.0")]]
    finally:
        edge_reader.faults.update(late_postings=False)
    assert ask("STK_InStock", "FBillNo", bill) == [["CGRK20001"]]


def test_voided_unaudited_and_red_ink_transfer(
    edge_reader: SimServer, reader_http: requests.Session
) -> None:
    statuses = query(
        edge_reader,
        reader_http,
        "STK_InStock",
        "FBillNo,FDocumentStatus,FCancelStatus,FApproveDate",
        FilterString="FBillNo IN ('CGRK20002', 'CGRK20003')",
        OrderString="FBillNo",
    )
    assert statuses == [["CGRK20002", "A", "B", None], ["CGRK20003", "B", "A", None]]
    transfers = query(
        edge_reader,
        reader_http,
        "STK_TransferDirect",
        "FBillNo,FSrcStockId.FNumber,FDestStockId.FNumber,FQty,FUnitID.FNumber",
        OrderString="FBillNo",
    )
    assert transfers == [
        ["ZJDB00001", "RM01", "LS01", Decimal("4.0"), "kg"],
        ["ZJDB00002", "RM01", "LS01", Decimal("-4.0"), "kg"],
    ]
    line_side = "FStockId.FNumber = 'LS01'"
    stock = query(
        edge_reader, reader_http, "STK_Inventory", "FBaseQty", FilterString=line_side
    )
    assert stock == [[Decimal("0.0")]]


def operation(
    server: SimServer, http: requests.Session, method: str, form: str, data: Json
) -> Json:
    reply = post(
        server, f"DynamicFormService.{method}", {"formid": form, "data": data}, http
    )
    assert reply.status_code == 200
    status: Json = reply.json()["Result"]["ResponseStatus"]
    return status


def test_save_submit_audit_move_stock_only_on_audit(
    edge: SimServer, edge_http: requests.Session
) -> None:
    on_hand = "FMaterialId.FNumber = '200002' AND FStockId.FNumber = 'RM01'"
    entry = {
        "FMaterialId": {"FNumber": "200002"},
        "FStockId": {"FNumber": "RM01"},
        "FUnitID": {"FNumber": "箱"},
        "FQty": 2,
    }
    model = {
        "FDate": "2026-03-03",
        "FStockOrgId": {"FNumber": "3000"},
        "FEntity": [entry],
    }
    positional = {"parameters": ["STK_MisDelivery", json.dumps({"Model": model})]}
    saved = post(edge, "DynamicFormService.Save", positional, edge_http).json()[
        "Result"
    ]
    number, fid = saved["Number"], saved["Id"]
    assert saved["ResponseStatus"]["IsSuccess"] is True
    done = [{"Id": fid, "Number": number, "DIndex": 0}]
    assert saved["ResponseStatus"]["SuccessEntitys"] == done

    def bill(keys: str) -> list[list[object]]:
        flt = f"FBillNo = '{number}'"
        return query(edge, edge_http, "STK_MisDelivery", keys, FilterString=flt)

    def stock() -> list[list[object]]:
        keys = "FBaseQty,FBaseAVBQty"
        return query(edge, edge_http, "STK_Inventory", keys, FilterString=on_hand)

    assert bill("FDocumentStatus,FQty,FBaseQty,FUnitID.FNumber") == [
        ["A", Decimal("2.0"), Decimal("48.0"), "箱"]
    ]
    by_id = {"Ids": str(fid)}
    assert (
        operation(edge, edge_http, "Audit", "STK_MisDelivery", by_id)["IsSuccess"]
        is False
    )
    submitted = operation(
        edge, edge_http, "Submit", "STK_MisDelivery", {"Numbers": [number]}
    )
    assert submitted["SuccessEntitys"] == done
    assert bill("FDocumentStatus") == [["B"]]
    assert stock() == [[Decimal(RECEIPTS), Decimal(RECEIPTS - 1)]]
    assert (
        operation(edge, edge_http, "Audit", "STK_MisDelivery", by_id)["SuccessEntitys"]
        == done
    )
    assert bill("FDocumentStatus") == [["C"]]
    assert stock() == [[Decimal(RECEIPTS - 48), Decimal(RECEIPTS - 48 - 1)]]
    again = operation(
        edge,
        edge_http,
        "Save",
        "STK_MisDelivery",
        {"Model": {**model, "FBillNo": number}},
    )
    assert (again["IsSuccess"], again["MsgCode"]) == (False, 11)
    logged = requests.get(f"{edge.url}/_sim/requests", timeout=10).json()
    calls = [r["path"].split(".")[-3] for r in logged if "Query" not in r["path"]]
    assert calls == ["ValidateUser", "Save", "Audit", "Submit", "Audit", "Save"]


def test_audit_refuses_negative_stock_unless_flagged(
    edge: SimServer, edge_http: requests.Session
) -> None:
    entry = {
        "FMaterialId": {"FNumber": "200001"},
        "FSrcStockId": {"FNumber": "LS01"},
        "FLot": {"FNumber": "B1"},
        "FDestStockId": {"FNumber": "FG01"},
        "FQty": "1.5",
    }
    form = "STK_TransferDirect"
    saved = operation(edge, edge_http, "Save", form, {"Model": {"FBillEntry": [entry]}})
    numbers = {"Numbers": [saved["SuccessEntitys"][0]["Number"]]}  # type: ignore[index]
    assert operation(edge, edge_http, "Submit", form, numbers)["IsSuccess"] is True
    refused = operation(edge, edge_http, "Audit", form, numbers)
    assert (refused["IsSuccess"], refused["MsgCode"]) == (False, 11)
    flagged = {**numbers, "InterationFlags": "STK_InvCheckResult"}
    assert operation(edge, edge_http, "Audit", form, flagged)["IsSuccess"] is True
    got = query(
        edge,
        edge_http,
        "STK_Inventory",
        "FStockId.FNumber,FBaseQty",
        FilterString="FMaterialId.FNumber = '200001'",
        OrderString="FStockId.FNumber",
    )
    assert got == [
        ["FG01", Decimal("1.5")],
        ["LS01", Decimal("-1.5")],
        ["RM01", Decimal("12.5")],
    ]
