"""`kind: mes_rest` against the MES REST simulator over real sockets, checked against the truth.

One generated truth (a few MES lines marked late, for the late knob), one
simulator per pagination style. The oracle is the truth file read with
plain SQL: the `mes` rows of `stock`, and the `mes` movements with
effective = 1 (the MES ledger never holds a voided or unposted line, so
every transaction it serves moved stock and every one is emitted).
"""

from __future__ import annotations

import json
import math
import socket
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from stockbridge.config.errors import ConfigError
from stockbridge.config.models import Settings
from stockbridge.connectors.base import CheckState, Page, Stream
from stockbridge.connectors.errors import AuthError, ProtocolError, TransientError
from stockbridge.connectors.mes_rest import MesRestConnector, MesRestSettings
from stockbridge.mapping.model import MovementRecord, StockRecord, UnreadableRecord
from stockbridge.simulators.http_server import SimServer
from stockbridge.simulators.mes_rest import start_mes_rest
from stockbridge.simulators.truth import generate
from stockbridge.store.database import open_store
from stockbridge.store.schema import movements as movement_table
from stockbridge.sync.runner import sync_stream

APP_KEY, APP_SECRET = "mes-app-7f3a", "s3cret-Mes-Key"
CHINA = ZoneInfo("Asia/Shanghai")
STOCK = "/api/v1/lineside/stock"
TXNS = "/api/v1/material/transactions"
TOKEN = "/api/auth/token"
SITES = ("1000", "2000", "3000", "4000")
PAGINATION = {
    "page": {"style": "page", "items_path": "records", "total_path": "total"},
    "offset": {"style": "offset", "items_path": "items", "total_path": "total"},
    "cursor": {"style": "cursor", "items_path": "items", "next_path": "nextCursor"},
}
KINDS = {
    "TRANSFER_IN": "transfer",
    "TRANSFER_OUT": "transfer",
    "CONSUME": "production_issue",
    "SCRAP": "scrap",
    "ADJUST": "adjustment",
    "REVERSAL": "reversal",
    "RECEIVE": "receipt",
    "ISSUE": "issue",
    "OUTPUT": "production_receipt",
    "SHIP": "sales_issue",
    "RETURN": "return",
}


def source_options(url: str, style: str = "page", **changes: Any) -> dict[str, Any]:
    """The YAML a plant would write for this MES, as a dict."""
    options: dict[str, Any] = {
        "url": url,
        "page_size": 25,
        "retry_attempts": 4,
        "retry_max_wait": 0.05,
        "timeout": 5,
        "auth": {
            "type": "token",
            "token_url": TOKEN,
            "body": {"appKey": APP_KEY, "appSecret": APP_SECRET},
            "token_path": "data.accessToken",
        },
        "envelope": {
            "success_path": "code",
            "success_values": [0],
            "message_path": "msg",
            "data_path": "data",
        },
        "pagination": {**PAGINATION[style], "size": 7},
        "streams": {
            "stock": {
                "path": STOCK,
                "fields": {
                    "material": "materialCode",
                    "site": "factoryCode",
                    "warehouse": "warehouseCode",
                    "batch": "lotNo",
                    "quantity": "qty",
                    "reserved": "reservedQty",
                    "unit": "unit",
                    "status": "status",
                },
                "status_map": {
                    "OK": "unrestricted",
                    "QC": "quality_inspection",
                    "HOLD": "blocked",
                },
            },
            "movements": {
                "path": TXNS,
                "cursor_param": "since",
                "cursor_field": "createTime",
                "id_pattern": r"^(?P<document>.+)-(?P<line>\d+)$",
                "fields": {
                    "document": "txnId",
                    "kind": "txnType",
                    "material": "materialCode",
                    "site": "factoryCode",
                    "warehouse": "warehouseCode",
                    "batch": "lotNo",
                    "quantity": "qty",
                    "unit": "unit",
                    "posted_at": "txnTime",
                    "entered_at": "createTime",
                    "reverses": "reversedTxnId",
                    "order_ref": "workOrderNo",
                },
                "defaults": {"status": "unrestricted"},
                "direction": {"field": "direction", "in": "IN", "out": "OUT"},
                "kinds": KINDS,
            },
        },
    }
    options.update(changes)
    return options


def connector(url: str, style: str = "page", **changes: Any) -> MesRestConnector:
    settings = MesRestSettings.model_validate(source_options(url, style, **changes))
    return MesRestConnector("mes", settings, timezone="Asia/Shanghai")


def utc(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


# --- the truth and its oracle ----------------------------------------------------


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mes_rest_conn_truth") / "truth.sqlite"
    generate(path, seed=20260331, materials=12, days=4)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(
            "UPDATE movements SET late = 1 WHERE id IN (SELECT id FROM movements"
            " WHERE system = 'mes' AND effective = 1 AND kind = 'production_issue'"
            " ORDER BY id DESC LIMIT 3)"
        )
        conn.commit()
    return path


def truth_stock(
    truth: Path,
) -> dict[tuple[str, str, str, str], tuple[Decimal, Decimal]]:
    """(site, warehouse, material, batch) -> (quantity, reserved) of the MES."""
    with closing(sqlite3.connect(truth)) as conn:
        rows = conn.execute(
            "SELECT site, warehouse, material, batch, quantity, reserved FROM stock"
            " WHERE system = 'mes' AND status = 'unrestricted'"
        ).fetchall()
    assert rows
    return {(s, w, m, b): (Decimal(q), Decimal(r)) for s, w, m, b, q, r in rows}


def truth_movements(truth: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(document, line as the MES writes it) -> what the connector must emit."""
    with closing(sqlite3.connect(truth)) as conn:
        rows = conn.execute(
            "SELECT m.document, m.line, m.kind, m.material, m.site, m.warehouse,"
            " m.batch, m.quantity, m.posted_at, m.entered_at, m.order_ref, m.late,"
            " r.document, r.line FROM movements m"
            " LEFT JOIN movements r ON r.id = m.reverses"
            " WHERE m.system = 'mes' AND m.effective = 1"
        ).fetchall()
    expected = {}
    for (document, line, kind, material, site, warehouse, batch, quantity, posted,
         entered, order, late, r_document, r_line) in rows:  # fmt: skip
        expected[(document, f"{line:03d}")] = {
            "kind": kind,
            "material": material,
            "site": site,
            "warehouse": warehouse,
            "batch": batch,
            "quantity": Decimal(quantity),
            "posted_at": utc(posted).replace(microsecond=0),
            "entered_at": utc(entered).replace(microsecond=0),
            "order_ref": order,
            "reverses": "" if r_document is None else f"{r_document}/{r_line:03d}",
            "late": bool(late),
        }
    assert {e["kind"] for e in expected.values()} >= {
        "production_issue",
        "transfer",
        "reversal",
    }
    return expected


def records(pages: Iterator[Page]) -> list[Any]:
    return [record for page in pages for record in page.records]


def assert_stock_is_the_truth(found: list[Any], truth: Path) -> None:
    assert all(isinstance(r, StockRecord) for r in found), found
    keyed = {(r.site, r.warehouse, r.material, r.batch): r for r in found}
    assert len(keyed) == len(found), "a stock row was emitted twice"
    expected = truth_stock(truth)
    assert keyed.keys() == expected.keys()
    for key, record in keyed.items():
        assert (record.quantity, record.reserved) == expected[key]
        assert record.status == "unrestricted"
        assert record.unit in {"PCS", "KG", "M", "L"}


def assert_movements_are_the_truth(
    found: list[Any], expected: dict[tuple[str, str], dict[str, Any]]
) -> None:
    assert all(isinstance(r, MovementRecord) for r in found), [
        r for r in found if not isinstance(r, MovementRecord)
    ]
    keyed = {(r.document, r.line): r for r in found}
    assert len(keyed) == len(found), "a movement was emitted twice"
    assert keyed.keys() == expected.keys()
    for key, record in keyed.items():
        want = expected[key]
        got = {
            "kind": record.kind.value,
            "material": record.material,
            "site": record.site,
            "warehouse": record.warehouse,
            "batch": record.batch,
            "quantity": record.quantity,
            "posted_at": record.posted_at,
            "entered_at": record.entered_at,
            "order_ref": record.order_ref,
            "reverses": record.reverses,
        }
        assert got == {k: v for k, v in want.items() if k != "late"}, key


def requests_to(server: SimServer, path: str, method: str = "GET") -> int:
    return sum(1 for m, p in server.requests if m == method and p.split("?")[0] == path)


# --- servers ----------------------------------------------------------------------


@pytest.fixture(scope="module", params=sorted(PAGINATION))
def server(
    request: pytest.FixtureRequest,
    truth: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SimServer]:
    work = tmp_path_factory.mktemp("mes_rest_conn_work")
    with start_mes_rest(
        truth, work, app_key=APP_KEY, app_secret=APP_SECRET, pagination=request.param
    ) as started:
        yield started


@pytest.fixture
def fresh(server: SimServer) -> Iterator[SimServer]:
    """The server with no faults and an empty request log, restored after the test."""
    server.faults.update(
        error_rate=0.0, throttle_rate=0.0, latency=0.0, drop_rate=0.0,
        truncate_rate=0.0, session_expiry_calls=0, late_postings=False, retry_after=0,
    )  # fmt: skip
    server.reseed(7)
    server.requests.clear()
    yield server
    server.faults.update(
        error_rate=0.0, throttle_rate=0.0, latency=0.0, drop_rate=0.0,
        truncate_rate=0.0, session_expiry_calls=0, late_postings=False,
    )  # fmt: skip


def style(server: SimServer) -> str:
    return str(server.app.pagination)  # type: ignore[attr-defined]


# --- full pulls -------------------------------------------------------------------


def test_every_style_walks_each_listing_once_and_equals_the_truth(
    fresh: SimServer, truth: Path
) -> None:
    with connector(fresh.url, style(fresh)) as mes:
        stock = records(mes.stock())
        moved = records(mes.movements(None, lookback=timedelta(hours=2)))
    assert_stock_is_the_truth(stock, truth)
    expected = truth_movements(truth)
    assert_movements_are_the_truth(moved, expected)
    # Exactly one call per page of 7 (a total or a null cursor ends the walk),
    # and one token for the whole pull.
    assert requests_to(fresh, STOCK) == math.ceil(len(stock) / 7)
    assert requests_to(fresh, TXNS) == math.ceil(len(moved) / 7)
    assert requests_to(fresh, TOKEN, "POST") == 1


def test_pages_are_bounded_and_each_carries_the_cursor_of_its_last_row(
    fresh: SimServer, truth: Path
) -> None:
    with connector(fresh.url, style(fresh)) as mes:
        pages = list(mes.movements(None, lookback=timedelta(0)))
    assert all(0 < len(page.records) <= 25 for page in pages)
    for page in pages:
        last = page.records[-1]
        assert isinstance(last, MovementRecord)
        assert page.cursor is not None
        position = MesCursor(page.cursor)
        assert position.key == [f"{last.document}-{last.line}"]
        assert position.value == last.raw["createTime"]


class MesCursor:
    """The connector's saved position, read back."""

    def __init__(self, text: str) -> None:
        data = json.loads(text)["positions"][""]
        self.key: list[str] = data["key"]
        self.value: str = data["value"]


def test_a_stock_fan_out_asks_each_factory_once(fresh: SimServer, truth: Path) -> None:
    options = source_options(fresh.url, style(fresh))
    options["streams"]["stock"]["fan_out"] = {
        "param": "factoryCode",
        "values": list(SITES),
    }
    settings = MesRestSettings.model_validate(options)
    with MesRestConnector("mes", settings, timezone="Asia/Shanghai") as mes:
        stock = records(mes.stock())
    assert_stock_is_the_truth(stock, truth)
    asked = Counter(
        p.split("factoryCode=")[1].split("&")[0]
        for m, p in fresh.requests
        if p.startswith(STOCK)
    )
    assert set(asked) == set(SITES)


# --- incremental pulls ------------------------------------------------------------


def test_an_incremental_pull_returns_the_newer_rows_and_the_look_back(
    fresh: SimServer, truth: Path
) -> None:
    expected = truth_movements(truth)
    with connector(fresh.url, style(fresh)) as mes:
        pages = list(mes.movements(None, lookback=timedelta(0)))
        saved = pages[1].cursor
        assert saved is not None
        boundary = MesCursor(saved).value
        since = records(mes.movements(saved, lookback=timedelta(0)))
        earlier = records(mes.movements(saved, lookback=timedelta(hours=3)))
    entered = {key: e["entered_at"] for key, e in expected.items()}
    at = datetime.strptime(boundary, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
    assert {(r.document, r.line) for r in since} == {
        k for k, t in entered.items() if t >= at
    }
    assert {(r.document, r.line) for r in earlier} == {
        k for k, t in entered.items() if t >= at - timedelta(hours=3)
    }
    assert requests_to(fresh, TXNS) >= 3
    assert any("since=" in p for _, p in fresh.requests)


def test_a_pull_resumed_from_a_cursor_saved_mid_way_loses_nothing(
    fresh: SimServer, truth: Path
) -> None:
    expected = truth_movements(truth)
    with connector(fresh.url, style(fresh)) as first:
        pulled = first.movements(None, lookback=timedelta(minutes=30))
        committed = [next(pulled), next(pulled)]
        pulled.close()  # the process dies after two committed pages
    saved = committed[-1].cursor
    assert saved is not None
    with connector(fresh.url, style(fresh)) as second:
        resumed = records(second.movements(saved, lookback=timedelta(minutes=30)))
    seen = {(r.document, r.line): r for page in committed for r in page.records}
    overlap = [r for r in resumed if (r.document, r.line) in seen]
    assert overlap, "the look-back re-reads the boundary"
    seen.update({(r.document, r.line): r for r in resumed})
    assert_movements_are_the_truth(list(seen.values()), expected)


def test_late_postings_are_caught_by_the_look_back(
    fresh: SimServer, truth: Path
) -> None:
    expected = truth_movements(truth)
    late = {key for key, e in expected.items() if e["late"]}
    assert len(late) == 3
    fresh.faults.update(late_postings=True)
    with connector(fresh.url, style(fresh)) as mes:
        first = list(mes.movements(None, lookback=timedelta(0)))
        assert {(r.document, r.line) for p in first for r in p.records} == set(
            expected
        ) - late
        cursor = first[-1].cursor
        assert cursor is not None
        fresh.faults.update(late_postings=False)
        newest = max(e["entered_at"] for e in expected.values() if not e["late"])
        missed = {key for key in late if expected[key]["entered_at"] < newest}
        assert missed, "the truth has a late line entered before the cursor"
        reach = newest - min(expected[key]["entered_at"] for key in missed)
        short = records(mes.movements(cursor, lookback=timedelta(0)))
        caught = records(mes.movements(cursor, lookback=reach))
    assert not missed & {(r.document, r.line) for r in short}
    assert late <= {(r.document, r.line) for r in caught}


# --- auth ---------------------------------------------------------------------------


def test_an_expired_token_is_fetched_again_once_and_the_pull_goes_on(
    fresh: SimServer, truth: Path
) -> None:
    fresh.faults.update(session_expiry_calls=2)
    with connector(fresh.url, style(fresh)) as mes:
        moved = records(mes.movements(None, lookback=timedelta(0)))
    assert_movements_are_the_truth(moved, truth_movements(truth))
    pages = math.ceil(len(moved) / 7)
    tokens = requests_to(fresh, TOKEN, "POST")
    # Each token serves two calls; the third is refused, a new token is fetched
    # and that same call is made again.
    assert tokens == math.ceil(pages / 2)
    assert requests_to(fresh, TXNS) == pages + tokens - 1


def test_a_wrong_secret_is_an_auth_error_and_is_not_retried(fresh: SimServer) -> None:
    options = source_options(fresh.url, style(fresh))
    options["auth"]["body"]["appSecret"] = "wrong-secret-123"
    settings = MesRestSettings.model_validate(options)
    with MesRestConnector("mes", settings, timezone="Asia/Shanghai") as mes:
        with pytest.raises(AuthError) as caught:
            records(mes.stock())
        assert mes.check().state is CheckState.AUTH_FAILED
    assert "4010" in str(caught.value)
    assert "appKey 或 appSecret 错误" in str(caught.value)
    assert "wrong-secret-123" not in str(caught.value)
    assert list(fresh.requests) == [("POST", TOKEN)] * 2


def test_a_refused_static_token_is_an_auth_error_after_one_call(
    fresh: SimServer,
) -> None:
    mes = connector(
        fresh.url, style(fresh), auth={"type": "bearer", "token": "not-a-token-at-all"}
    )
    with mes, pytest.raises(AuthError) as caught:
        records(mes.stock())
    assert "401" in str(caught.value)
    assert "token invalid or expired" in str(caught.value)
    assert "not-a-token-at-all" not in str(caught.value)
    assert requests_to(fresh, STOCK) == 1


def test_oauth_client_credentials_form(fresh: SimServer, truth: Path) -> None:
    auth = {
        "type": "token",
        "token_url": TOKEN,
        "form": True,
        "body": {
            "grant_type": "client_credentials",
            "client_id": APP_KEY,
            "client_secret": APP_SECRET,
        },
        "token_path": "data.accessToken",
    }
    with connector(fresh.url, style(fresh), auth=auth) as mes:
        assert_stock_is_the_truth(records(mes.stock()), truth)


# --- errors and faults --------------------------------------------------------------


def test_a_business_error_in_http_200_is_a_protocol_error_with_the_message(
    fresh: SimServer,
) -> None:
    pagination = {**PAGINATION[style(fresh)], "size": 501}
    with connector(fresh.url, style(fresh), pagination=pagination) as mes:
        with pytest.raises(ProtocolError) as caught:
            records(mes.stock())
        assert mes.check().state is CheckState.OK  # check asks for one row
    assert "code 4001" in str(caught.value)
    assert "超过上限 500" in str(caught.value)
    assert requests_to(fresh, STOCK) == 2  # not retried (plus the check)


@pytest.mark.parametrize(
    "knobs",
    [
        {"error_rate": 0.3},
        {"throttle_rate": 0.3, "retry_after": 0},
        {"latency": 0.02},
        {"drop_rate": 0.25},
        {"truncate_rate": 0.25},
    ],
    ids=["error", "throttle", "latency", "drop", "truncate"],
)
def test_each_fault_ends_in_the_exact_result(
    fresh: SimServer, truth: Path, knobs: dict[str, float]
) -> None:
    fresh.faults.update(**knobs)
    pagination = {**PAGINATION[style(fresh)], "size": 20}
    with connector(
        fresh.url,
        style(fresh),
        retry_attempts=12,
        retry_max_wait=0.01,
        pagination=pagination,
    ) as mes:
        stock = records(mes.stock())
        moved = records(mes.movements(None, lookback=timedelta(0)))
    assert_stock_is_the_truth(stock, truth)
    assert_movements_are_the_truth(moved, truth_movements(truth))
    clean = 1 + math.ceil(len(stock) / 20) + math.ceil(len(moved) / 20)
    if "latency" in knobs:
        assert len(fresh.requests) == clean
    else:  # the faults happened, and were retried
        assert len(fresh.requests) > clean


def test_a_fault_that_does_not_pass_is_a_clear_transient_error(
    fresh: SimServer,
) -> None:
    fresh.faults.update(error_rate=1.0)
    with connector(fresh.url, style(fresh), retry_attempts=3) as mes:
        with pytest.raises(TransientError) as caught:
            records(mes.stock())
        assert mes.check().state is CheckState.UNREACHABLE
    assert "simulated fault" in str(caught.value)
    assert requests_to(fresh, TOKEN, "POST") == 3 + 1


def test_a_reply_slower_than_the_timeout_is_transient(fresh: SimServer) -> None:
    fresh.faults.update(latency=0.5)
    mes = connector(fresh.url, style(fresh), timeout=0.1, retry_attempts=2)
    with mes, pytest.raises(TransientError) as caught:
        records(mes.stock())
    assert "timed out" in str(caught.value).lower()


def test_check_states(fresh: SimServer) -> None:
    with connector(fresh.url, style(fresh)) as mes:
        ok = mes.check()
    assert (ok.state, ok.detail) == (CheckState.OK, f"{STOCK} answers")
    options = source_options(fresh.url, style(fresh))
    options["streams"]["stock"]["path"] = "/api/v1/nothing"
    settings = MesRestSettings.model_validate(options)
    with MesRestConnector("mes", settings, timezone="Asia/Shanghai") as missing:
        result = missing.check()
    assert result.state is CheckState.PROTOCOL_ERROR
    assert "404" in result.detail
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with connector(f"http://127.0.0.1:{closed}", style(fresh)) as nowhere:
        assert nowhere.check().state is CheckState.UNREACHABLE


# --- the whole path: config, sync, store ----------------------------------------------


@pytest.fixture(scope="module")
def page_server(
    truth: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimServer]:
    """One more server for the tests that need one style only."""
    work = tmp_path_factory.mktemp("mes_rest_conn_page")
    with start_mes_rest(truth, work, app_key=APP_KEY, app_secret=APP_SECRET) as started:
        yield started


def test_sync_end_to_end_loads_the_truth(
    page_server: SimServer, truth: Path, sqlite_url: str
) -> None:
    options = source_options(page_server.url, "page")
    settings = Settings.model_validate(
        {"sources": {"mes": {"kind": "mes_rest", "lookback": "1h", **options}}}
    )
    engine = open_store(sqlite_url)
    try:
        stock_run = sync_stream(engine, settings, "mes", Stream.STOCK)
        moves_run = sync_stream(engine, settings, "mes", Stream.MOVEMENTS)
        again = sync_stream(engine, settings, "mes", Stream.MOVEMENTS)
        with engine.connect() as conn:
            loaded = conn.execute(
                select(
                    movement_table.c.site,
                    movement_table.c.warehouse,
                    movement_table.c.material,
                    movement_table.c.batch,
                    movement_table.c.quantity,
                ).where(movement_table.c.source == "mes")
            ).all()
            count = conn.execute(
                select(func.count()).select_from(movement_table)
            ).scalar_one()
    finally:
        engine.dispose()
    for run in (stock_run, moves_run, again):
        assert run.status == "succeeded", run.error
        assert run.pulled == run.loaded + run.rejected
    assert stock_run.rejected == moves_run.rejected == 0
    assert stock_run.loaded == len(truth_stock(truth))
    expected = truth_movements(truth)
    assert moves_run.loaded == count == len(expected)
    assert again.pulled >= 1  # the look-back re-read, deduplicated by key
    sums: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
    for site, warehouse, material, batch, quantity in loaded:
        sums[(site, warehouse, material, batch)] += quantity
    want: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
    for e in expected.values():
        want[(e["site"], e["warehouse"], e["material"], e["batch"])] += e["quantity"]
    assert sums == want


def test_typos_in_the_source_are_config_errors_with_id_paths() -> None:
    options = source_options("http://127.0.0.1:9")
    options["streams"]["stock"]["fields"]["materal"] = options["streams"]["stock"][
        "fields"
    ].pop("material")
    options["pagination"] = {"style": "cursor", "items_path": "items"}
    settings = Settings.model_validate(
        {"sources": {"mes": {"kind": "mes_rest", **options}}}
    )
    with pytest.raises(ConfigError) as caught:
        settings.source_settings("mes", MesRestSettings)
    text = str(caught.value)
    assert "sources.mes.streams.stock.fields" in text
    assert "did you mean 'material'?" in text
    assert "sources.mes.pagination" in text
    assert "add next_path" in text


def test_unreadable_rows_are_kept_with_their_reason(page_server: SimServer) -> None:
    options = source_options(page_server.url)
    options["streams"]["stock"]["fields"]["quantity"] = (
        "materialName"  # text, not a number
    )
    settings = MesRestSettings.model_validate(options)
    with MesRestConnector("mes", settings, timezone="Asia/Shanghai") as mes:
        found = records(mes.stock())
    assert found
    assert all(isinstance(r, UnreadableRecord) for r in found)
    assert "quantity (materialName) is not a number" in found[0].reason
    assert found[0].raw["qty"]


def test_a_movements_fan_out_keeps_a_position_per_factory(
    page_server: SimServer, truth: Path
) -> None:
    expected = truth_movements(truth)
    sites = sorted({e["site"] for e in expected.values()})
    assert len(sites) > 1
    options = source_options(page_server.url)
    options["streams"]["movements"]["fan_out"] = {
        "param": "factoryCode",
        "values": sites,
    }
    settings = MesRestSettings.model_validate(options)
    with MesRestConnector("mes", settings, timezone="Asia/Shanghai") as mes:
        pages = list(mes.movements(None, lookback=timedelta(0)))
        assert_movements_are_the_truth(records(iter(pages)), expected)
        final = json.loads(pages[-1].cursor or "")["positions"]
        assert set(final) == {f"factoryCode={site}" for site in sites}
        middle = len(pages) // 2
        saved = pages[middle].cursor or ""
        resumed = records(mes.movements(saved, lookback=timedelta(0)))
    committed = {
        (r.document, r.line): r for p in pages[: middle + 1] for r in p.records
    }
    committed.update({(r.document, r.line): r for r in resumed})
    assert_movements_are_the_truth(list(committed.values()), expected)
    positions = json.loads(saved)["positions"]
    for label, position in positions.items():
        site = label.split("=")[1]
        assert all(
            r.raw["createTime"] >= position["value"] for r in resumed if r.site == site
        )
