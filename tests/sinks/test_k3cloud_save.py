"""Saving adjustment bills to the K3 Cloud simulator over real HTTP.

The sink books 盘盈单 (STK_StockCountGain) for the keys where the
consolidated quantity is above K3's own figure, submits and audits them,
and K3's inventory (read back with ExecuteBillQuery) must then hold the
consolidated quantity exactly. The simulator's request log is the witness
of what was sent.
"""

from __future__ import annotations

import base64
import json
import random
import shutil
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from stockbridge.simulators.http_server import SimServer
from stockbridge.simulators.k3cloud import start_k3cloud
from stockbridge.sinks.base import SinkRefusedError
from stockbridge.sinks.push import push
from stockbridge.store.sink_state import read_sink_state

ACCT, USER, PASSWORD = "6548e1b1f3a7a1", "stockbridge", "Kd@2026!"
APP_ID = "299961_" + base64.b64encode(bytes(range(40, 64))).decode()
APP_SECRET = "a3f5c1e8b2d94f6a8c7e1b0d2f4a6c8e"
STUB = "/k3cloud/Kingdee.BOS.WebApi.ServicesStub."
FORM = "STK_StockCountGain"
UNITS = {"KGM": "kg", "H87": "Pcs", "MTR": "m", "LTR": "L"}
GAINS = {0: "1.5", 3: "2", 7: "0.001"}
"""Row index in K3's stock -> how much more the consolidated table holds."""
Key = tuple[str, str, str]


def start(truth: Path, work: Path) -> SimServer:
    return start_k3cloud(
        truth, work, acct_id=ACCT, username=USER, password=PASSWORD,
        app_id=APP_ID, app_secret=APP_SECRET,
    )  # fmt: skip


@pytest.fixture(scope="session")
def built(truth: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A K3 store built once; each test serves a copy of it."""
    work = tmp_path_factory.mktemp("k3built")
    start(truth, work).stop()
    return work / "k3cloud.sqlite"


@pytest.fixture
def k3(truth: Path, built: Path, tmp_path: Path) -> Iterator[SimServer]:
    work = tmp_path / "k3"
    work.mkdir()
    shutil.copy(built, work / "k3cloud.sqlite")
    server = start(truth, work)
    yield server
    server.stop()


def calls(server: SimServer) -> list[str]:
    """The WebAPI methods the simulator served, in order."""
    reply = requests.get(f"{server.url}/_sim/requests", timeout=10)
    return [r["path"].split(".")[-3] for r in reply.json()]


def k3_query(server: SimServer, form: str, keys: str, where: str) -> list[list[Any]]:
    """ExecuteBillQuery as a plain HTTP client (after the log has been checked)."""
    with requests.Session() as http:
        login = {"parameters": [ACCT, USER, PASSWORD, 2052]}
        http.post(f"{server.url}{STUB}AuthService.ValidateUser.common.kdsvc",
                  json=login, timeout=10).raise_for_status()  # fmt: skip
        body = {"data": {"FormId": form, "FieldKeys": keys, "FilterString": where}}
        reply = http.post(
            f"{server.url}{STUB}DynamicFormService.ExecuteBillQuery.common.kdsvc",
            json=body,
            timeout=10,
        )
    rows: list[list[Any]] = json.loads(reply.text, parse_float=Decimal)
    return rows


def inventory(server: SimServer) -> dict[Key, Decimal]:
    """K3's on-hand stock of site 3000 by (material, warehouse, lot), unrestricted."""
    rows = k3_query(
        server,
        "STK_Inventory",
        "FMaterialId.FNumber,FStockId.FNumber,FLot.FNumber,FBaseQty",
        "FStockStatusId.FNumber = 'KCZT01_SYS'",
    )
    return {(m, w, lot or ""): Decimal(q) for m, w, lot, q in rows}


def sink_config(server: SimServer, **changes: object) -> dict[str, Any]:
    sink = {
        "kind": "k3cloud_save",
        "source": "k3cloud",
        "form_id": FORM,
        "entity": "FBillEntry",
        "entries_per_bill": 2,
        "submit": True,
        "audit": True,
        "bill_no_prefix": "SBPY",
        "header": {"FStockOrgId": {"FNumber": "3000"}, "FNote": "stockbridge"},
        "entry": {
            "FMaterialId": {"FNumber": "{material}"},
            "FStockId": {"FNumber": "{warehouse}"},
            "FLot": {"FNumber": "{batch}"},
            "FStockStatusId": {"FNumber": "{status}"},
            "FUnitID": {"FNumber": "{unit}"},
            "FGainQty": "{difference}",
        },
        "select": {
            "site": "3000",
            "difference": {"source": "k3cloud", "sign": "positive"},
        },
        "codes": {"unit": UNITS, "status": {"unrestricted": "KCZT01_SYS"}},
        **changes,
    }
    return {
        "sources": {
            "k3cloud": {
                "kind": "k3cloud",
                "url": f"{server.url}/k3cloud/",
                "acct_id": ACCT,
                "username": USER,
                "password": PASSWORD,
                "retry_attempts": 3,
                "retry_max_wait": 0.2,
            }
        },
        "sinks": {"k3_gain": sink},
    }


@pytest.fixture
def table(
    kit: Any, truth_stock: Callable[[str], list[tuple[str, ...]]]
) -> list[dict[str, Any]]:
    """K3's stock as the consolidated table, some keys holding more than K3."""
    rows = []
    for n, (material, site, warehouse, batch, qty, unit) in enumerate(
        truth_stock("k3cloud")
    ):
        mine = str(Decimal(qty) + Decimal(GAINS.get(n, "0")))
        if n == 5:
            mine = str(Decimal(qty) - 1)  # below K3: not a gain, not booked
        figures = {"k3cloud": qty, "mes": mine}
        rows.append(kit.row(material, site, warehouse, mine, batch=batch, unit=unit,
                            sources=figures))  # fmt: skip
    kit.put(rows)
    return rows


def settings_keys(kit: Any, settings: Any) -> tuple[str, ...]:
    """The bill numbers a push would use now (a dry run)."""
    return push(kit.store, settings, "k3_gain", apply=False).keys


def key(row: dict[str, Any]) -> Key:
    return row["material"], row["warehouse"], row["batch"]


def test_a_dry_run_sends_nothing(
    kit: Any, k3: SimServer, table: list[dict[str, Any]]
) -> None:
    result = push(kit.store, kit.config(sink_config(k3)), "k3_gain", apply=False)

    assert calls(k3) == []
    assert (result.rows, len(result.keys), result.sent) == (3, 2, 0)
    bill = result.preview[0]
    assert bill["FBillNo"] == result.keys[0]
    assert bill["FStockOrgId"] == {"FNumber": "3000"}
    first = table[0]
    assert bill["FBillEntry"][0] == {
        "FMaterialId": {"FNumber": first["material"]},
        "FStockId": {"FNumber": first["warehouse"]},
        "FLot": {"FNumber": first["batch"]},
        "FStockStatusId": {"FNumber": "KCZT01_SYS"},
        "FUnitID": {"FNumber": UNITS[first["unit"]]},
        "FGainQty": "1.5",
    }


def test_apply_books_the_gains_once_and_a_repeat_changes_nothing(
    kit: Any, k3: SimServer, table: list[dict[str, Any]]
) -> None:
    settings = kit.config(sink_config(k3))
    before = inventory(k3)
    n_before = len(calls(k3))

    result = push(kit.store, settings, "k3_gain", apply=True, actor="erp-admin")

    assert calls(k3)[n_before:] == [
        "ValidateUser", "ExecuteBillQuery",
        "Save", "Submit", "Audit", "Save", "Submit", "Audit",
    ]  # fmt: skip
    assert (result.changed, result.duplicates) == (2, 0)
    after = inventory(k3)
    for n, row in enumerate(table):
        wanted = row["quantity"] if n in GAINS else before[key(row)]
        assert after[key(row)] == wanted, row
    numbers = ", ".join(f"'{number}'" for number in result.keys)
    bills = k3_query(k3, FORM, "FBillNo,FDocumentStatus,FGainQty",
                     f"FBillNo IN ({numbers})")  # fmt: skip
    assert sorted((b, s) for b, s, _ in bills) == sorted(
        [(result.keys[0], "C"), (result.keys[0], "C"), (result.keys[1], "C")]
    )
    (audit,) = kit.audit()
    assert (audit["actor"], audit["detail"]["outcome"]) == ("erp-admin", "pushed")
    assert audit["detail"]["keys"] == list(result.keys)
    logged = len(calls(k3))

    again = push(kit.store, settings, "k3_gain", apply=True)

    assert (again.unchanged, again.sent, len(calls(k3))) == (True, 0, logged)
    forced = push(kit.store, settings, "k3_gain", apply=True, force=True)
    # Asked again under the same bill numbers: K3 has them, nothing is saved.
    assert calls(k3)[logged:] == ["ValidateUser", "ExecuteBillQuery"]
    assert (forced.keys, forced.changed, forced.duplicates) == (result.keys, 0, 2)
    assert inventory(k3) == after


def test_a_refusal_stops_with_k3s_message_and_a_repeat_books_each_bill_once(
    kit: Any, k3: SimServer, table: list[dict[str, Any]]
) -> None:
    before = inventory(k3)
    unknown = kit.row("999999", "3000", "RM01", "4", unit="KGM",
                      sources={"k3cloud": "0", "mes": "4"})  # fmt: skip
    kit.put([*table, unknown])  # sorts last: the second bill's second entry
    settings = kit.config(sink_config(k3))

    with pytest.raises(SinkRefusedError) as refused:
        push(kit.store, settings, "k3_gain", apply=True)

    message = str(refused.value)
    assert f"refused bill {settings_keys(kit, settings)[1]} (2 of 2)" in message
    assert "Save failed with MsgCode 9" in message
    assert "第2行分录：字段“FMaterialId”的值“999999”在基础资料中不存在" in message
    assert PASSWORD not in message
    assert read_sink_state(kit.store, "k3_gain") is None
    (audit,) = kit.audit()
    assert (audit["detail"]["outcome"], audit["detail"]["error"]) == ("failed", message)
    # The refused Save is checked (was it our own earlier attempt?), then: stop.
    assert calls(k3)[-5:] == ["Save", "Submit", "Audit", "Save", "ExecuteBillQuery"]

    kit.put(table)
    repeated = push(kit.store, settings, "k3_gain", apply=True)

    # The first bill is found booked already; only the changed second is saved.
    assert (repeated.duplicates, repeated.changed) == (1, 1)
    after = inventory(k3)
    for n, row in enumerate(table):
        wanted = row["quantity"] if n in GAINS else before[key(row)]
        assert after[key(row)] == wanted, row  # each gain booked exactly once


def first_seed(pattern: list[bool], rate: float) -> int:
    """A seed under which the simulator drops exactly the requests marked True."""
    for seed in range(10_000):
        draws = random.Random(seed)
        if [draws.random() < rate for _ in pattern] == pattern:
            return seed
    raise AssertionError("no seed gives that pattern")


def test_a_save_whose_reply_was_lost_is_recognised_not_repeated(
    kit: Any, k3: SimServer, table: list[dict[str, Any]]
) -> None:
    settings = kit.config(
        sink_config(k3, submit=False, audit=False, entries_per_bill=5)
    )
    # Login, the number query, then the Save goes through but its reply is
    # cut off; the retried Save is refused as a repeated number.
    k3.faults.drop_rate = 0.5
    k3.reseed(first_seed([False, False, True, False, False], 0.5))

    result = push(kit.store, settings, "k3_gain", apply=True)
    k3.faults.drop_rate = 0.0

    assert calls(k3) == [
        "ValidateUser",
        "ExecuteBillQuery",
        "Save",
        "Save",
        "ExecuteBillQuery",
    ]
    assert (result.changed, result.duplicates) == (1, 0)
    (number,) = result.keys
    saved = k3_query(k3, FORM, "FID,FDocumentStatus", f"FBillNo = '{number}'")
    assert {(fid, status) for fid, status in saved} == {(saved[0][0], "A")}
    assert len(saved) == 3  # one bill, its three entries
