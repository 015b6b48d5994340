"""The 简道云 v5 `data/list` simulator over real HTTP, checked against the ground truth.

The form holds the MES line-side stock of site 1000 at the truth's `now`;
the oracle is the truth file's `stock` rows of system `mes`, site 1000.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from stockbridge.simulators.http_server import SimServer
from stockbridge.simulators.jiandaoyun import (
    DEFAULT_APP_ID,
    DEFAULT_ENTRY_ID,
    STOCK_COUNT_WIDGETS,
    start_jiandaoyun,
)
from stockbridge.simulators.truth import generate

API_KEY = "jdy-Key-0123456789abcdef"
PATH = "/api/v5/app/entry/data/list"
W = {widget.column: widget.name for widget in STOCK_COUNT_WIDGETS}
UNIT_NAMES = {"H87": "个", "KGM": "千克", "MTR": "米", "LTR": "升"}


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("jdy_truth") / "truth.sqlite"
    generate(path, seed=7, materials=15, days=4)
    return path


def truth_counts(truth: Path) -> dict[tuple[str, str], tuple[Decimal, str, str]]:
    """(material, batch) -> (quantity, Chinese unit name, name) of MES stock at 1000."""
    with closing(sqlite3.connect(truth)) as conn:
        rows = conn.execute(
            "SELECT s.material, s.batch, s.quantity, m.base_unit, m.name, s.warehouse"
            " FROM stock s JOIN materials m USING (material)"
            " WHERE s.system = 'mes' AND s.site = '1000'"
        ).fetchall()
    assert {row[5] for row in rows} == {"LS01"}
    return {
        (material, batch): (Decimal(qty), UNIT_NAMES[unit], name)
        for material, batch, qty, unit, name, _ in rows
    }


@pytest.fixture(scope="module")
def server(
    truth: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimServer]:
    """A form whose rate limit the functional tests never reach."""
    work = tmp_path_factory.mktemp("jdy_work")
    with start_jiandaoyun(truth, work, api_key=API_KEY, rate_limit=10_000) as started:
        yield started


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as opened:
        opened.headers["Authorization"] = f"Bearer {API_KEY}"
        yield opened


def body(**fields: object) -> dict[str, object]:
    return {"app_id": DEFAULT_APP_ID, "entry_id": DEFAULT_ENTRY_ID, **fields}


def post(
    session: requests.Session, server: SimServer, payload: dict[str, object]
) -> requests.Response:
    return session.post(f"{server.url}{PATH}", json=payload, timeout=10)


def records(
    session: requests.Session, server: SimServer, **fields: object
) -> list[dict[str, object]]:
    reply = post(session, server, body(**fields))
    assert reply.status_code == 200, reply.text
    data: list[dict[str, object]] = reply.json(parse_float=Decimal)["data"]
    return data


def walk(
    session: requests.Session, server: SimServer, limit: int, **fields: object
) -> list[dict[str, object]]:
    """All records, paging by `data_id` until a page is shorter than `limit`."""
    seen: list[dict[str, object]] = []
    while True:
        after = {"data_id": seen[-1]["_id"]} if seen else {}
        page = records(session, server, limit=limit, **after, **fields)
        assert len(page) <= limit
        seen.extend(page)
        if len(page) < limit:
            return seen


def test_data_id_paging_walks_every_record_once_and_equals_the_truth(
    server: SimServer, session: requests.Session, truth: Path
) -> None:
    served = walk(session, server, limit=4)
    ids = [str(record["_id"]) for record in served]
    assert len(ids) == len(set(ids))
    assert ids == sorted(ids)
    assert all(len(i) == 24 and int(i, 16) >= 0 for i in ids)
    expected = truth_counts(truth)
    assert len(served) == len(expected) > 4
    for record in served:
        key = (record[W["material"]], record[W["lot"]])
        quantity, unit, name = expected[key]  # type: ignore[index]
        assert isinstance(record[W["qty"]], Decimal | int)
        assert Decimal(record[W["qty"]]) == quantity  # type: ignore[arg-type]
        assert (record[W["unit"]], record[W["name"]]) == (unit, name)
        assert (record[W["factory"]], record[W["warehouse"]]) == ("1000", "LS01")
        assert record[W["counted_at"]] == "2026-03-31T16:00:00.000Z"
        assert (record["appId"], record["entryId"]) == (
            DEFAULT_APP_ID,
            DEFAULT_ENTRY_ID,
        )
        assert record["createTime"] == record["updateTime"] == record[W["counted_at"]]
    assert walk(session, server, limit=100) == served


def test_data_id_is_exclusive_and_the_default_limit_is_ten(
    server: SimServer, session: requests.Session
) -> None:
    everything = walk(session, server, limit=100)
    assert records(session, server) == everything[:10]
    third = everything[2]["_id"]
    assert records(session, server, data_id=third, limit=3) == everything[3:6]
    assert records(session, server, data_id=everything[-1]["_id"], limit=5) == []


@pytest.mark.parametrize("limit", [101, 0, -1, "10", 1.5])
def test_limit_outside_1_to_100_is_an_invalid_request(
    server: SimServer, session: requests.Session, limit: object
) -> None:
    reply = post(session, server, body(limit=limit))
    assert reply.status_code == 400
    assert reply.json() == {"code": 1, "msg": "The request is invalid."}


def test_limit_100_is_accepted(server: SimServer, session: requests.Session) -> None:
    assert len(records(session, server, limit=100)) == min(
        100, len(walk(session, server, 100))
    )


def test_fields_select_widgets_and_the_system_ids_always_come(
    server: SimServer, session: requests.Session
) -> None:
    chosen = [W["material"], W["qty"]]
    for record in records(session, server, fields=chosen, limit=5):
        assert set(record) == {*chosen, "_id", "appId", "entryId"}
    reply = post(session, server, body(fields=["_widget_9999"]))
    assert (reply.status_code, reply.json()["code"]) == (400, 1)


def test_filters_select_like_the_real_api(
    server: SimServer, session: requests.Session, truth: Path
) -> None:
    expected = truth_counts(truth)
    material = sorted(expected)[0][0]

    def where(
        *conditions: dict[str, object], rel: str = "and"
    ) -> list[tuple[object, object]]:
        served = walk(
            session, server, 100, filter={"rel": rel, "cond": list(conditions)}
        )
        return sorted((r[W["material"]], r[W["lot"]]) for r in served)

    assert where(
        {"field": W["material"], "method": "eq", "value": [material]}
    ) == sorted(key for key in expected if key[0] == material)
    threshold = sorted(q for q, _, _ in expected.values())[len(expected) // 2]
    assert where(
        {"field": W["qty"], "method": "range", "value": [str(threshold), None]}
    ) == sorted(key for key, (q, _, _) in expected.items() if q >= threshold)
    without_lot = sorted(key for key in expected if key[1] == "")
    assert without_lot
    assert where({"field": W["lot"], "method": "empty"}) == without_lot
    assert where(
        {"field": W["material"], "method": "eq", "value": [material]},
        {"field": W["lot"], "method": "not_empty"},
        rel="or",
    ) == sorted(key for key in expected if key[0] == material or key[1])
    reply = post(
        session,
        server,
        body(
            filter={
                "rel": "and",
                "cond": [{"field": W["qty"], "method": "like", "value": [1]}],
            }
        ),
    )
    assert (reply.status_code, reply.json()) == (
        400,
        {"code": 1, "msg": "The request is invalid."},
    )


def test_wrong_app_or_key(server: SimServer, session: requests.Session) -> None:
    wrong_app = post(
        session, server, {"app_id": "0" * 24, "entry_id": DEFAULT_ENTRY_ID}
    )
    assert (wrong_app.status_code, wrong_app.json()["code"]) == (400, 1)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": API_KEY}):
        reply = requests.post(
            f"{server.url}{PATH}", json=body(), headers=headers, timeout=10
        )
        assert reply.status_code == 401
        assert API_KEY not in reply.text


def test_a_burst_over_30_per_second_gets_429_with_code_8303(
    truth: Path, tmp_path: Path, session: requests.Session
) -> None:
    with start_jiandaoyun(truth, tmp_path, api_key=API_KEY) as limited:
        first_sent = time.monotonic()
        replies: list[requests.Response] = []
        while len(replies) < 300 and 429 not in {r.status_code for r in replies}:
            replies.append(post(session, limited, body(limit=1)))
            if len(replies) == 31:
                thirty_first_back = time.monotonic()
        assert [r.status_code for r in replies[:30]] == [200] * 30
        if thirty_first_back - first_sent < 1.0:  # 31 requests inside one second
            assert replies[30].status_code == 429
        refused = replies[-1]
        assert refused.status_code == 429
        assert refused.json() == {"code": 8303, "msg": "超出请求频率限制"}
        time.sleep(1.05)
        assert post(session, limited, body(limit=1)).status_code == 200
