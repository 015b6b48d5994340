"""An MES REST/JSON API of the kind Chinese plants run, serving the truth's `mes` share.

    POST /api/auth/token                 {"appKey", "appSecret"} as JSON, or the OAuth
                                         form grant_type=client_credentials&client_id=&client_secret=
    GET  /api/v1/lineside/stock          ?factoryCode=&warehouseCode=&materialCode=
    GET  /api/v1/material/transactions   ?since=yyyy-MM-dd HH:mm:ss&factoryCode=
    POST /api/v1/lineside/stock-sync     {"batchId", "items": [...]}: a pushed stock
                                         table, idempotent by batchId (`mes_rest_sync`)

plus the paging parameters of the server's style (`mes_rest_paging`).

Every reply is an envelope `{code, msg, data}`, code 0 for success. Business
errors come with HTTP 200 and a non-zero code (4001 bad parameter, 4010
wrong appKey/appSecret), so a connector that only checks the status reads
them as data. A missing, unknown or expired bearer token is HTTP 401 with
`{"code":401,"msg":"token invalid or expired","data":null}`. A token lives
`token_ttl` seconds, and only `faults.session_expiry_calls` calls when that
knob is set. With `api_key` set, an `X-API-Key` header is accepted instead.

Stock rows: factoryCode, warehouseCode, locationCode (the line-side warehouse
is one location), materialCode, materialName, lotNo (null without a batch),
qty, reservedQty, unit (MES codes PCS, KG, M, L...), status, updateTime (the
last posting that touched the row). Transaction rows: txnId, txnType
(TRANSFER_IN, CONSUME, SCRAP, ADJUST, REVERSAL...), direction, workOrderNo,
materialCode, lotNo, qty, unit, fromLocation, toLocation, factoryCode,
warehouseCode, txnTime (posting), createTime (entry), reversedTxnId.

Quantities have three decimals, as decimal strings (`qty_format="string"`) or
bare JSON numbers (`"number"`). A transaction's `qty` is unsigned; `direction`
'IN' or 'OUT' says how it moves the stock of `warehouseCode` (a REVERSAL of a
CONSUME is 'IN'). Times are naive China local time. Transactions are served
in (createTime, txnId) order and `since` is inclusive on createTime, so a
connector resuming from its last createTime sees the boundary rows again and
must drop them by txnId.
"""

from __future__ import annotations

import hmac
import json
import secrets
import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs

from stockbridge.simulators.http_server import Faults, Request, Response, SimServer
from stockbridge.simulators.json_numbers import json_body
from stockbridge.simulators.mes_rest_paging import (
    PAGINATION_STYLES,
    ListingCache,
    PaginationStyle,
    ParameterError,
    list_page,
    read_page_request,
)
from stockbridge.simulators.mes_rest_share import (
    MES_UNITS,
    build_mes_rest_share,
    open_share,
)
from stockbridge.simulators.mes_rest_sync import StockSyncBook, SyncRefusedError

__all__ = [
    "MesRestApp",
    "QuantityFormat",
    "TokenBook",
    "create_mes_rest_app",
    "start_mes_rest",
]

QuantityFormat = Literal["string", "number"]

TOKEN_PATH = "/api/auth/token"  # noqa: S105 - a path, not a secret
STOCK_PATH = "/api/v1/lineside/stock"
TRANSACTIONS_PATH = "/api/v1/material/transactions"
STOCK_SYNC_PATH = "/api/v1/lineside/stock-sync"
_LOCAL = "%Y-%m-%d %H:%M:%S"
_STOCK_COLUMNS = (
    "factory, warehouse, material, name, lot, status, unit, {qty}, reserved, {updated}"
)
_TXN_COLUMNS = (
    "txn_id, txn_type, direction, work_order, material, lot, qty, unit,"
    " from_location, to_location, factory, warehouse, txn_time, create_time,"
    " reversed_txn_id"
)


@dataclass
class _Token:
    issued: float
    calls: int = 0


class TokenBook:
    """Bearer tokens: each lives `ttl` seconds, or `faults.session_expiry_calls` calls."""

    def __init__(self, faults: Faults, ttl: int) -> None:
        self.faults = faults
        self.ttl = ttl
        self._tokens: dict[str, _Token] = {}
        self._lock = threading.Lock()

    def issue(self) -> str:
        token = secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._lock:
            # Clients that log in again and again must not grow the book forever.
            for stale in [
                t for t, held in self._tokens.items() if now - held.issued > self.ttl
            ]:
                del self._tokens[stale]
            self._tokens[token] = _Token(now)
        return token

    def admit(self, token: str) -> bool:
        """Count one call on `token`; False (and the token forgotten) once it has expired."""
        with self._lock:
            held = self._tokens.get(token)
            if held is None:
                return False
            held.calls += 1
            limit = self.faults.session_expiry_calls
            if time.monotonic() - held.issued > self.ttl or (
                limit and held.calls > limit
            ):
                del self._tokens[token]
                return False
            return True


def _envelope(
    data: object, code: int = 0, msg: str = "success", status: int = 200
) -> Response:
    return Response(
        status,
        json_body({"code": code, "msg": msg, "data": data}),
        {"Content-Type": "application/json; charset=utf-8"},
    )


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison that also takes the non-ASCII text a client may send."""
    return hmac.compare_digest(given.encode(), expected.encode())


class MesRestApp:
    """The MES REST endpoints over a share built by `build_mes_rest_share`."""

    def __init__(
        self,
        share_path: Path,
        *,
        faults: Faults,
        app_key: str,
        app_secret: str,
        api_key: str | None = None,
        pagination: PaginationStyle = "page",
        qty_format: QuantityFormat = "string",
        token_ttl: int = 7200,
    ) -> None:
        if pagination not in PAGINATION_STYLES:
            msg = f"pagination must be one of {PAGINATION_STYLES}, got {pagination!r}"
            raise ValueError(msg)
        if qty_format not in ("string", "number"):
            msg = f"qty_format must be 'string' or 'number', got {qty_format!r}"
            raise ValueError(msg)
        self.share_path = share_path
        self.faults = faults
        self.pagination: PaginationStyle = pagination
        self.qty_format: QuantityFormat = qty_format
        self.tokens = TokenBook(faults, token_ttl)
        self.listings = ListingCache()
        self._app_key = app_key
        self._app_secret = app_secret
        self._api_key = api_key
        with closing(open_share(share_path)) as conn:
            known = conn.execute("SELECT DISTINCT material FROM stock").fetchall()
        self.stock_sync = StockSyncBook(
            frozenset(row[0] for row in known), frozenset(MES_UNITS.values())
        )

    def __call__(self, request: Request) -> Response:
        routes = {
            TOKEN_PATH: ("POST", self._token, False),
            STOCK_PATH: ("GET", self._stock, True),
            TRANSACTIONS_PATH: ("GET", self._transactions, True),
            STOCK_SYNC_PATH: ("POST", self._stock_sync, True),
        }
        route = routes.get(request.path.rstrip("/"))
        if route is None:
            return _envelope(None, 404, "接口不存在", 404)
        method, handler, guarded = route
        if request.method != method:
            return _envelope(None, 405, f"请求方法不支持: {request.method}", 405)
        if guarded and not self._authorized(request):
            return _envelope(None, 401, "token invalid or expired", 401)
        try:
            return handler(request)
        except ParameterError as error:
            return _envelope(None, 4001, str(error))

    # --- auth -----------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        api_key = request.header("x-api-key")
        if self._api_key is not None and api_key:
            return _same(api_key, self._api_key)
        scheme, _, token = request.header("authorization").partition(" ")
        return (
            scheme.lower() == "bearer"
            and bool(token)
            and self.tokens.admit(token.strip())
        )

    def _token(self, request: Request) -> Response:
        key, secret = self._credentials(request)
        if not (_same(key, self._app_key) and _same(secret, self._app_secret)):
            return _envelope(None, 4010, "appKey 或 appSecret 错误")
        return _envelope(
            {"accessToken": self.tokens.issue(), "expiresIn": self.tokens.ttl}
        )

    @staticmethod
    def _credentials(request: Request) -> tuple[str, str]:
        if "application/x-www-form-urlencoded" in request.header("content-type"):
            form = parse_qs(request.body.decode("utf-8", "replace"))
            if form.get("grant_type") != ["client_credentials"]:
                raise ParameterError("参数错误: grant_type 必须为 client_credentials")
            return form.get("client_id", [""])[0], form.get("client_secret", [""])[0]
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise ParameterError("参数错误: 请求体不是合法的 JSON") from None
        if not isinstance(body, dict):
            raise ParameterError("参数错误: 请求体必须是 JSON 对象")
        return str(body.get("appKey") or ""), str(body.get("appSecret") or "")

    def _stock_sync(self, request: Request) -> Response:
        try:
            return _envelope(self.stock_sync.accept(request))
        except SyncRefusedError as refusal:
            return _envelope(None, refusal.code, refusal.message)

    # --- listings -------------------------------------------------------------

    def _quantity(self, text: object) -> object:
        return Decimal(str(text)) if self.qty_format == "number" else text

    def _stock(self, request: Request) -> Response:
        page = read_page_request(self.pagination, request, "stock")
        where: list[str] = []
        params: list[object] = []
        for name, column in (
            ("factoryCode", "factory"),
            ("warehouseCode", "warehouse"),
            ("materialCode", "material"),
        ):
            if value := request.arg(name):
                where.append(f"{column} = ?")
                params.append(value)
        held = self.faults.late_postings
        columns = _STOCK_COLUMNS.format(
            qty="qty_early" if held else "qty",
            updated="update_time_early" if held else "update_time",
        )

        def render(row: tuple[object, ...]) -> dict[str, object]:
            (
                factory,
                warehouse,
                material,
                name,
                lot,
                status,
                unit,
                qty,
                reserved,
                updated,
            ) = row
            return {
                "factoryCode": factory,
                "warehouseCode": warehouse,
                "locationCode": warehouse,
                "materialCode": material,
                "materialName": name,
                "lotNo": lot or None,
                "qty": self._quantity(qty),
                "reservedQty": self._quantity(reserved),
                "unit": unit,
                "status": status,
                "updateTime": updated,
            }

        with closing(open_share(self.share_path)) as conn:
            data = list_page(
                conn, page, self.listings, table="stock", columns=columns, where=where,
                params=params, render=render,
            )  # fmt: skip
        return _envelope(data)

    def _transactions(self, request: Request) -> Response:
        page = read_page_request(self.pagination, request, "txn")
        where: list[str] = []
        params: list[object] = []
        if factory := request.arg("factoryCode"):
            where.append("factory = ?")
            params.append(factory)
        if self.faults.late_postings:
            where.append("late = 0")

        def render(row: tuple[object, ...]) -> dict[str, object]:
            (txn_id, txn_type, direction, work_order, material, lot, qty, unit,
             source, target, factory, warehouse, posted, entered, reversed_id) = row  # fmt: skip
            return {
                "txnId": txn_id,
                "txnType": txn_type,
                "direction": direction,
                "workOrderNo": work_order or None,
                "materialCode": material,
                "lotNo": lot or None,
                "qty": self._quantity(qty),
                "unit": unit,
                "fromLocation": source or None,
                "toLocation": target or None,
                "factoryCode": factory,
                "warehouseCode": warehouse,
                "txnTime": posted,
                "createTime": entered,
                "reversedTxnId": reversed_id or None,
            }

        with closing(open_share(self.share_path)) as conn:
            if since := request.arg("since"):
                where.append(_since_condition(conn, since))
            data = list_page(
                conn, page, self.listings, table="txn", columns=_TXN_COLUMNS, where=where,
                params=params, render=render,
            )  # fmt: skip
        return _envelope(data)


def _since_condition(conn: sqlite3.Connection, since: str) -> str:
    """`createTime >= since` as a `seq` bound: the serving order is createTime's order."""
    try:
        datetime.strptime(since, _LOCAL)  # noqa: DTZ007 - the MES's naive local time
    except ValueError:
        raise ParameterError("参数错误: since 格式应为 yyyy-MM-dd HH:mm:ss") from None
    first = conn.execute(
        "SELECT seq FROM txn WHERE create_time >= ? ORDER BY create_time, seq LIMIT 1",
        (since,),
    ).fetchone()
    return "0" if first is None else f"seq >= {int(first[0])}"


def create_mes_rest_app(
    truth_path: Path,
    work_dir: Path,
    *,
    app_key: str,
    app_secret: str,
    pagination: PaginationStyle = "page",
    qty_format: QuantityFormat = "string",
    api_key: str | None = None,
    token_ttl: int = 7200,
    faults: Faults | None = None,
) -> MesRestApp:
    """The MES REST app over the truth's `mes` share, cut into `work_dir`."""
    share = build_mes_rest_share(
        Path(truth_path), Path(work_dir) / "mes_rest_share.sqlite"
    )
    return MesRestApp(
        share,
        faults=faults or Faults(),
        app_key=app_key,
        app_secret=app_secret,
        api_key=api_key,
        pagination=pagination,
        qty_format=qty_format,
        token_ttl=token_ttl,
    )


def start_mes_rest(
    truth_path: Path,
    work_dir: Path,
    *,
    app_key: str,
    app_secret: str,
    pagination: PaginationStyle = "page",
    qty_format: QuantityFormat = "string",
    api_key: str | None = None,
    token_ttl: int = 7200,
    port: int = 0,
    faults: Faults | None = None,
) -> SimServer:
    """A started server on 127.0.0.1; its `faults` are the app's, so the knobs reach the data."""
    shared_faults = faults or Faults()
    app = create_mes_rest_app(
        truth_path,
        work_dir,
        app_key=app_key,
        app_secret=app_secret,
        pagination=pagination,
        qty_format=qty_format,
        api_key=api_key,
        token_ttl=token_ttl,
        faults=shared_faults,
    )
    return SimServer(app, port=port, faults=shared_faults, name="mes-rest").start()
