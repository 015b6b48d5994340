"""`kind: jiandaoyun` against the 简道云 v5 simulator over real sockets, checked against the truth.

The simulated form is the line-side stock count of site 1000; the oracle is
the truth's `stock` rows of system `mes`, site 1000.
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from stockbridge.config.errors import ConfigError
from stockbridge.config.models import Settings
from stockbridge.connectors.base import CheckState, Stream
from stockbridge.connectors.errors import AuthError
from stockbridge.connectors.jiandaoyun import JiandaoyunConnector, JiandaoyunSettings
from stockbridge.mapping.model import StockRecord
from stockbridge.simulators.http_server import SimServer
from stockbridge.simulators.jiandaoyun import (
    DEFAULT_APP_ID,
    DEFAULT_ENTRY_ID,
    STOCK_COUNT_WIDGETS,
    start_jiandaoyun,
)
from stockbridge.simulators.truth import generate
from stockbridge.store.database import open_store
from stockbridge.store.schema import stock_lines
from stockbridge.sync.runner import sync_stream

API_KEY = "jdy-Key-0123456789abcdef"
PATH = "/api/v5/app/entry/data/list"
W = {widget.column: widget.name for widget in STOCK_COUNT_WIDGETS}
UNIT_NAMES = {"H87": "个", "KGM": "千克", "MTR": "米", "LTR": "升"}
FIELDS = {
    "site": W["factory"],
    "warehouse": W["warehouse"],
    "material": W["material"],
    "batch": W["lot"],
    "quantity": W["qty"],
    "unit": W["unit"],
    "as_of": W["counted_at"],
}


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("jdy_conn_truth") / "truth.sqlite"
    generate(path, seed=7, materials=15, days=4)
    return path


def truth_counts(truth: Path) -> dict[tuple[str, str], tuple[Decimal, str, str]]:
    """(material, batch) -> (quantity, Chinese unit name, base unit) of MES stock at 1000."""
    with closing(sqlite3.connect(truth)) as conn:
        rows = conn.execute(
            "SELECT s.material, s.batch, s.quantity, m.base_unit FROM stock s"
            " JOIN materials m USING (material) WHERE s.system = 'mes' AND s.site = '1000'"
        ).fetchall()
    assert len(rows) > 4
    return {(m, b): (Decimal(q), UNIT_NAMES[u], u) for m, b, q, u in rows}


def options(url: str, **changes: Any) -> dict[str, Any]:
    return {
        "url": url,
        "api_key": API_KEY,
        "app_id": DEFAULT_APP_ID,
        "entry_id": DEFAULT_ENTRY_ID,
        "limit": 2,
        "retry_attempts": 10,
        "retry_max_wait": 0.3,
        "stock": {"fields": FIELDS, "defaults": {"status": "unrestricted"}},
        **changes,
    }


def connector(url: str, **changes: Any) -> JiandaoyunConnector:
    settings = JiandaoyunSettings.model_validate(options(url, **changes))
    return JiandaoyunConnector("counts", settings, timezone="Asia/Shanghai")


def pull(mes: JiandaoyunConnector) -> list[StockRecord]:
    found = [record for page in mes.stock() for record in page.records]
    assert all(isinstance(r, StockRecord) for r in found), found
    return found  # type: ignore[return-value]


def assert_counts_are_the_truth(found: list[StockRecord], truth: Path) -> None:
    keyed = {(r.material, r.batch): r for r in found}
    assert len(keyed) == len(found), "a record was emitted twice"
    expected = truth_counts(truth)
    assert keyed.keys() == expected.keys()
    for key, record in keyed.items():
        quantity, unit, _ = expected[key]
        assert (record.quantity, record.unit) == (quantity, unit)
        assert (record.site, record.warehouse, record.status) == (
            "1000",
            "LS01",
            "unrestricted",
        )
        assert record.as_of.isoformat() == "2026-03-31T16:00:00+00:00"


def data_calls(server: SimServer) -> int:
    return sum(
        1 for method, path in server.requests if (method, path) == ("POST", PATH)
    )


@pytest.fixture(scope="module")
def server(
    truth: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimServer]:
    """A form whose rate limit the functional tests never reach."""
    work = tmp_path_factory.mktemp("jdy_conn_work")
    with start_jiandaoyun(truth, work, api_key=API_KEY, rate_limit=10_000) as started:
        yield started


@pytest.fixture
def fresh(server: SimServer) -> SimServer:
    server.requests.clear()
    return server


def test_data_id_paging_reads_the_form_once_and_equals_the_truth(
    fresh: SimServer, truth: Path
) -> None:
    with connector(fresh.url, limit=2) as form:
        found = pull(form)
    assert_counts_are_the_truth(found, truth)
    # Pages of 2 until a short one; one more (empty) call when the count is even.
    assert data_calls(fresh) == len(found) // 2 + 1


def test_a_page_of_a_hundred_reads_everything_in_one_call(
    fresh: SimServer, truth: Path
) -> None:
    with connector(fresh.url, limit=100) as form:
        assert_counts_are_the_truth(pull(form), truth)
    assert data_calls(fresh) == 1


def test_a_limit_over_a_hundred_is_a_config_error() -> None:
    settings = Settings.model_validate(
        {
            "sources": {
                "counts": {
                    "kind": "jiandaoyun",
                    **options("http://127.0.0.1:9", limit=101),
                }
            }
        }
    )
    with pytest.raises(ConfigError) as caught:
        settings.source_settings("counts", JiandaoyunSettings)
    assert "sources.counts.limit" in str(caught.value)
    assert "at most 100" in str(caught.value)


@pytest.mark.parametrize("status", [429, 400])
def test_the_rate_limit_answer_is_waited_out(
    truth: Path, tmp_path_factory: pytest.TempPathFactory, status: int
) -> None:
    """No budget on our side, 5 calls a second on theirs: 429 (or 400 with 8303) is retried."""
    work = tmp_path_factory.mktemp("jdy_conn_limited")
    with start_jiandaoyun(
        truth, work, api_key=API_KEY, rate_limit=5, rate_limit_status=status
    ) as limited:
        with connector(limited.url, limit=1, rate_per_second=None) as form:
            found = pull(form)
        assert_counts_are_the_truth(found, truth)
        assert (
            data_calls(limited) > len(found) + 1
        )  # some calls were refused, then retried


def test_the_rate_budget_stays_under_the_limit(
    truth: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    work = tmp_path_factory.mktemp("jdy_conn_budget")
    with start_jiandaoyun(truth, work, api_key=API_KEY, rate_limit=10) as limited:
        with connector(limited.url, limit=1, rate_per_second=8) as form:
            found = pull(form)
        assert_counts_are_the_truth(found, truth)
        assert data_calls(limited) == len(found) + 1  # never refused


def test_the_default_budget_is_the_published_limit() -> None:
    settings = JiandaoyunSettings.model_validate(options("http://127.0.0.1:9"))
    assert settings.rate_per_second == 30
    assert settings.as_mes_rest().rate_per_second == 30


def test_a_wrong_api_key_is_an_auth_error_after_one_call(fresh: SimServer) -> None:
    form = connector(fresh.url, api_key="jdy-wrong-key-000")
    with form, pytest.raises(AuthError) as caught:
        pull(form)
    assert "401" in str(caught.value)
    assert "Invalid API key." in str(caught.value)
    assert "jdy-wrong-key-000" not in str(caught.value)
    assert data_calls(fresh) == 1


def test_check_states(fresh: SimServer) -> None:
    with connector(fresh.url) as form:
        assert form.check().state is CheckState.OK
    with connector(fresh.url, api_key="jdy-wrong-key-000") as form:
        assert form.check().state is CheckState.AUTH_FAILED
    with connector(fresh.url, entry_id="000000000000000000000000") as form:
        result = form.check()
    assert result.state is CheckState.PROTOCOL_ERROR
    assert "400" in result.detail
    assert "code 1: The request is invalid." in result.detail
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with connector(f"http://127.0.0.1:{closed}") as form:
        assert form.check().state is CheckState.UNREACHABLE


def test_a_filter_is_sent_to_the_api(fresh: SimServer, truth: Path) -> None:
    lot = next(batch for _, batch in truth_counts(truth) if batch)
    stock = {
        "fields": FIELDS,
        "defaults": {"status": "unrestricted"},
        "filter": {
            "rel": "and",
            "cond": [{"field": W["lot"], "method": "eq", "value": [lot]}],
        },
    }
    with connector(fresh.url, stock=stock) as form:
        found = pull(form)
    assert [r.batch for r in found] == [lot]


def test_sync_loads_the_counts_in_base_units(
    fresh: SimServer, truth: Path, sqlite_url: str
) -> None:
    settings = Settings.model_validate(
        {"sources": {"counts": {"kind": "jiandaoyun", **options(fresh.url, limit=100)}}}
    )
    engine = open_store(sqlite_url)
    try:
        run = sync_stream(engine, settings, "counts", Stream.STOCK)
        with engine.connect() as conn:
            rows = conn.execute(
                select(stock_lines.c.material, stock_lines.c.batch, stock_lines.c.quantity,
                       stock_lines.c.unit)
            ).all()  # fmt: skip
    finally:
        engine.dispose()
    assert (run.status, run.rejected) == ("succeeded", 0), run.error
    assert run.pulled == run.loaded == len(rows)
    expected = truth_counts(truth)
    assert {(m, b): (q, u) for m, b, q, u in rows} == {
        key: (quantity, base) for key, (quantity, _, base) in expected.items()
    }
