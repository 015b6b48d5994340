"""A 简道云 (Jiandaoyun) form served through its v5 open API: a line-side stock count.

Plants often keep side records in 简道云 forms. This one holds the counting
team's line-side stock count of one site (default 1000): one record per
material and lot of the MES's line-side stock at the truth's `now`, units
written as the Chinese names people type (个, 千克, 米). Its fields are widgets
(`STOCK_COUNT_WIDGETS`), as in the real API unless aliased.

    POST /api/v5/app/entry/data/list        Authorization: Bearer <APIKEY>
    {"app_id", "entry_id", "fields": [...], "filter": {...}, "limit": 1..100,
     "data_id": "<_id of the last record seen>"}
    -> {"data": [{"_id", "appId", "entryId", "_widget_...": ..., ...}]}

Records come in `_id` order and `data_id` is exclusive: a client pages until
a page is shorter than its `limit` (default 10 [U]). `fields` empty or absent
returns every widget plus `createTime`/`updateTime`. Numbers are JSON
numbers (exact), datetimes UTC ISO strings with milliseconds.

Errors follow the official error table: HTTP 400 with `{"code", "msg"}`,
code 1 "The request is invalid." (bad body, unknown app or form, limit out of
range); more than `rate_limit` requests in one second: HTTP 429 (the status
the table gives for exceeding the limit; `rate_limit_status=400` gives the
400 form some gateways send) with code 8303 "超出请求频率限制". A wrong API
key is HTTP 401 `{"code": 401, ...}`, which the table does not list [U].
API keys do not expire and there are no movements, so the session and late
knobs do not apply.
"""

from __future__ import annotations

import hmac
import json
import os
import sqlite3
import threading
import time
from collections import deque
from contextlib import closing
from decimal import Decimal
from pathlib import Path

from stockbridge.simulators.http_server import Faults, Request, Response, SimServer
from stockbridge.simulators.jiandaoyun_filter import (
    Widget,
    filter_sql,
    jdy_time,
)
from stockbridge.simulators.json_numbers import json_body
from stockbridge.simulators.mes_rest_share import (
    open_share,
    share_is_current,
    truth_stamp,
)
from stockbridge.simulators.truth_share import CHINA, UNIT_NAMES, TruthShare

__all__ = [
    "DATA_LIST_PATH",
    "DEFAULT_APP_ID",
    "DEFAULT_ENTRY_ID",
    "MAX_LIMIT",
    "STOCK_COUNT_WIDGETS",
    "JiandaoyunApp",
    "RateLimiter",
    "build_jiandaoyun_share",
    "create_jiandaoyun_app",
    "start_jiandaoyun",
]

DATA_LIST_PATH = "/api/v5/app/entry/data/list"
DEFAULT_APP_ID = "64f1c2a9e4b0a1d2c3e4f501"
DEFAULT_ENTRY_ID = "64f1c2b7e4b0a1d2c3e4f5a2"
MAX_LIMIT = 100
DEFAULT_LIMIT = 10
_SHARE_VERSION = "1"
_ID_MIDDLE = "5e3f1c2a9b"  # an ObjectId's machine/process bytes

STOCK_COUNT_WIDGETS = (
    Widget("_widget_1616381880001", "factory", "工厂", "text"),
    Widget("_widget_1616381880002", "warehouse", "线边仓", "text"),
    Widget("_widget_1616381880003", "material", "物料编码", "text"),
    Widget("_widget_1616381880004", "name", "物料名称", "text"),
    Widget("_widget_1616381880005", "lot", "批次号", "text"),
    Widget("_widget_1616381880006", "qty", "盘点数量", "number"),
    Widget("_widget_1616381880007", "unit", "单位", "text"),
    Widget("_widget_1616381880008", "counted_at", "盘点时间", "datetime"),
)
"""The count form's fields; `lot` is '' for a material without batches."""
_WIDGETS = {widget.name: widget for widget in STOCK_COUNT_WIDGETS}

_DDL = """
CREATE TABLE share_meta (stamp TEXT NOT NULL);
CREATE TABLE records (
    id TEXT PRIMARY KEY, factory TEXT NOT NULL, warehouse TEXT NOT NULL,
    material TEXT NOT NULL, name TEXT NOT NULL, lot TEXT NOT NULL,
    qty TEXT NOT NULL, qty_milli INTEGER NOT NULL, unit TEXT NOT NULL,
    counted_at TEXT NOT NULL
) WITHOUT ROWID;
"""
_COLUMNS = ", ".join(widget.column for widget in STOCK_COUNT_WIDGETS)


def build_jiandaoyun_share(truth_path: Path, share_path: Path, site: str) -> Path:
    """Write (or keep, if current) the count form of `site` at `share_path`."""
    truth_path = Path(truth_path).resolve()
    stamp = truth_stamp(truth_path, f"{_SHARE_VERSION}:{site}")
    if share_is_current(share_path, stamp):
        return share_path
    share_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = share_path.with_name(f"{share_path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    with (
        TruthShare(truth_path, "mes", site) as truth,
        closing(sqlite3.connect(temporary)) as share,
    ):
        share.executescript(_DDL)
        materials = {m.material: m for m in truth.materials()}
        counted = truth.now_at.replace(tzinfo=CHINA)  # TruthShare gives local time
        epoch = int(counted.timestamp())
        share.executemany(
            "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    f"{epoch:08x}{_ID_MIDDLE}{number:06x}",
                    site,
                    balance.key[1],
                    balance.key[0],
                    materials[balance.key[0]].name,
                    balance.key[2],
                    f"{balance.quantity:f}",
                    int(balance.quantity * 1000),
                    UNIT_NAMES[materials[balance.key[0]].base_unit],
                    jdy_time(counted),
                )
                for number, balance in enumerate(truth.stock(), start=1)
            ),
        )
        share.execute("INSERT INTO share_meta VALUES (?)", (stamp,))
        share.commit()
    temporary.replace(share_path)
    return share_path


class _InvalidRequestError(ValueError):
    """A request body the API answers with code 1."""


class RateLimiter:
    """At most `per_second` admissions in any one-second window, in real time."""

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self._admitted: deque[float] = deque()
        self._lock = threading.Lock()

    def admit(self) -> bool:
        now = time.monotonic()
        with self._lock:
            while self._admitted and now - self._admitted[0] >= 1.0:
                self._admitted.popleft()
            if len(self._admitted) >= self.per_second:
                return False
            self._admitted.append(now)
            return True


def _error(status: int, code: int, msg: str) -> Response:
    return Response(
        status,
        json_body({"code": code, "msg": msg}),
        {"Content-Type": "application/json; charset=utf-8"},
    )


def _invalid() -> Response:
    return _error(400, 1, "The request is invalid.")


class JiandaoyunApp:
    """The v5 `data/list` endpoint of one app and form."""

    def __init__(
        self,
        share_path: Path,
        *,
        api_key: str,
        app_id: str = DEFAULT_APP_ID,
        entry_id: str = DEFAULT_ENTRY_ID,
        rate_limit: int = 30,
        rate_limit_status: int = 429,
    ) -> None:
        self.share_path = share_path
        self.app_id = app_id
        self.entry_id = entry_id
        self.limiter = RateLimiter(rate_limit)
        self.rate_limit_status = rate_limit_status
        self._api_key = api_key

    def __call__(self, request: Request) -> Response:
        if request.path.rstrip("/") != DATA_LIST_PATH:
            return _error(404, 404, "Not Found")
        if request.method != "POST":
            return _invalid()
        if not self.limiter.admit():
            return _error(self.rate_limit_status, 8303, "超出请求频率限制")
        scheme, _, key = request.header("authorization").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            key.strip().encode(), self._api_key.encode()
        ):
            return _error(401, 401, "Invalid API key.")
        try:
            body = json.loads(request.body or b"{}")
            records = self._records(body)
        except ValueError:  # bad JSON, _InvalidRequestError or FilterError
            return _invalid()
        return Response(
            200, json_body({"data": records}), {"Content-Type": "application/json"}
        )

    def _records(self, body: object) -> list[dict[str, object]]:
        if not isinstance(body, dict):
            raise _InvalidRequestError("body must be an object")
        if body.get("app_id") != self.app_id or body.get("entry_id") != self.entry_id:
            raise _InvalidRequestError("unknown app or form")
        limit = body.get("limit", DEFAULT_LIMIT)
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= MAX_LIMIT
        ):
            raise _InvalidRequestError(f"limit must be 1..{MAX_LIMIT}")
        fields = body.get("fields") or []
        if not isinstance(fields, list) or any(name not in _WIDGETS for name in fields):
            raise _InvalidRequestError("unknown field")
        data_id = body.get("data_id") or ""
        if not isinstance(data_id, str):
            raise _InvalidRequestError("data_id must be a string")
        condition, params = filter_sql(body.get("filter"), _WIDGETS)
        with closing(open_share(self.share_path)) as conn:
            rows = conn.execute(
                f"SELECT id, {_COLUMNS} FROM records WHERE id > ? AND ({condition})"  # noqa: S608 - fixed names
                " ORDER BY id LIMIT ?",
                [data_id, *params, limit],
            ).fetchall()
        return [self._record(row, fields) for row in rows]

    def _record(self, row: tuple[object, ...], fields: list[str]) -> dict[str, object]:
        record: dict[str, object] = {}
        values = dict(zip(STOCK_COUNT_WIDGETS, row[1:], strict=True))
        for widget, value in values.items():
            if not fields or widget.name in fields:
                record[widget.name] = (
                    Decimal(str(value)) if widget.kind == "number" else value
                )
        if not fields:
            counted = values[STOCK_COUNT_WIDGETS[-1]]
            record["createTime"] = record["updateTime"] = counted
        record.update({"_id": row[0], "appId": self.app_id, "entryId": self.entry_id})
        return record


def create_jiandaoyun_app(
    truth_path: Path,
    work_dir: Path,
    *,
    api_key: str,
    app_id: str = DEFAULT_APP_ID,
    entry_id: str = DEFAULT_ENTRY_ID,
    site: str = "1000",
    rate_limit: int = 30,
    rate_limit_status: int = 429,
) -> JiandaoyunApp:
    """The count form of `site`'s MES line-side stock, cut into `work_dir`."""
    share = build_jiandaoyun_share(
        Path(truth_path), Path(work_dir) / f"jiandaoyun_{site}_share.sqlite", site
    )
    return JiandaoyunApp(
        share,
        api_key=api_key,
        app_id=app_id,
        entry_id=entry_id,
        rate_limit=rate_limit,
        rate_limit_status=rate_limit_status,
    )


def start_jiandaoyun(
    truth_path: Path,
    work_dir: Path,
    *,
    api_key: str,
    app_id: str = DEFAULT_APP_ID,
    entry_id: str = DEFAULT_ENTRY_ID,
    site: str = "1000",
    rate_limit: int = 30,
    rate_limit_status: int = 429,
    port: int = 0,
    faults: Faults | None = None,
) -> SimServer:
    """A started server on 127.0.0.1; stop it (or use it as a context)."""
    app = create_jiandaoyun_app(
        truth_path,
        work_dir,
        api_key=api_key,
        app_id=app_id,
        entry_id=entry_id,
        site=site,
        rate_limit=rate_limit,
        rate_limit_status=rate_limit_status,
    )
    return SimServer(app, port=port, faults=faults, name="jiandaoyun").start()
