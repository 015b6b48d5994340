"""`kind: k3cloud` against the K3 Cloud simulator over real sockets, and through a sync.

Two truths: a generated one (the oracle for stock and every movement form)
and a small hand-made one for the edges: a receipt posted late and entered
before the watermark, a voided and an unaudited receipt, a transfer and the
red-ink transfer that cancels it. Unaudited and voided bills are not emitted:
K3 says they did not move stock.
"""

from __future__ import annotations

import base64
import socket
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from stockbridge.config.models import Settings
from stockbridge.connectors.base import CheckState, Page, Stream
from stockbridge.connectors.errors import (
    AuthError,
    SourceConfigError,
    TransientError,
)
from stockbridge.connectors.k3cloud import K3CloudConnector, K3CloudSettings
from stockbridge.mapping.model import MovementRecord, StockRecord, UnreadableRecord
from stockbridge.mapping.units import UnitResolver
from stockbridge.simulators.http_server import SimServer
from stockbridge.simulators.k3cloud import start_k3cloud
from stockbridge.simulators.truth import generate
from stockbridge.simulators.truth_schema import TRUTH_DDL
from stockbridge.store.database import open_store
from stockbridge.store.schema import current_snapshots, movements, stock_lines
from stockbridge.sync.runner import sync_stream

ACCT, USER, PASSWORD = "6548e1b1f3a7a1", "stockbridge", "Kd@2026!"
APP_ID = "299961_" + base64.b64encode(bytes(range(40, 64))).decode()
APP_SECRET = "a3f5c1e8b2d94f6a8c7e1b0d2f4a6c8e"
ZONE = "Asia/Shanghai"
NO_LOOKBACK = timedelta(0)
FORM_KIND = {
    "STK_InStock": "receipt",
    "PRD_PickMtrl": "production_issue",
    "PRD_INSTOCK": "production_receipt",
    "SAL_OUTSTOCK": "sales_issue",
    "STK_MisDelivery": "issue",
    "STK_MISCELLANEOUS": "receipt",
    "STK_TransferDirect": "transfer",
    "STK_StockCountGain": "adjustment",
    "STK_StockCountLoss": "adjustment",
}
# The canonical kind a truth kind (or, for a red-ink line, the kind it reverses)
# shows as, given the form it is entered on.
TRUTH_KIND = {
    "receipt": "receipt",
    "production_issue": "production_issue",
    "production_receipt": "production_receipt",
    "sales_issue": "sales_issue",
    "issue": "issue",
    "scrap": "issue",
    "adjustment": "adjustment",
    "transfer": "transfer",
}
Key = tuple[str, str, str, str]


def settings(server: SimServer, **changes: Any) -> K3CloudSettings:
    values: dict[str, Any] = {
        "url": f"{server.url}/k3cloud",
        "acct_id": ACCT,
        "username": USER,
        "app_id": APP_ID,
        "app_secret": APP_SECRET,
        "page_size": 40,
        "timezone": ZONE,
        "retry_attempts": 30,
        "retry_max_wait": 0.01,
        **changes,
    }
    return K3CloudSettings.model_validate(values)


def connector(server: SimServer, **changes: Any) -> K3CloudConnector:
    return K3CloudConnector("k3", settings(server, **changes), timezone=ZONE)


def pull(
    conn: K3CloudConnector, cursor: str | None = None, lookback: timedelta = NO_LOOKBACK
) -> list[Page]:
    with conn:
        return list(conn.movements(cursor, lookback=lookback))


def records(pages: list[Page]) -> list[MovementRecord]:
    found = [r for p in pages for r in p.records]
    assert all(isinstance(r, MovementRecord) for r in found), found
    return [r for r in found if isinstance(r, MovementRecord)]


def keyed(found: list[MovementRecord]) -> dict[tuple[str, str], MovementRecord]:
    by_key = {(r.document, r.line): r for r in found}
    assert len(by_key) == len(found), "movement keys must be unique"
    return by_key


def truth_rows(truth: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(truth)) as db:
        return db.execute(sql).fetchall()


def sent(server: SimServer) -> list[str]:
    """The WebAPI methods asked since the log was last cleared."""
    return [path.split(".")[-3] for _, path in server.requests]


def knobs(server: SimServer, **changes: object) -> None:
    reply = requests.post(f"{server.url}/_sim/faults", json=changes, timeout=10)
    assert reply.status_code == 200, reply.text


# --- the generated truth ------------------------------------------------------------


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("k3c-truth") / "truth.sqlite"
    generate(path, seed=11, materials=20, days=10)
    return path


@pytest.fixture(scope="module")
def k3(truth: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimServer]:
    server = start_k3cloud(
        truth,
        tmp_path_factory.mktemp("k3c-work"),
        acct_id=ACCT,
        username=USER,
        password=PASSWORD,
        app_id=APP_ID,
        app_secret=APP_SECRET,
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def full(k3: SimServer) -> list[Page]:
    return pull(connector(k3))


def expected_movements(truth: Path) -> Counter[tuple[object, ...]]:
    """Every effective truth line as (bill, kind, material, warehouse, batch, status, qty)."""
    want: Counter[tuple[object, ...]] = Counter()
    for doc, kind, m, w, b, s, q, basis, basis_q in truth_rows(
        truth,
        "SELECT l.document, l.kind, l.material, l.warehouse, l.batch, l.status,"
        " l.quantity, o.kind, o.quantity FROM movements l"
        " LEFT JOIN movements o ON o.id = l.reverses"
        " WHERE l.system = 'k3cloud' AND l.effective = 1",
    ):
        of, of_qty = (
            (basis, Decimal(basis_q)) if kind == "reversal" else (kind, Decimal(q))
        )
        shown = TRUTH_KIND.get(of) or ("receipt" if of_qty > 0 else "issue")  # a return
        want[(doc, shown, m, w, b, s, Decimal(q))] += 1
    return want


def test_full_movement_pull_equals_the_truth(truth: Path, full: list[Page]) -> None:
    found = keyed(records(full))
    got: Counter[tuple[object, ...]] = Counter()
    for (document, _), r in found.items():
        form, _, bill = document.partition(":")
        assert r.kind.value == FORM_KIND[form]
        assert r.site == "3000"
        assert r.posted_at.tzinfo is not None
        assert r.entered_at is not None
        got[
            (bill, r.kind.value, r.material, r.warehouse, r.batch, r.status, r.quantity)
        ] += 1
    assert got == expected_movements(truth)
    unaudited = truth_rows(
        truth,
        "SELECT document FROM movements WHERE system = 'k3cloud' AND effective = 0",
    )
    assert unaudited
    assert not {d for (d,) in unaudited} & {b for (b, *_) in got}
    red_ink = [
        r
        for r in found.values()
        if (r.kind.value, r.quantity > 0)
        in {("receipt", False), ("production_receipt", False), ("sales_issue", True)}
        or (r.kind.value, r.quantity > 0)
        in {("production_issue", True), ("issue", True)}
    ]
    assert red_ink, "the truth has red-ink bills: they carry their own sign"


def test_pages_are_bounded_and_carry_a_cursor(full: list[Page]) -> None:
    assert len(full) > 3
    assert all(0 < len(p.records) <= 40 and p.cursor for p in full)


def on_hand(pages: list[Page]) -> dict[tuple[str, ...], tuple[Decimal, Decimal]]:
    got: dict[tuple[str, ...], tuple[Decimal, Decimal]] = {}
    for r in (r for p in pages for r in p.records):
        assert isinstance(r, StockRecord)
        assert r.special_stock == ""
        key = (r.material, r.site, r.warehouse, r.batch, r.status)
        assert key not in got
        got[key] = (r.quantity, r.reserved)
    return got


def truth_stock(truth: Path) -> dict[tuple[str, ...], tuple[Decimal, Decimal]]:
    return {
        (m, site, w, b, s): (Decimal(q), Decimal(res))
        for m, site, w, b, s, q, res in truth_rows(
            truth,
            "SELECT material, site, warehouse, batch, status, quantity, reserved"
            " FROM stock WHERE system = 'k3cloud'",
        )
    }


def test_stock_equals_the_truth(k3: SimServer, truth: Path) -> None:
    with connector(k3) as conn:
        pages = list(conn.stock())
    assert len(pages) > 1
    assert all(len(p.records) <= 40 for p in pages)
    units = UnitResolver(("cn",))
    base = dict(truth_rows(truth, "SELECT material, base_unit FROM materials"))
    for r in (r for p in pages for r in p.records):
        assert isinstance(r, StockRecord)
        assert units.resolve(r.unit) == base[r.material]
    got = on_hand(pages)
    assert got == truth_stock(truth)
    assert any(q == 0 for q, _ in got.values())
    assert any(r > 0 for _, r in got.values())


@pytest.mark.parametrize("auth", ["sign", "app_secret", "password", "signed_headers"])
def test_every_login_mode_reads_the_same(
    k3: SimServer, full: list[Page], auth: str
) -> None:
    extra: dict[str, Any] = {"auth": auth}
    if auth == "password":
        extra |= {"password": PASSWORD, "app_id": None, "app_secret": None}
    conn = connector(k3, **extra)
    assert conn.check().state is CheckState.OK
    assert keyed(records(pull(conn))) == keyed(records(full))


def test_resume_from_a_cursor_saved_mid_way(k3: SimServer, full: list[Page]) -> None:
    middle = len(full) // 2
    before = keyed(records(full[: middle + 1]))
    after = keyed(records(full[middle + 1 :]))
    resumed = keyed(records(pull(connector(k3), full[middle].cursor)))
    assert set(after) <= set(resumed)
    again = set(resumed) - set(after)
    # Only the other leg of a transfer entry split across the page boundary.
    assert all(line.endswith("-out") for _, line in again)
    assert {(d, line.replace("-out", "-in")) for d, line in again} <= set(after)
    assert set(before) | set(resumed) == set(keyed(records(full)))


def test_incremental_reads_only_newer_rows_plus_the_lookback(
    k3: SimServer, full: list[Page]
) -> None:
    end = full[-1].cursor
    assert pull(connector(k3), end) == []
    lookback = timedelta(days=1)
    pages = pull(connector(k3), end, lookback)
    assert {p.cursor for p in pages} == {end}, "a re-read never moves the cursor back"
    overlap = keyed(records(pages))
    everything = keyed(records(full))
    audited = {key: r.entered_at for key, r in everything.items() if r.entered_at}
    assert len(audited) == len(everything)
    newest: dict[str, datetime] = {}
    for (document, _), at in audited.items():
        form = document.partition(":")[0]
        newest[form] = max(at, newest.get(form, at))
    want = {
        key
        for key, at in audited.items()
        if at >= newest[key[0].partition(":")[0]] - lookback
    }
    assert overlap.keys() == want
    assert 0 < len(want) < len(everything)


def test_a_saved_cursor_of_another_shape_is_a_config_error(k3: SimServer) -> None:
    with pytest.raises(SourceConfigError, match="full sync"):
        pull(connector(k3), '{"v": 9, "forms": {}}')


# --- credentials, check and faults ------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "method"),
    [
        ({"app_secret": "0" * 32}, "LoginBySign"),
        ({"auth": "app_secret", "app_secret": "0" * 32}, "LoginByAppSecret"),
        (
            {"password": "wrong", "app_id": None, "app_secret": None},
            "ValidateUser",
        ),
        ({"acct_id": "000000"}, "LoginBySign"),
        ({"auth": "signed_headers", "app_secret": "0" * 32}, "ExecuteBillQuery"),
        ({"auth": "signed_headers", "acct_id": "000000"}, "ExecuteBillQuery"),
    ],
)
def test_bad_credentials_are_an_auth_error_not_retried(
    k3: SimServer, changes: dict[str, Any], method: str
) -> None:
    k3.requests.clear()
    with pytest.raises(AuthError) as raised:
        pull(connector(k3, retry_attempts=5, **changes))
    assert sent(k3) == [method]
    text = str(raised.value)
    assert APP_SECRET not in text
    assert "0" * 32 not in text
    assert "wrong" not in text


def test_check_states(k3: SimServer) -> None:
    assert connector(k3).check().state is CheckState.OK
    bad = connector(k3, app_secret="0" * 32).check()
    assert bad.state is CheckState.AUTH_FAILED
    assert "签名验证失败" in bad.detail
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    gone = K3CloudSettings.model_validate(
        {**settings(k3).model_dump(), "url": f"http://127.0.0.1:{closed}/k3cloud"}
    )
    assert (
        K3CloudConnector("k3", gone, timezone=ZONE).check().state
        is CheckState.UNREACHABLE
    )
    wrong_path = connector(k3, url=f"{k3.url}/not-k3cloud").check()
    assert wrong_path.state is CheckState.PROTOCOL_ERROR


@pytest.mark.parametrize(
    "fault",
    [
        {"error_rate": 0.3},
        {"throttle_rate": 0.3, "retry_after": 0},
        {"latency": 0.01},
        {"drop_rate": 0.2},
        {"truncate_rate": 0.3},
        {"session_expiry_calls": 2},
    ],
    ids=lambda f: next(iter(f)),
)
def test_each_fault_ends_in_the_exact_result(
    k3: SimServer,
    full: list[Page],
    truth: Path,
    fault: dict[str, object],
    caplog: pytest.LogCaptureFixture,
) -> None:
    knobs(k3, seed=5, **fault)
    k3.requests.clear()
    try:
        conn = connector(k3)
        got = keyed(records(pull(conn)))
        with conn:
            stock = on_hand(list(conn.stock()))
    finally:
        knobs(
            k3, error_rate=0, throttle_rate=0, retry_after=1, latency=0,
            drop_rate=0, truncate_rate=0, session_expiry_calls=0,
        )  # fmt: skip
    assert got == keyed(records(full))
    assert stock == truth_stock(truth)
    if "session_expiry_calls" in fault:
        logins = sent(k3).count("LoginBySign")
        assert logins > 5
        assert sent(k3).count("ExecuteBillQuery") <= 3 * logins
    elif "latency" not in fault:
        assert "retrying" in caplog.text, "the fault never struck"


def test_a_fault_that_does_not_pass_is_a_clear_transient_error(k3: SimServer) -> None:
    knobs(k3, error_rate=1)
    try:
        with pytest.raises(TransientError, match=r"LoginBySign.*answered 5"):
            pull(connector(k3, retry_attempts=3))
    finally:
        knobs(k3, error_rate=0)


# --- a sync, end to end ------------------------------------------------------------------


def test_sync_loads_stock_and_movements_that_sum_to_the_truth(
    k3: SimServer, truth: Path, sqlite_url: str
) -> None:
    config = Settings.model_validate(
        {
            "store": sqlite_url,
            "sources": {
                "k3": {
                    "kind": "k3cloud",
                    "url": f"{k3.url}/k3cloud",
                    "acct_id": ACCT,
                    "username": USER,
                    "app_id": APP_ID,
                    "app_secret": APP_SECRET,
                    "page_size": 50,
                }
            },
        }
    )
    engine = open_store(sqlite_url)
    try:
        for stream in (Stream.STOCK, Stream.MOVEMENTS):
            run = sync_stream(engine, config, "k3", stream)
            assert run.status == "succeeded", run.error
            assert run.pulled == run.loaded + run.rejected
            assert (run.rejected, run.pulled > 0) == (0, True)
        with engine.connect() as conn:
            moved: defaultdict[Key, Decimal] = defaultdict(Decimal)
            units: dict[str, str] = {}
            for m, w, b, s, q, unit in conn.execute(
                select(
                    movements.c.material, movements.c.warehouse, movements.c.batch,
                    movements.c.status, movements.c.quantity, movements.c.unit,
                )
            ):  # fmt: skip
                moved[(m, w, b, s)] += q
                units[m] = unit
            snapshot = conn.execute(
                select(current_snapshots.c.snapshot_id)
            ).scalar_one()
            on_hand = {
                (m, w, b, s): q
                for m, w, b, s, q in conn.execute(
                    select(
                        stock_lines.c.material, stock_lines.c.warehouse,
                        stock_lines.c.batch, stock_lines.c.status,
                        stock_lines.c.quantity,
                    ).where(stock_lines.c.snapshot_id == snapshot)
                )
            }  # fmt: skip
    finally:
        engine.dispose()
    want: defaultdict[Key, Decimal] = defaultdict(Decimal)
    for m, w, b, s, q in truth_rows(
        truth,
        "SELECT material, warehouse, batch, status, quantity FROM movements"
        " WHERE system = 'k3cloud' AND effective = 1",
    ):
        want[(m, w, b, s)] += Decimal(q)
    assert {k: v for k, v in moved.items() if v} == {k: v for k, v in want.items() if v}
    base = dict(truth_rows(truth, "SELECT material, base_unit FROM materials"))
    assert all(units[m] == base[m] for m in units)
    stock = {
        (m, w, b, s): Decimal(q)
        for m, w, b, s, q in truth_rows(
            truth,
            "SELECT material, warehouse, batch, status, quantity FROM stock"
            " WHERE system = 'k3cloud'",
        )
    }
    assert on_hand == stock


# --- edges: a late receipt, voided and unaudited bills, a red-ink transfer ---------------

T0 = "2026-03-01T01:00:00+00:00"
RECEIPTS = 30


def _line(
    mid: int, spec: str, *, entered: str = T0, unit: str = "KGM", **extra: Any
) -> tuple[object, ...]:
    """A k3cloud truth row from 'document line kind material warehouse batch quantity'."""
    document, line, kind, material, warehouse, batch, quantity = spec.split()
    row = {"reverses": None, "effective": 1, "late": 0, "counterpart": None, **extra}
    return (
        mid, mid, "k3cloud", document, int(line), "", kind, material, "3000",
        warehouse, batch.strip("-"), "unrestricted", quantity, unit,
        quantity.removeprefix("-"), T0, entered, row["reverses"], "",
        row["effective"], row["late"], row["counterpart"],
    )  # fmt: skip


def _minute(n: int) -> str:
    return f"2026-03-01T01:{n:02d}:00+00:00"


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimServer]:
    path = tmp_path_factory.mktemp("k3c-edge") / "truth.sqlite"
    n = RECEIPTS
    lines = [
        _line(i, f"CGRK{i:05d} 1 receipt 200001 RM01 B1 2.5", entered=_minute(i))
        for i in range(1, n + 1)
    ]
    lines += [
        # Posted late, entered at minute 2: behind the watermark once it shows.
        _line(n + 1, "CGRK20001 1 receipt 200001 RM01 B1 12.5", entered=_minute(2), late=1),
        _line(n + 2, "CGRK20002 1 receipt 200001 RM01 B1 3", effective=0),
        _line(n + 3, "CGRK20003 1 receipt 200001 RM01 B1 7", effective=0),
        _line(n + 4, "ZJDB00001 1 transfer 200001 RM01 B1 -4", counterpart=n + 5),
        _line(n + 5, "ZJDB00001 2 transfer 200001 LS01 B1 4", counterpart=n + 4),
        _line(
            n + 6, "ZJDB00002 1 reversal 200001 RM01 B1 4",
            reverses=n + 4, counterpart=n + 7,
        ),
        _line(
            n + 7, "ZJDB00002 2 reversal 200001 LS01 B1 -4",
            reverses=n + 5, counterpart=n + 6,
        ),
    ]  # fmt: skip
    with closing(sqlite3.connect(path)) as db:
        db.executescript(TRUTH_DDL)
        db.execute("INSERT INTO meta VALUES (1, 1, 2, ?, ?, ?)", (T0, T0, len(lines)))
        db.execute(
            "INSERT INTO materials VALUES"
            " ('200001', '冷轧钢板', 'Steel sheet', 'KGM', '', '', 1, '0')"
        )
        db.execute("INSERT INTO sites VALUES ('3000', '苏州工厂', 'k3cloud')")
        db.executemany(
            "INSERT INTO warehouses VALUES ('3000', ?, ?, ?, 'k3cloud')",
            [("RM01", "原料仓", "main"), ("LS01", "线边仓", "line_side")],
        )
        db.executemany(f"INSERT INTO movements VALUES ({', '.join('?' * 22)})", lines)
        db.execute(
            "INSERT INTO discrepancies VALUES (1, 'unaudited_voucher', 'k3cloud', ?,"
            " '200001', '3000', 'RM01', 'B1', 'unrestricted', '7', 'not audited')",
            (n + 3,),
        )
        db.commit()
    server = start_k3cloud(
        path,
        tmp_path_factory.mktemp("k3c-edgework"),
        acct_id=ACCT,
        username=USER,
        password=PASSWORD,
        app_id=APP_ID,
        app_secret=APP_SECRET,
    )
    yield server
    server.stop()


def bills(found: list[MovementRecord]) -> set[str]:
    return {r.document.partition(":")[2] for r in found}


def test_only_audited_bills_and_both_legs_of_red_ink_transfers(edge: SimServer) -> None:
    pages = pull(connector(edge, page_size=7))
    assert all(len(p.records) <= 7 for p in pages)
    found = keyed(records(pages))
    assert len(found) == RECEIPTS + 1 + 4
    assert not bills(list(found.values())) & {"CGRK20002", "CGRK20003"}
    legs = sorted(
        (r.line[-3:].strip("-"), r.warehouse, r.quantity, r.batch)
        for r in found.values()
        if r.kind.value == "transfer"
    )
    assert legs == [
        ("in", "LS01", Decimal("-4"), "B1"),
        ("in", "LS01", Decimal("4"), "B1"),
        ("out", "RM01", Decimal("-4"), "B1"),
        ("out", "RM01", Decimal("4"), "B1"),
    ]


def test_a_late_posting_is_caught_by_the_lookback_only(edge: SimServer) -> None:
    knobs(edge, late_postings=True)
    try:
        first = pull(connector(edge))
    finally:
        knobs(edge, late_postings=False)
    assert "CGRK20001" not in bills(records(first))
    cursor = first[-1].cursor
    assert bills(records(pull(connector(edge), cursor))) == set()
    caught = records(pull(connector(edge), cursor, timedelta(hours=1)))
    assert "CGRK20001" in bills(caught)
    late = next(r for r in caught if r.document == "STK_InStock:CGRK20001")
    assert late.quantity == Decimal("12.5")
    assert not any(isinstance(r, UnreadableRecord) for r in caught)
