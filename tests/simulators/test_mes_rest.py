"""The MES REST simulator over real HTTP, checked against the ground truth it serves.

One generated truth, with a few MES lines marked late so the late knob has
something to hold back; one server per pagination style. The oracle is the
truth file read with plain SQL: the `mes` rows of `stock` and the effective
`mes` rows of `movements`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from stockbridge.simulators.http_server import SimServer
from stockbridge.simulators.mes_rest import MesRestApp, start_mes_rest
from stockbridge.simulators.truth import generate

APP_KEY, APP_SECRET = "mes-app-7f3a", "s3cret-Mes-Key"
CHINA = ZoneInfo("Asia/Shanghai")
MES_UNITS = {"H87": "PCS", "KGM": "KG", "MTR": "M", "LTR": "L"}
STOCK = "/api/v1/lineside/stock"
TXNS = "/api/v1/material/transactions"
STYLES = ("page", "offset", "cursor")


def local(iso_utc: str) -> str:
    return (
        datetime.fromisoformat(iso_utc).astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
    )


# --- the truth and its oracle -----------------------------------------------


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mes_rest_truth") / "truth.sqlite"
    generate(path, seed=20260331, materials=12, days=4)
    with closing(sqlite3.connect(path)) as conn:
        late = [
            row[0]
            for kind in ("production_issue", "transfer")
            for row in conn.execute(
                "SELECT id FROM movements WHERE system = 'mes' AND kind = ?"
                " AND effective = 1 ORDER BY id DESC LIMIT 2",
                (kind,),
            )
        ]
        assert len(late) == 4
        conn.execute(
            f"UPDATE movements SET late = 1 WHERE id IN ({', '.join('?' * len(late))})",
            late,
        )
        conn.commit()
    return path


def truth_stock(
    truth: Path,
) -> dict[tuple[str, str, str, str], tuple[Decimal, Decimal, str]]:
    """(site, warehouse, material, batch) -> (quantity, reserved, MES unit)."""
    with closing(sqlite3.connect(truth)) as conn:
        rows = conn.execute(
            "SELECT s.site, s.warehouse, s.material, s.batch, s.status, s.quantity,"
            " s.reserved, m.base_unit FROM stock s JOIN materials m USING (material)"
            " WHERE s.system = 'mes'"
        ).fetchall()
    assert rows
    assert {row[4] for row in rows} == {"unrestricted"}
    return {
        (site, warehouse, material, batch): (
            Decimal(qty),
            Decimal(held),
            MES_UNITS[unit],
        )
        for site, warehouse, material, batch, _, qty, held, unit in rows
    }


def truth_movements(truth: Path) -> dict[str, dict[str, object]]:
    """Expected transactions by txnId, with the signed quantity and the late flag."""
    with closing(sqlite3.connect(truth)) as conn:
        rows = conn.execute(
            "SELECT m.document, m.line, m.kind, m.material, m.site, m.warehouse,"
            " m.batch, m.quantity, m.posted_at, m.entered_at, m.order_ref, m.late,"
            " r.document, r.line, mat.base_unit FROM movements m"
            " JOIN materials mat ON mat.material = m.material"
            " LEFT JOIN movements r ON r.id = m.reverses"
            " WHERE m.system = 'mes' AND m.effective = 1"
        ).fetchall()
    expected = {}
    for (document, line, kind, material, site, warehouse, batch, quantity, posted,
         entered, order, late, r_document, r_line, unit) in rows:  # fmt: skip
        expected[f"{document}-{line:03d}"] = {
            "kind": kind,
            "materialCode": material,
            "factoryCode": site,
            "warehouseCode": warehouse,
            "lotNo": batch or None,
            "signed": Decimal(quantity),
            "unit": MES_UNITS[unit],
            "txnTime": local(posted),
            "createTime": local(entered),
            "workOrderNo": order or None,
            "reversedTxnId": None
            if r_document is None
            else f"{r_document}-{r_line:03d}",
            "late": bool(late),
        }
    assert {e["kind"] for e in expected.values()} >= {"production_issue", "transfer"}
    return expected


# --- servers and clients ----------------------------------------------------


@pytest.fixture(scope="module", params=STYLES)
def server(
    request: pytest.FixtureRequest,
    truth: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SimServer]:
    work = tmp_path_factory.mktemp("mes_rest_work")
    with start_mes_rest(
        truth, work, app_key=APP_KEY, app_secret=APP_SECRET, pagination=request.param
    ) as started:
        yield started


@pytest.fixture(scope="module")
def special(
    truth: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimServer]:
    """The other options: cursor paging, JSON-number quantities, an API key, 1 s tokens."""
    with start_mes_rest(
        truth,
        tmp_path_factory.mktemp("mes_rest_special"),
        app_key=APP_KEY,
        app_secret=APP_SECRET,
        pagination="cursor",
        qty_format="number",
        api_key="k-123",
        token_ttl=1,
    ) as started:
        yield started


Login = Callable[[SimServer], requests.Session]


@pytest.fixture
def login() -> Iterator[Login]:
    """Log in to a server: a session holding a fresh bearer token, closed after the test.

    Open keep-alive connections would hold the server's handler threads, and
    `SimServer.stop` waits for them.
    """
    sessions: list[requests.Session] = []

    def log_in(server: SimServer) -> requests.Session:
        session = requests.Session()
        sessions.append(session)
        reply = session.post(
            f"{server.url}/api/auth/token",
            json={"appKey": APP_KEY, "appSecret": APP_SECRET},
            timeout=10,
        )
        reply.raise_for_status()
        envelope = reply.json()
        assert envelope["code"] == 0
        assert envelope["msg"] == "success"
        assert envelope["data"]["expiresIn"] == server.app.tokens.ttl  # type: ignore[attr-defined]
        session.headers["Authorization"] = f"Bearer {envelope['data']['accessToken']}"
        return session

    yield log_in
    for session in sessions:
        session.close()


def get(
    session: requests.Session, server: SimServer, path: str, **params: object
) -> dict[str, object]:
    reply = session.get(f"{server.url}{path}", params=params, timeout=10)
    assert reply.status_code == 200, reply.text
    envelope: dict[str, object] = reply.json(parse_float=Decimal)
    assert envelope["code"] == 0, envelope
    return envelope


def walk(
    session: requests.Session,
    server: SimServer,
    path: str,
    size: int,
    **filters: object,
) -> list[dict[str, object]]:
    """Every row of a listing, page by page in the server's own style."""
    style = server.app.pagination  # type: ignore[attr-defined]
    rows: list[dict[str, object]] = []
    cursor: object = None
    for page in range(1, 10_000):
        if style == "page":
            data = get(session, server, path, pageNo=page, pageSize=size, **filters)[
                "data"
            ]
            assert isinstance(data, dict)
            assert (data["pageNo"], data["pageSize"]) == (page, size)
            items = data["records"]
        elif style == "offset":
            data = get(session, server, path, offset=len(rows), limit=size, **filters)[
                "data"
            ]
            assert isinstance(data, dict)
            items = data["items"]
        else:
            after = {} if cursor is None else {"cursor": cursor}
            data = get(session, server, path, limit=size, **after, **filters)["data"]
            assert isinstance(data, dict)
            items = data["items"]
        assert isinstance(items, list)
        assert len(items) <= size
        rows.extend(items)
        if style == "cursor":
            cursor = data["nextCursor"]
            if cursor is None:
                return rows
            assert len(items) == size
        else:
            assert data["total"] >= len(rows)
            if not items:
                assert data["total"] == len(rows)
                return rows
    raise AssertionError("pagination never ended")


def stock_by_key(
    rows: list[dict[str, object]],
) -> dict[tuple[str, str, str, str], dict[str, object]]:
    keyed = {
        (r["factoryCode"], r["warehouseCode"], r["materialCode"], r["lotNo"] or ""): r
        for r in rows
    }
    assert len(keyed) == len(rows), "a stock row was served twice"
    return keyed  # type: ignore[return-value]


def set_faults(server: SimServer, **knobs: object) -> None:
    requests.post(
        f"{server.url}/_sim/faults", json=knobs, timeout=10
    ).raise_for_status()


# --- auth -------------------------------------------------------------------


def test_token_from_json_and_from_the_client_credentials_form(
    server: SimServer, login: Login
) -> None:
    session = login(server)
    assert get(session, server, STOCK, factoryCode="1000")["msg"] == "success"

    form = requests.post(
        f"{server.url}/api/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": APP_KEY,
            "client_secret": APP_SECRET,
        },
        timeout=10,
    ).json()
    assert form["code"] == 0
    reply = requests.get(
        f"{server.url}{STOCK}",
        headers={"Authorization": f"Bearer {form['data']['accessToken']}"},
        timeout=10,
    )
    assert reply.json()["code"] == 0


def test_wrong_secret_is_a_business_error_in_http_200(server: SimServer) -> None:
    reply = requests.post(
        f"{server.url}/api/auth/token",
        json={"appKey": APP_KEY, "appSecret": "nope"},
        timeout=10,
    )
    assert reply.status_code == 200
    assert reply.json() == {
        "code": 4010,
        "msg": "appKey 或 appSecret 错误",
        "data": None,
    }
    assert "nope" not in reply.text


@pytest.mark.parametrize(
    "authorization", [None, "Bearer not-a-token", "Basic bWVzOm1lcw=="]
)
def test_missing_or_invalid_token_is_401(
    server: SimServer, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for path in (STOCK, TXNS):
        reply = requests.get(f"{server.url}{path}", headers=headers, timeout=10)
        assert reply.status_code == 401
        assert reply.json() == {
            "code": 401,
            "msg": "token invalid or expired",
            "data": None,
        }


def test_token_expires_after_session_expiry_calls(
    server: SimServer, login: Login
) -> None:
    set_faults(server, session_expiry_calls=3)
    try:
        session = login(server)
        for _ in range(3):
            get(session, server, STOCK)
        reply = session.get(f"{server.url}{STOCK}", timeout=10)
        assert reply.status_code == 401
        assert reply.json()["code"] == 401
        assert session.get(f"{server.url}{TXNS}", timeout=10).status_code == 401
        get(login(server), server, TXNS)  # a new token works again
    finally:
        set_faults(server, session_expiry_calls=0)


def test_every_style_walks_the_stock_once_and_it_equals_the_truth(
    server: SimServer, truth: Path, login: Login
) -> None:
    served = stock_by_key(walk(login(server), server, STOCK, size=7))
    expected = truth_stock(truth)
    assert served.keys() == expected.keys()
    for key, row in served.items():
        quantity, reserved, unit = expected[key]
        assert isinstance(row["qty"], str)  # decimal strings by default
        assert Decimal(row["qty"]) == quantity
        assert Decimal(str(row["reservedQty"])) == reserved
        assert (row["unit"], row["status"], row["locationCode"]) == (unit, "OK", key[1])
        assert isinstance(row["materialName"], str)
        assert row["materialName"]
        datetime.strptime(str(row["updateTime"]), "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007


def test_every_style_walks_the_transactions_once_and_they_equal_the_truth(
    server: SimServer, truth: Path, login: Login
) -> None:
    rows = walk(login(server), server, TXNS, size=9)
    ids = [row["txnId"] for row in rows]
    assert len(ids) == len(set(ids)), "a transaction was served twice"
    order = [(row["createTime"], row["txnId"]) for row in rows]
    assert order == sorted(order)  # type: ignore[type-var]
    expected = truth_movements(truth)
    assert set(ids) == set(expected)
    for row in rows:
        want = expected[str(row["txnId"])]
        sign = {"IN": 1, "OUT": -1}[str(row["direction"])]
        assert Decimal(str(row["qty"])) > 0
        assert sign * Decimal(str(row["qty"])) == want["signed"]
        for field in ("materialCode", "factoryCode", "warehouseCode", "lotNo", "unit",
                      "txnTime", "createTime", "workOrderNo", "reversedTxnId"):  # fmt: skip
            assert row[field] == want[field], (field, row)
        kind = want["kind"]
        if kind == "transfer":
            assert row["txnType"] == "TRANSFER_IN"
            assert (row["fromLocation"], row["toLocation"]) == ("RM01", "LS01")
        elif kind == "production_issue":
            assert row["txnType"] == "CONSUME"
            assert row["direction"] == "OUT"
            assert (row["fromLocation"], row["toLocation"]) == ("LS01", None)
        elif kind == "reversal":
            assert row["txnType"] == "REVERSAL"
            assert row["reversedTxnId"] in expected


def test_transactions_net_to_the_stock_they_explain(
    server: SimServer, truth: Path, login: Login
) -> None:
    """Opening + served movements = served stock, per key: the ledger check a connector runs."""
    session = login(server)
    stock = stock_by_key(walk(session, server, STOCK, size=50))
    with closing(sqlite3.connect(truth)) as conn:
        opening = {
            (site, warehouse, material, batch): Decimal(qty)
            for site, warehouse, material, batch, qty in conn.execute(
                "SELECT site, warehouse, material, batch, quantity FROM opening_stock"
                " WHERE system = 'mes'"
            )
        }
    moved: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal, opening)
    for row in walk(session, server, TXNS, size=200):
        key = (
            row["factoryCode"],
            row["warehouseCode"],
            row["materialCode"],
            row["lotNo"] or "",
        )
        sign = 1 if row["direction"] == "IN" else -1
        moved[key] += sign * Decimal(str(row["qty"]))  # type: ignore[index]
    for key, row in stock.items():
        assert moved.pop(key) == Decimal(str(row["qty"])), key
    assert not any(moved.values())


def test_factory_filter_and_since_are_inclusive_and_resumable(
    server: SimServer, truth: Path, login: Login
) -> None:
    session = login(server)
    everything = walk(session, server, TXNS, size=100)
    site_rows = walk(session, server, TXNS, size=100, factoryCode="3000")
    assert site_rows == [row for row in everything if row["factoryCode"] == "3000"]
    assert site_rows

    middle = str(everything[len(everything) // 2]["createTime"])
    later = walk(session, server, TXNS, size=100, since=middle)
    assert later == [row for row in everything if str(row["createTime"]) >= middle]
    assert later[0]["createTime"] == middle
    assert walk(session, server, TXNS, size=100, since="2099-01-01 00:00:00") == []

    stock_3000 = stock_by_key(
        walk(session, server, STOCK, size=100, factoryCode="3000")
    )
    assert stock_3000
    assert stock_3000.keys() == {key for key in truth_stock(truth) if key[0] == "3000"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pageSize": 501, "limit": 501}, "超过上限 500"),
        ({"pageNo": 0, "offset": -1, "cursor": "bm9wZQ"}, "参数错误"),
        ({"since": "2026/03/01"}, "since 格式应为 yyyy-MM-dd HH:mm:ss"),
    ],
)
def test_bad_parameters_are_business_errors_in_http_200(
    server: SimServer, params: dict[str, object], message: str, login: Login
) -> None:
    session = login(server)
    reply = session.get(f"{server.url}{TXNS}", params=params, timeout=10)
    assert reply.status_code == 200
    envelope = reply.json()
    assert envelope["code"] == 4001
    assert envelope["data"] is None
    assert message in envelope["msg"]
    assert envelope["msg"].startswith("参数错误: ")


def test_late_knob_hides_late_postings_and_their_stock_until_switched_off(
    server: SimServer, truth: Path, login: Login
) -> None:
    session = login(server)
    expected = truth_movements(truth)
    late_ids = {txn for txn, e in expected.items() if e["late"]}
    assert len(late_ids) == 4
    held_back: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
    for txn in late_ids:
        e = expected[txn]
        key = (
            e["factoryCode"],
            e["warehouseCode"],
            e["materialCode"],
            e["lotNo"] or "",
        )
        held_back[key] += e["signed"]  # type: ignore[index,operator]

    set_faults(server, late_postings=True)
    try:
        hidden = walk(session, server, TXNS, size=50)
        assert {row["txnId"] for row in hidden} == set(expected) - late_ids
        stock = stock_by_key(walk(session, server, STOCK, size=50))
        for key, (quantity, _, _) in truth_stock(truth).items():
            assert Decimal(str(stock[key]["qty"])) == quantity - held_back.get(key, 0)
    finally:
        set_faults(server, late_postings=False)
    shown = walk(session, server, TXNS, size=50)
    assert {row["txnId"] for row in shown} == set(expected)
    stock = stock_by_key(walk(session, server, STOCK, size=50))
    for key, (quantity, _, _) in truth_stock(truth).items():
        assert Decimal(str(stock[key]["qty"])) == quantity


def test_unknown_paths_and_methods(server: SimServer, login: Login) -> None:
    session = login(server)
    missing = session.get(f"{server.url}/api/v1/nothing", timeout=10)
    assert (missing.status_code, missing.json()["code"]) == (404, 404)
    wrong = session.post(f"{server.url}{STOCK}", json={}, timeout=10)
    assert (wrong.status_code, wrong.json()["code"]) == (405, 405)


# --- the other options ------------------------------------------------------


def test_token_expires_after_its_lifetime(special: SimServer, login: Login) -> None:
    session = login(special)
    get(session, special, STOCK)
    time.sleep(1.1)
    assert session.get(f"{special.url}{STOCK}", timeout=10).status_code == 401


def test_static_api_key_header(special: SimServer) -> None:
    with requests.Session() as session:
        session.headers["X-API-Key"] = "k-123"
        assert get(session, special, TXNS, factoryCode="2000")["code"] == 0
        session.headers["X-API-Key"] = "k-124"
        assert session.get(f"{special.url}{TXNS}", timeout=10).status_code == 401


def test_a_cursor_of_another_listing_is_refused(
    special: SimServer, login: Login
) -> None:
    session = login(special)
    stock_cursor = get(session, special, STOCK, limit=1)["data"]["nextCursor"]  # type: ignore[index]
    assert stock_cursor
    reply = session.get(
        f"{special.url}{TXNS}", params={"cursor": stock_cursor}, timeout=10
    )
    assert reply.status_code == 200
    assert reply.json() == {"code": 4001, "msg": "参数错误: cursor 无效", "data": None}


def test_quantities_as_json_numbers_keep_every_digit(
    special: SimServer, truth: Path, login: Login
) -> None:
    session = login(special)
    reply = session.get(f"{special.url}{STOCK}", params={"limit": 500}, timeout=10)
    assert '"qty":"' not in reply.text
    rows = json.loads(reply.text, parse_float=Decimal)["data"]["items"]
    expected = truth_stock(truth)
    assert len(rows) == len(expected)
    for row in rows:
        assert isinstance(row["qty"], Decimal)
        key = (
            row["factoryCode"],
            row["warehouseCode"],
            row["materialCode"],
            row["lotNo"] or "",
        )
        assert row["qty"] == expected[key][0]
        assert row["qty"].as_tuple().exponent == -3
    txn = get(session, special, TXNS, limit=1)["data"]["items"][0]  # type: ignore[index]
    assert isinstance(txn["qty"], Decimal)


def test_stock_sync_takes_a_batch_whole_once_per_batch_id(
    special: SimServer, truth: Path
) -> None:
    app = special.app
    assert isinstance(app, MesRestApp)
    (site, warehouse, material, batch), (_, _, unit) = sorted(
        truth_stock(truth).items()
    )[0]
    good = {
        "factoryCode": site,
        "warehouseCode": warehouse,
        "materialCode": material,
        "lotNo": batch or None,
        "qty": "12.500",
        "unit": unit,
        "status": "OK",
    }
    sync = f"{special.url}/api/v1/lineside/stock-sync"
    with requests.Session() as http:
        assert http.post(sync, json={}, timeout=10).status_code == 401
        http.headers["X-API-Key"] = "k-123"

        def push(batch_id: str, items: list[dict[str, object]]) -> dict[str, object]:
            reply = http.post(
                sync, json={"batchId": batch_id, "items": items}, timeout=10
            )
            assert reply.status_code == 200
            envelope: dict[str, object] = reply.json()
            return envelope

        first = push("b-1", [good])
        assert first == {
            "code": 0,
            "msg": "success",
            "data": {"batchId": "b-1", "accepted": 1, "duplicate": False},
        }
        assert app.stock_sync.stock[(site, warehouse, material, batch)] == Decimal(
            "12.500"
        )
        again = push("b-1", [good])
        assert again["data"] == {"batchId": "b-1", "accepted": 0, "duplicate": True}
        reused = push("b-1", [{**good, "qty": "13"}])
        assert (reused["code"], reused["data"]) == (4009, None)

        unknown = {**good, "materialCode": "NO-SUCH", "qty": "99"}
        refused = push("b-2", [{**good, "qty": "99"}, unknown])
        assert refused["code"] == 4002
        assert refused["msg"] == "参数错误: 第2条 物料 NO-SUCH 不存在"
        bad_qty = push("b-3", [{**good, "qty": True}])
        assert (bad_qty["code"], bad_qty["msg"]) == (
            4002,
            "参数错误: 第1条 qty 不是数字: True",
        )
        assert (
            push("b-4", [{**good, "unit": "KGM"}])["msg"]
            == "参数错误: 第1条 单位 KGM 不存在"
        )
    # Refused batches left nothing: not the batch, not the good item's figure.
    assert set(app.stock_sync.batches) == {"b-1"}
    assert app.stock_sync.stock == {
        (site, warehouse, material, batch): Decimal("12.500")
    }
