"""Pushing the consolidated table to the MES simulator over real HTTP.

The simulator's request log is the witness of what was sent; its stock-sync
book is the witness of what the MES took.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from stockbridge.config.models import Settings
from stockbridge.simulators.http_server import SimServer
from stockbridge.simulators.mes_rest import MesRestApp, start_mes_rest
from stockbridge.sinks.base import SinkError, SinkRefusedError
from stockbridge.sinks.push import push
from stockbridge.store.leases import acquire_lease
from stockbridge.store.schema import sink_state
from stockbridge.store.sink_state import read_sink_state

APP_KEY, APP_SECRET = "sink-app", "sink-Secret-9z"
SYNC = "/api/v1/lineside/stock-sync"
UNITS = {"KGM": "KG", "H87": "PCS", "MTR": "M", "LTR": "L"}
BATCH = 3
Stock = dict[tuple[str, str, str, str], Decimal]


@pytest.fixture
def mes(truth: Path, tmp_path: Path) -> Iterator[SimServer]:
    with start_mes_rest(
        truth, tmp_path / "mes", app_key=APP_KEY, app_secret=APP_SECRET
    ) as server:
        yield server


def book(server: SimServer) -> Any:
    app = server.app
    assert isinstance(app, MesRestApp)
    return app.stock_sync


def logged(server: SimServer) -> list[str]:
    """`METHOD path` of every request the simulator served, in order."""
    reply = requests.get(f"{server.url}/_sim/requests", timeout=10)
    return [f"{r['method']} {r['path']}" for r in reply.json()]


def pushes(server: SimServer) -> int:
    return logged(server).count(f"POST {SYNC}")


def mes_config(server: SimServer) -> dict[str, Any]:
    return {
        "sources": {
            "mes": {
                "kind": "mes_rest",
                "url": server.url,
                "retry_attempts": 2,
                "retry_max_wait": 0.2,
                "auth": {
                    "type": "token",
                    "token_url": "/api/auth/token",
                    "body": {"appKey": APP_KEY, "appSecret": APP_SECRET},
                    "token_path": "data.accessToken",
                },
                "streams": {
                    "stock": {
                        "path": "/api/v1/lineside/stock",
                        "fields": {
                            "material": "materialCode",
                            "site": "factoryCode",
                            "warehouse": "warehouseCode",
                            "batch": "lotNo",
                            "quantity": "qty",
                            "unit": "unit",
                            "status": "status",
                        },
                        "status_map": {"OK": "unrestricted"},
                    }
                },
            }
        },
        "sinks": {
            "mes_sync": {
                "kind": "mes_push",
                "source": "mes",
                "path": SYNC,
                "batch_size": BATCH,
                "item": {
                    "factoryCode": "{site}",
                    "warehouseCode": "{warehouse}",
                    "materialCode": "{material}",
                    "lotNo": "{batch}",
                    "qty": "{quantity}",
                    "unit": "{unit}",
                    "status": "{status}",
                },
                "codes": {"unit": UNITS, "status": {"unrestricted": "OK"}},
            }
        },
    }


@pytest.fixture
def settings(kit: Any, mes: SimServer) -> Settings:
    settings: Settings = kit.config(mes_config(mes))
    return settings


@pytest.fixture
def table(
    kit: Any, truth_stock: Callable[[str], list[tuple[str, ...]]]
) -> list[dict[str, Any]]:
    """The MES's own stock as the consolidated table, SAP agreeing."""
    rows = [
        kit.row(material, site, warehouse, qty, batch=batch, unit=unit,
                sources={"mes": qty, "sap": qty})
        for material, site, warehouse, batch, qty, unit in truth_stock("mes")
    ]  # fmt: skip
    kit.put(rows)
    return rows


def expected(rows: list[dict[str, Any]]) -> Stock:
    return {
        (r["site"], r["warehouse"], r["material"], r["batch"]): r["quantity"]
        for r in rows
    }


def batches_of(rows: list[dict[str, Any]]) -> int:
    return -(-len(rows) // BATCH)


def test_a_dry_run_sends_nothing_and_says_what_it_would_send(
    kit: Any, mes: SimServer, settings: Settings, table: list[dict[str, Any]]
) -> None:
    result = push(kit.store, settings, "mes_sync", apply=False)

    assert logged(mes) == []  # not even a token request
    assert (result.dry_run, result.rows, result.sent) == (True, len(table), 0)
    assert len(result.keys) == batches_of(table)
    first = table[0]
    assert result.preview[0] == {
        "factoryCode": first["site"],
        "warehouseCode": first["warehouse"],
        "materialCode": first["material"],
        "lotNo": first["batch"],
        "qty": f"{first['quantity'].normalize():f}",
        "unit": UNITS[first["unit"]],
        "status": "OK",
    }
    assert (kit.audit(), kit.count(sink_state)) == ([], 0)


def test_apply_delivers_once_and_a_repeat_sends_nothing(
    kit: Any, mes: SimServer, settings: Settings, table: list[dict[str, Any]]
) -> None:
    result = push(kit.store, settings, "mes_sync", apply=True, actor="it-ops")

    assert book(mes).stock == expected(table)
    n = batches_of(table)
    assert (result.sent, result.changed, result.duplicates) == (n, len(table), 0)
    assert set(book(mes).batches) == set(result.keys)
    assert logged(mes) == ["POST /api/auth/token"] + [f"POST {SYNC}"] * n
    state = read_sink_state(kit.store, "mes_sync")
    assert state is not None
    assert (state.content_hash, state.rows) == (result.content_hash, len(table))

    again = push(kit.store, settings, "mes_sync", apply=True, actor="it-ops")

    assert (again.unchanged, again.sent) == (True, 0)
    assert pushes(mes) == n  # the second push sent nothing at all
    forced = push(kit.store, settings, "mes_sync", apply=True, force=True)
    # Sent again under the same batch ids, and recognised by the MES.
    assert forced.keys == result.keys
    assert (forced.sent, forced.changed, forced.duplicates) == (n, 0, n)
    assert len(book(mes).batches) == n
    audits = kit.audit()
    assert [a["detail"]["outcome"] for a in audits] == ["pushed", "unchanged", "pushed"]
    assert [a["actor"] for a in audits[:2]] == ["it-ops", "it-ops"]
    assert all(a["target"] == f"mes_push:mes_sync {mes.url}{SYNC}" for a in audits)
    assert audits[0]["detail"]["keys"] == list(result.keys)


def test_content_that_changes_back_is_sent_again_under_new_ids(
    kit: Any, mes: SimServer, settings: Settings, table: list[dict[str, Any]]
) -> None:
    first = push(kit.store, settings, "mes_sync", apply=True)
    changed = [dict(r) for r in table]
    changed[0]["quantity"] = changed[0]["quantity"] + Decimal("0.5")
    kit.put(changed)
    second = push(kit.store, settings, "mes_sync", apply=True)
    assert book(mes).stock == expected(changed)
    kit.put(table)

    third = push(kit.store, settings, "mes_sync", apply=True)

    # A, B, A: the third push is the first's content, yet news to the MES.
    assert third.content_hash == first.content_hash
    assert set(third.keys).isdisjoint(first.keys)
    assert third.duplicates == 0 < second.changed
    assert book(mes).stock == expected(table)


def test_a_refused_batch_stops_the_push_and_records_no_state(
    kit: Any, mes: SimServer, settings: Settings, table: list[dict[str, Any]]
) -> None:
    unknown = kit.row("999999", "3000", "LS01", "5", unit="H87")  # sorts last
    kit.put([*table, unknown])
    n = batches_of([*table, unknown])

    with pytest.raises(SinkRefusedError) as refused:
        push(kit.store, settings, "mes_sync", apply=True)

    message = str(refused.value)
    assert f"batch {n} of {n}" in message
    assert "code 4002" in message
    assert "物料 999999 不存在" in message
    assert f"the {n - 1} batch(es) before it were accepted" in message
    assert APP_SECRET not in message
    assert read_sink_state(kit.store, "mes_sync") is None
    (audit,) = kit.audit()
    assert (audit["detail"]["outcome"], audit["detail"]["error"]) == ("failed", message)
    assert len(book(mes).batches) == n - 1

    kit.put(table)  # the bad row is dealt with; the push is repeated
    repeated = push(kit.store, settings, "mes_sync", apply=True)

    # Same link, same batches: the ones the MES took are recognised as such.
    same = (len(table) // BATCH) if len(table) % BATCH else n - 1
    assert repeated.duplicates == same
    assert book(mes).stock == expected(table)
    assert read_sink_state(kit.store, "mes_sync") is not None


def test_a_code_without_a_translation_stops_before_anything_is_sent(
    kit: Any, mes: SimServer, settings: Settings, table: list[dict[str, Any]]
) -> None:
    kit.put([*table, kit.row("100002", "3000", "RM01", "2", unit="CT")])

    with pytest.raises(
        SinkError, match=r"no target code for unit CT .*nothing was sent"
    ):
        push(kit.store, settings, "mes_sync", apply=True)

    assert logged(mes) == []


def test_one_push_per_sink_at_a_time(
    kit: Any, mes: SimServer, settings: Settings, table: list[dict[str, Any]]
) -> None:
    now = datetime.now(UTC)
    held = acquire_lease(
        kit.store, "sink:mes_sync", holder="other-host:4242:abcd",
        ttl=timedelta(minutes=5), now=now,
    )  # fmt: skip

    with pytest.raises(SinkError, match="not pushed: sink:mes_sync is already running"):
        push(kit.store, settings, "mes_sync", apply=True)

    assert push(kit.store, settings, "mes_sync", apply=False).rows == len(table)
    assert logged(mes) == []
    held.release()
    assert push(kit.store, settings, "mes_sync", apply=True).changed == len(table)
