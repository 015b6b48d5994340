"""Kingdee K3 Cloud WebAPI simulator: the K3 Cloud share of the ground truth over real HTTP.

Serves `/k3cloud/Kingdee.BOS.WebApi.ServicesStub.{Service}.{Method}.common.kdsvc`
as the reference (`kingdee-yonyou-mes.md` §1, §7) describes the real server:
- AuthService.ValidateUser / LoginByAppSecret / LoginBySign set the
  `kdservice-sessionid` and `ASP.NET_SessionId` cookies; the SDK's signed
  headers authenticate any call without a login (`k3cloud_auth`).
- DynamicFormService.ExecuteBillQuery on STK_Inventory and the movement bills
  (`k3cloud_query`), Save / Submit / Audit for write-back (`k3cloud_writeback`).
- Both body styles: positional `{"parameters": [...]}` and named
  `{"formid": ..., "data": ...}`; `data` may itself be a JSON string.
- Errors arrive with HTTP 200 in the nested ResponseStatus form and the real
  MsgCodes; ExecuteBillQuery wraps its error as if it were a row. A wrong acctID
  is the one non-200 answer ("Fail to verify thirty passport").

Fault knobs (`SimServer.faults`) that this app reads itself:
`session_expiry_calls` ends a session after that many calls, and
`late_postings` hides the truth's late lines (and their stock effect).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from contextlib import closing
from decimal import Decimal
from pathlib import Path

from stockbridge.simulators.http_server import Faults, Request, Response, SimServer
from stockbridge.simulators.k3cloud_auth import (
    Credentials,
    SessionTable,
    check_signed_headers,
    login_sign,
)
from stockbridge.simulators.k3cloud_load import build_store
from stockbridge.simulators.k3cloud_query import QueryError, execute_bill_query
from stockbridge.simulators.k3cloud_save import save
from stockbridge.simulators.k3cloud_store import connect, store_is_current
from stockbridge.simulators.k3cloud_writeback import (
    BillRef,
    WriteError,
    audit,
    submit,
)

__all__ = ["K3CloudApp", "create_k3cloud_app", "start_k3cloud"]

_PATH = re.compile(
    r"^/k3cloud/Kingdee\.BOS\.WebApi\.ServicesStub\.(\w+)\.(\w+)\.common\.kdsvc$"
)
SESSION_LOST = "会话信息已丢失，请重新登录"
BAD_ACCOUNT = "Fail to verify thirty passport"
_LOGIN_ARGS = {
    "ValidateUser": ("acctID", "username", "password", "lcid"),
    "LoginByAppSecret": ("acctID", "username", "appId", "appSecret", "lcid"),
    "LoginBySign": ("acctID", "username", "appId", "timestamp", "sign", "lcid"),
}


def _status(
    msg_code: int,
    errors: list[tuple[str | None, str, int]],
    done: list[BillRef] | None = None,
) -> dict[str, object]:
    """The ResponseStatus object K3 answers every DynamicFormService call with."""
    status: dict[str, object] = {
        "IsSuccess": not errors,
        "Errors": [{"FieldName": f, "Message": m, "DIndex": i} for f, m, i in errors],
        "SuccessEntitys": [
            {"Id": r.fid, "Number": r.number, "DIndex": r.index} for r in done or []
        ],
        "SuccessMessages": [],
        "MsgCode": msg_code,
    }
    return {"ErrorCode": 500, **status} if errors else status


def _failure(
    method: str, msg_code: int, message: str, field: str | None = None
) -> Response:
    result = {"Result": {"ResponseStatus": _status(msg_code, [(field, message, 0)])}}
    return Response.json([[result]] if method == "ExecuteBillQuery" else result)


def _ci(mapping: dict[str, object], key: str) -> object:
    wanted = key.lower()
    return next((v for k, v in mapping.items() if k.lower() == wanted), None)


def _decode(value: object) -> object:
    """`data` arrives as an object or as a JSON string; numbers stay exact."""
    if isinstance(value, str) and value.strip().startswith(("{", "[")):
        return json.loads(value, parse_float=Decimal)
    return value


def _arguments(body: bytes, names: tuple[str, ...]) -> list[object]:
    """The call's arguments by position, from either body style."""
    payload = json.loads(body or b"{}", parse_float=Decimal)
    if not isinstance(payload, dict):
        raise TypeError("the body is not a JSON object")
    positional = _decode(_ci(payload, "parameters"))
    if isinstance(positional, list):
        values = [_decode(v) for v in positional]
        return values + [None] * (len(names) - len(values))
    if names == ("data",) and _ci(payload, "data") is None and _ci(payload, "FormId"):
        return [payload]
    return [_decode(_ci(payload, name)) for name in names]


def _cookie_values(request: Request, name: str) -> list[str]:
    out = []
    for part in request.header("cookie").split(";"):
        key, _, value = part.strip().partition("=")
        if key.strip() == name and value:
            out.append(value.strip())
    return out


class K3CloudApp:
    """The WebAPI as a `Request -> Response` function for `SimServer`."""

    def __init__(self, store: Path, creds: Credentials, faults: Faults) -> None:
        self.store = store
        self.creds = creds
        self.faults = faults
        self.sessions = SessionTable()
        self._write_lock = threading.Lock()
        self._methods: dict[str, Callable[[Request], Response]] = {
            "ExecuteBillQuery": self._query,
            "Save": self._save,
            "Submit": lambda r: self._operate(r, "Submit", submit),
            "Audit": lambda r: self._operate(r, "Audit", audit),
        }

    def __call__(self, request: Request) -> Response:
        match = _PATH.match(request.path)
        if match is None or request.method != "POST":
            return Response.text(f"no service at {request.method} {request.path}", 404)
        service, method = match.groups()
        if service == "AuthService" and method in _LOGIN_ARGS:
            return self._login(request, method)
        handler = self._methods.get(method) if service == "DynamicFormService" else None
        if handler is None:
            return Response.text(f"no service {service}.{method}", 404)
        refusal, cookies = self._authorise(request, method)
        if refusal is not None:
            return refusal
        response = handler(request)
        response.cookies.extend(cookies)
        return response

    # -- authentication -------------------------------------------------------

    def _session_cookies(self, kd_id: str, asp_id: str) -> list[str]:
        return [
            f"kdservice-sessionid={kd_id}; path=/",
            f"ASP.NET_SessionId={asp_id}; path=/; HttpOnly",
        ]

    def _authorise(
        self, request: Request, method: str
    ) -> tuple[Response | None, list[str]]:
        """Let the call through on a live session or valid signed headers."""
        presented = [
            *_cookie_values(request, "kdservice-sessionid"),
            *_cookie_values(request, "ASP.NET_SessionId"),
            *(
                v
                for v in (request.header("kdservice-sessionid"), request.header("sid"))
                if v
            ),
        ]
        if self.sessions.use(presented, self.faults.session_expiry_calls):
            return None, []
        check = check_signed_headers(request.headers, request.path, self.creds)
        if check.present and not check.acct_ok:
            return Response.text(BAD_ACCOUNT, 500), []
        if check.valid:
            kd_id, asp_id = self.sessions.open(self.creds.username)
            self.sessions.use([kd_id], self.faults.session_expiry_calls)
            return None, self._session_cookies(kd_id, asp_id)
        return _failure(method, 1, SESSION_LOST), []

    def _login(self, request: Request, method: str) -> Response:
        try:
            args = _arguments(request.body, _LOGIN_ARGS[method])
        except (ValueError, TypeError):
            return self._login_failed("请求数据格式错误")
        given = dict(
            zip(
                _LOGIN_ARGS[method],
                (str(a) if a is not None else "" for a in args),
                strict=False,
            )
        )
        creds = self.creds
        if given["acctID"] != creds.acct_id:
            return Response.text(BAD_ACCOUNT, 500)
        if not creds.lcid_ok(given["lcid"] or creds.lcid):
            return self._login_failed("语言标识（lcid）无效")
        if given["username"] != creds.username:
            return self._login_failed("用户名或密码错误！")
        if method == "ValidateUser" and given["password"] != creds.password:
            return self._login_failed("用户名或密码错误！")
        if method == "LoginByAppSecret" and (
            given["appId"] != creds.app_id or given["appSecret"] != creds.app_secret
        ):
            return self._login_failed(
                "第三方系统登录授权验证失败：应用ID或应用密钥错误"
            )
        if method == "LoginBySign":
            expected = login_sign(
                creds.acct_id, creds.username, creds.app_id, creds.app_secret,
                given["timestamp"],
            )  # fmt: skip
            if given["appId"] != creds.app_id or given["sign"].lower() != expected:
                return self._login_failed("第三方系统登录授权验证失败：签名验证失败")
        kd_id, asp_id = self.sessions.open(creds.username)
        body = {
            "Message": None,
            "MessageCode": "CheckPasswordPolicy",
            "LoginResultType": 1,
            "Context": {
                "UserLocale": "zh-CN",
                "LogLocale": "zh-CN",
                "DBid": creds.acct_id,
                "DatabaseType": 3,
                "SessionId": asp_id,
                "UseLanguages": [
                    {"LocaleId": 2052, "LocaleName": "中文(简体)", "Alias": "CN"}
                ],
                "UserId": 100008,
                "UserName": creds.username,
                "DisplayVersion": "8.2.837.7",
                "DataCenterName": "stockbridge simulator",
                "ClientType": 32,
            },
            "KDSVCSessionId": kd_id,
            "FormId": None,
            "RedirectFormParam": None,
            "FormInputObject": None,
            "ErrorStackTrace": None,
            "Lcid": 0,
            "AccessToken": None,
            "CustomParam": {},
            "KdAccessResult": None,
            "IsSuccessByApi": True,
        }
        response = Response.json(body)
        response.cookies.extend(self._session_cookies(kd_id, asp_id))
        return response

    def _login_failed(self, message: str) -> Response:
        return Response.json(
            {
                "Message": message,
                "MessageCode": "",
                "LoginResultType": 0,
                "Context": None,
                "KDSVCSessionId": None,
                "FormId": None,
                "IsSuccessByApi": False,
            }
        )

    # -- DynamicFormService ----------------------------------------------------

    def _query(self, request: Request) -> Response:
        try:
            (data,) = _arguments(request.body, ("data",))
        except (ValueError, TypeError):
            return _failure("ExecuteBillQuery", 8, "请求数据格式错误")
        if not isinstance(data, dict):
            return _failure("ExecuteBillQuery", 8, "data数据包不能为空。")
        try:
            with closing(connect(self.store)) as db:
                rows = execute_bill_query(db, data, hold_late=self.faults.late_postings)
        except QueryError as exc:
            return _failure("ExecuteBillQuery", exc.msg_code, exc.message)
        return Response(
            200,
            rows,
            {"Content-Type": "application/json; charset=utf-8"},
        )

    def _save(self, request: Request) -> Response:
        try:
            form_id, data = _arguments(request.body, ("formid", "data"))
        except (ValueError, TypeError):
            return _failure("Save", 8, "请求数据格式错误")
        with self._write_lock, closing(connect(self.store)) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                ref = save(db, str(form_id or ""), data)
            except WriteError as exc:
                db.execute("ROLLBACK")
                return _failure("Save", exc.msg_code, exc.message, exc.field)
            db.execute("COMMIT")
        status = _status(0, [], [ref])
        return Response.json(
            {
                "Result": {
                    "ResponseStatus": status,
                    "Id": ref.fid,
                    "Number": ref.number,
                    "NeedReturnData": [{}],
                }
            }
        )

    def _operate(
        self,
        request: Request,
        method: str,
        operation: Callable[..., tuple[list[BillRef], list[WriteError]]],
    ) -> Response:
        try:
            form_id, data = _arguments(request.body, ("formid", "data"))
        except (ValueError, TypeError):
            return _failure(method, 8, "请求数据格式错误")
        with self._write_lock, closing(connect(self.store)) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                done, failed = operation(db, str(form_id or ""), data)
            except WriteError as exc:
                db.execute("ROLLBACK")
                return _failure(method, exc.msg_code, exc.message, exc.field)
            db.execute("COMMIT")
        errors = [(e.field, e.message, e.index) for e in failed]
        code = failed[0].msg_code if failed else 0
        return Response.json(
            {"Result": {"ResponseStatus": _status(code, errors, done)}}
        )


def create_k3cloud_app(
    truth_path: Path,
    work_dir: Path,
    *,
    acct_id: str,
    username: str,
    password: str,
    app_id: str,
    app_secret: str,
    lcid: int = 2052,
    faults: Faults | None = None,
) -> K3CloudApp:
    """The app over `work_dir/k3cloud.sqlite`, rebuilt from `truth_path` unless current.

    Pass the `Faults` the serving `SimServer` uses (as `start_k3cloud` does) so
    that the session and late-posting knobs reach the app.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    store = work_dir / "k3cloud.sqlite"
    if not store_is_current(store, truth_path):
        build_store(truth_path, store)
    creds = Credentials(acct_id, username, password, app_id, app_secret, lcid)
    return K3CloudApp(store, creds, faults or Faults())


def start_k3cloud(
    truth_path: Path,
    work_dir: Path,
    *,
    acct_id: str,
    username: str,
    password: str,
    app_id: str,
    app_secret: str,
    lcid: int = 2052,
    port: int = 0,
    faults: Faults | None = None,
) -> SimServer:
    """Build the store if needed and serve the WebAPI on 127.0.0.1; stop it with `.stop()`."""
    faults = faults or Faults()
    app = create_k3cloud_app(
        truth_path, work_dir, acct_id=acct_id, username=username, password=password,
        app_id=app_id, app_secret=app_secret, lcid=lcid, faults=faults,
    )  # fmt: skip
    return SimServer(app, port=port, faults=faults, name="k3cloud").start()
