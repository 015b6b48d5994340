"""The JSON API over a real socket: every endpoint, every role, problem details."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from stockbridge.store.schema import api_tokens, audit_log

READS = [
    "/api/v1/stock",
    "/api/v1/conflicts",
    "/api/v1/runs",
    "/api/v1/sources",
    "/api/v1/rejects",
    "/api/v1/alerts",
    "/metrics",
]
ADMIN_READS = ["/api/v1/tokens", "/api/v1/audit"]


@pytest.mark.parametrize("path", READS + ADMIN_READS)
def test_no_token_is_401_problem(base_url, http, path):
    response = http.get(base_url + path)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["status"] == 401


def test_a_wrong_token_is_401(base_url, http):
    response = http.get(
        base_url + "/api/v1/stock", headers={"Authorization": "Bearer sb_nope"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize("path", READS)
@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_every_role_reads(base_url, http, bearer, path, role):
    assert http.get(base_url + path, headers=bearer(role)).status_code == 200


@pytest.mark.parametrize("path", ADMIN_READS)
@pytest.mark.parametrize(
    ("role", "status"), [("viewer", 403), ("operator", 403), ("admin", 200)]
)
def test_admin_reads_need_admin(base_url, http, bearer, path, role, status):  # noqa: PLR0917 - parametrized
    assert http.get(base_url + path, headers=bearer(role)).status_code == status


def test_stock_pages_filters_and_decimal_strings(base_url, http, bearer):
    everything = http.get(
        base_url + "/api/v1/stock", params={"limit": 1000}, headers=bearer("viewer")
    ).json()
    assert everything["total"] == len(everything["items"]) > 10
    first = http.get(
        base_url + "/api/v1/stock",
        params={"limit": 5, "offset": 0},
        headers=bearer("viewer"),
    ).json()
    second = http.get(
        base_url + "/api/v1/stock",
        params={"limit": 5, "offset": 5},
        headers=bearer("viewer"),
    ).json()
    assert first["items"] + second["items"] == everything["items"][:10]
    item = everything["items"][0]
    assert isinstance(item["quantity"], str)
    Decimal(item["quantity"])
    conflicts = http.get(
        base_url + "/api/v1/stock",
        params={"conflicts": "true"},
        headers=bearer("viewer"),
    ).json()
    assert (
        conflicts["total"] == sum(1 for i in everything["items"] if i["conflict"]) > 0
    )
    by_name = http.get(
        base_url + "/api/v1/stock", params={"q": item["name"]}, headers=bearer("viewer")
    ).json()
    assert {i["material"] for i in by_name["items"]} == {item["material"]}
    ordered = http.get(
        base_url + "/api/v1/stock",
        params={"sort": "quantity", "order": "desc", "limit": 1000},
        headers=bearer("viewer"),
    ).json()
    quantities = [Decimal(i["quantity"]) for i in ordered["items"]]
    assert quantities == sorted(quantities, reverse=True)


def test_bad_parameters_are_422_problems(base_url, http, bearer):
    response = http.get(
        base_url + "/api/v1/stock",
        params={"limit": 0, "sort": "nope"},
        headers=bearer("viewer"),
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert {tuple(e["loc"]) for e in response.json()["errors"]} == {
        ("query", "limit"),
        ("query", "sort"),
    }


def test_detail_of_a_conflict_explains_it(base_url, http, bearer):
    conflict = http.get(
        base_url + "/api/v1/stock",
        params={"conflicts": "true"},
        headers=bearer("viewer"),
    ).json()["items"][0]
    key = {
        k: conflict[k]
        for k in ("material", "site", "warehouse", "location", "batch", "status")
    }
    detail = http.get(
        base_url + "/api/v1/stock/detail", params=key, headers=bearer("viewer")
    ).json()
    assert detail["consolidated"] == conflict
    assert {
        s["source"]: s["quantity"]
        for s in detail["sources"]
        if s["source"] in conflict["sources"]
    } == conflict["sources"]
    assert detail["conflict"] is not None
    assert Decimal(detail["conflict"]["difference"]) != 0
    assert all(s["freshness"]["level"] == "green" for s in detail["sources"])
    assert detail["explain"]["key"] == key


def test_detail_of_an_unknown_key_is_404(base_url, http, bearer):
    response = http.get(
        base_url + "/api/v1/stock/detail",
        params={"material": "NOPE", "site": "x", "warehouse": "y"},
        headers=bearer("viewer"),
    )
    assert response.status_code == 404
    assert response.json()["title"] == "Not Found"


def test_sources_report_runs_and_freshness(base_url, http, bearer, demo):
    items = http.get(base_url + "/api/v1/sources", headers=bearer("viewer")).json()[
        "items"
    ]
    assert {i["source"] for i in items} == set(demo.settings.sources)
    for item in items:
        assert item["freshness"]["level"] == "green"
        assert {s["stream"] for s in item["streams"]} >= {"stock"}
        assert all(s["status"] == "succeeded" for s in item["streams"])


@pytest.mark.parametrize("role", ["viewer"])
def test_viewers_cannot_change_anything(base_url, http, bearer, role):
    assert (
        http.post(base_url + "/api/v1/sync", json={}, headers=bearer(role)).status_code
        == 403
    )
    assert (
        http.post(
            base_url + "/api/v1/rejects/retry", json={}, headers=bearer(role)
        ).status_code
        == 403
    )
    assert (
        http.post(
            base_url + "/api/v1/tokens", json={"role": "viewer"}, headers=bearer(role)
        ).status_code
        == 403
    )


def test_operator_triggers_a_sync_that_is_audited_and_runs(
    base_url, http, bearer, demo
):
    before = len(
        http.get(
            base_url + "/api/v1/runs", params={"limit": 1000}, headers=bearer("viewer")
        ).json()["items"]
    )
    response = http.post(
        base_url + "/api/v1/sync", json={"sources": ["u8"]}, headers=bearer("operator")
    )
    assert response.status_code == 202
    # The sync runs in the server's thread; wait on the runs it records.
    for _ in range(200):
        runs = http.get(
            base_url + "/api/v1/runs", params={"limit": 1000}, headers=bearer("viewer")
        ).json()["items"]
        if len(runs) > before and all(r["status"] != "running" for r in runs):
            break
        __import__("time").sleep(0.05)
    new = runs[: len(runs) - before]
    assert new
    assert {r["source"] for r in new} == {"u8"}
    assert (
        http.post(
            base_url + "/api/v1/sync",
            json={"sources": ["nope"]},
            headers=bearer("operator"),
        ).status_code
        == 422
    )
    with demo.engine.connect() as conn:
        entry = conn.execute(
            select(audit_log).where(audit_log.c.action == "sync.trigger")
        ).first()
    assert entry is not None
    assert entry.actor.startswith("token ")
    assert entry.remote_addr == "127.0.0.1"
    assert entry.target == "u8"


def test_operator_retries_rejects(base_url, http, bearer):
    response = http.post(
        base_url + "/api/v1/rejects/retry", json={}, headers=bearer("operator")
    )
    assert response.status_code == 200
    assert isinstance(response.json()["runs"], int)


def test_admin_creates_and_revokes_a_token_storing_only_its_hash(
    base_url, http, bearer, demo
):
    created = http.post(
        base_url + "/api/v1/tokens",
        json={"role": "viewer", "name": "tablet"},
        headers=bearer("admin"),
    )
    assert created.status_code == 201
    token = created.json()["token"]
    assert re.fullmatch(r"sb_[A-Za-z0-9_-]{43}", token)
    with demo.engine.connect() as conn:
        stored = conn.execute(select(api_tokens.c.token_hash)).scalars().all()
    assert token not in stored
    assert all(len(h) == 64 for h in stored)
    as_new = {"Authorization": f"Bearer {token}"}
    assert http.get(base_url + "/api/v1/stock", headers=as_new).status_code == 200
    assert (
        http.delete(
            base_url + f"/api/v1/tokens/{created.json()['id']}",
            headers=bearer("operator"),
        ).status_code
        == 403
    )
    assert (
        http.delete(
            base_url + f"/api/v1/tokens/{created.json()['id']}", headers=bearer("admin")
        ).status_code
        == 204
    )
    assert http.get(base_url + "/api/v1/stock", headers=as_new).status_code == 401
    assert (
        http.delete(
            base_url + f"/api/v1/tokens/{created.json()['id']}", headers=bearer("admin")
        ).status_code
        == 404
    )
    actions = [
        e["action"]
        for e in http.get(base_url + "/api/v1/audit", headers=bearer("admin")).json()[
            "items"
        ]
    ]
    assert "token.create" in actions
    assert "token.revoke" in actions


def test_metrics_and_healthz(base_url, http, bearer, demo):
    assert http.get(base_url + "/healthz").text == "ok"
    text = http.get(base_url + "/metrics", headers=bearer("viewer")).text
    for name in (
        "stockbridge_records_pulled_total",
        "stockbridge_records_loaded_total",
        "stockbridge_records_rejected_total",
        "stockbridge_run_duration_seconds_count",
        "stockbridge_last_success_timestamp_seconds",
        "stockbridge_open_conflicts",
        "stockbridge_alert_outbox_depth",
    ):
        assert name in text, name
    conflicts = http.get(
        base_url + "/api/v1/conflicts", headers=bearer("viewer")
    ).json()["total"]
    assert f"stockbridge_open_conflicts {float(conflicts)}" in text
    assert 'stockbridge_records_pulled_total{source="sap",stream="stock"}' in text
