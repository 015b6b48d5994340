"""Local stand-ins for each chat tool's webhook, on 127.0.0.1.

Each receiver checks what the real tool checks (token, signature with its
time window, keywords, IP allow-list, size limit), enforces the tool's rate
limit by its own clock, and answers with the tool's real success and error
bodies. Their clock is the test's fake clock, shared with the sender, so a
10-minute DingTalk block or a 60 s outage costs no wall time. Replies carry
`Connection: close`, so a stopped receiver is really unreachable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from stockbridge.simulators.http_server import Request, Response, SimServer


class FakeClock:
    """Time that moves only when told to; callbacks fire as it passes them."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
        self.slept = timedelta(0)
        self._timers: list[tuple[datetime, Callable[[], None]]] = []

    def __call__(self) -> datetime:
        return self.now

    def at(self, moment: datetime, callback: Callable[[], None]) -> None:
        self._timers.append((moment, callback))
        self._timers.sort(key=lambda timer: timer[0])

    def advance(self, delta: timedelta) -> None:
        self.now += delta
        while self._timers and self._timers[0][0] <= self.now:
            _, callback = self._timers.pop(0)
            callback()

    def sleep(self, seconds: float) -> None:
        self.slept += timedelta(seconds=seconds)
        self.advance(timedelta(seconds=seconds))


class Receiver:
    """A chat tool's webhook endpoint; subclasses answer as their tool does."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.accepted: list[dict[str, object]] = []
        self.arrivals: list[datetime] = []
        self.refusals: list[str] = []
        self._server: SimServer | None = None
        self._port = 0

    # -- serving ---------------------------------------------------------
    def start(self) -> Receiver:
        server = SimServer(self._app, port=self._port, name=type(self).__name__)
        self._port = server.port
        # Served here rather than by `server.start()`: a short poll interval
        # makes stopping (an outage, the end of a test) take 20 ms, not 0.5 s.
        server._thread = threading.Thread(
            target=server._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
        )
        server._thread.start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def up(self) -> bool:
        return self._server is not None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def _app(self, request: Request) -> Response:
        self.arrivals.append(self.clock())
        response = self.handle(request)
        response.headers["Connection"] = "close"
        return response

    # -- helpers for subclasses -------------------------------------------
    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def recent(self, window: timedelta) -> int:
        """Requests that arrived within `window` before now (this one included)."""
        now = self.clock()
        return sum(1 for moment in self.arrivals if moment > now - window)

    def max_in_window(self, window: timedelta) -> int:
        """The most requests that ever arrived within one `window`."""
        times = self.arrivals
        return max(
            (
                sum(1 for other in times if start <= other < start + window)
                for start in times
            ),
            default=0,
        )

    def refuse(self, reason: str, response: Response) -> Response:
        self.refusals.append(reason)
        return response


def _json(request: Request) -> dict[str, object] | None:
    try:
        data = json.loads(request.body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _texts(value: object) -> list[str]:
    """Every string inside a JSON value (titles, texts, card contents)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _texts(item)]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    return []


class DingTalkReceiver(Receiver):
    """钉钉自定义机器人: errcode in an HTTP 200 body; 20/min, then 10 min blocked."""

    def __init__(
        self,
        clock: FakeClock,
        *,
        token: str = "ding-token",
        secret: str | None = None,
        keywords: tuple[str, ...] = (),
        allowed_ips: tuple[str, ...] = (),
        throttle_code: int = 410100,
    ) -> None:
        super().__init__(clock)
        self.token = token
        self.secret = secret
        self.keywords = keywords
        self.allowed_ips = allowed_ips
        self.throttle_code = throttle_code
        self.blocked_until: datetime | None = None

    @property
    def url(self) -> str:
        return f"{self.base}/robot/send?access_token={self.token}"

    def _error(self, code: int, message: str) -> Response:
        return self.refuse(message, Response.json({"errcode": code, "errmsg": message}))

    def handle(self, request: Request) -> Response:
        now = self.clock()
        if request.path != "/robot/send" or request.arg("access_token") != self.token:
            return self._error(300001, "token is not exist")
        if not request.header("content-type").startswith("application/json"):
            return self._error(43004, "无效的HTTP HEADER Content-Type")
        if self.blocked_until is not None and now < self.blocked_until:
            return self._throttled()
        if self.recent(timedelta(minutes=1)) > 20:
            self.blocked_until = now + timedelta(minutes=10)
            return self._throttled()
        if self.secret is not None:
            problem = self._signature_problem(request, now)
            if problem:
                return self._error(310000, problem)
        if self.allowed_ips and request.client not in self.allowed_ips:
            return self._error(310000, f"ip {request.client} not in whitelist")
        body = _json(request)
        if body is None:
            return self._error(40035, "缺少参数 json")
        if self.keywords and not any(
            keyword in text for keyword in self.keywords for text in _texts(body)
        ):
            return self._error(310000, "keywords not in content")
        if body.get("msgtype") != "markdown":
            return self._error(400105, "不支持的消息类型")
        self.accepted.append(body)
        return Response.json({"errcode": 0, "errmsg": "ok"})

    def _throttled(self) -> Response:
        message = (
            "send too fast, exceed 20 times per minute"
            if self.throttle_code == 130101
            else "发送速度太快而限流"
        )
        return self._error(self.throttle_code, message)

    def _signature_problem(self, request: Request, now: datetime) -> str:
        assert self.secret is not None
        timestamp, sign = request.arg("timestamp"), request.arg("sign")
        if not timestamp or not timestamp.isdigit() or sign is None:
            return "sign not match"
        if abs(int(now.timestamp() * 1000) - int(timestamp)) > 3_600_000:
            return "invalid timestamp"
        # parse_qs has URL-decoded `sign`: what is left must be the Base64 digest.
        digest = hmac.new(
            self.secret.encode(), f"{timestamp}\n{self.secret}".encode(), hashlib.sha256
        ).digest()
        expected = base64.b64encode(digest).decode()
        return "" if hmac.compare_digest(expected, sign) else "sign not match"


class WeComReceiver(Receiver):
    """企业微信群机器人: key in the URL, markdown ≤ 4096 bytes, 20/min."""

    def __init__(self, clock: FakeClock, *, key: str = "wecom-key") -> None:
        super().__init__(clock)
        self.key = key

    @property
    def url(self) -> str:
        return f"{self.base}/cgi-bin/webhook/send?key={self.key}"

    def _error(self, code: int, message: str) -> Response:
        text = f"{message}, hint: [1700000000_1_abc], from ip: 127.0.0.1"
        return self.refuse(message, Response.json({"errcode": code, "errmsg": text}))

    def handle(self, request: Request) -> Response:
        if request.path != "/cgi-bin/webhook/send" or request.arg("key") != self.key:
            return self._error(93000, "invalid webhook url")
        if self.recent(timedelta(minutes=1)) > 20:
            return self._error(45009, "api freq out of limit")
        try:
            body = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return self._error(40058, "invalid Request Parameter")
        content = body.get("markdown", {}).get("content", "")
        if len(content.encode("utf-8")) > 4096:
            return self._error(40058, "markdown.content exceed max length 4096")
        self.accepted.append(body)
        return Response.json({"errcode": 0, "errmsg": "ok"})


class FeishuReceiver(Receiver):
    """飞书自定义机器人: signed body, keywords, 20 KB, 5/s and 100/min, `code` body."""

    def __init__(
        self,
        clock: FakeClock,
        *,
        token: str = "feishu-token",
        secret: str | None = None,
        keywords: tuple[str, ...] = (),
        allowed_ips: tuple[str, ...] = (),
    ) -> None:
        super().__init__(clock)
        self.token = token
        self.secret = secret
        self.keywords = keywords
        self.allowed_ips = allowed_ips

    @property
    def url(self) -> str:
        return f"{self.base}/open-apis/bot/v2/hook/{self.token}"

    def _error(self, code: int, message: str) -> Response:
        return self.refuse(
            message, Response.json({"code": code, "data": {}, "msg": message})
        )

    def handle(self, request: Request) -> Response:
        now = self.clock()
        if request.path != f"/open-apis/bot/v2/hook/{self.token}":
            return self._error(
                19001, "param invalid: incoming webhook access token invalid"
            )
        if (
            self.recent(timedelta(seconds=1)) > 5
            or self.recent(timedelta(minutes=1)) > 100
        ):
            return self._error(
                11232, "frequency limited psm[lark.oapi.app_platform_runtime]"
            )
        if len(request.body) > 20 * 1024:
            return self._error(9499, "Bad Request")
        body = _json(request)
        if body is None:
            return self._error(9499, "Bad Request")
        if self.secret is not None:
            timestamp, sign = str(body.get("timestamp", "")), body.get("sign")
            key = f"{timestamp}\n{self.secret}".encode()
            expected = base64.b64encode(
                hmac.new(key, b"", hashlib.sha256).digest()
            ).decode()
            fresh = (
                timestamp.isdigit() and abs(now.timestamp() - int(timestamp)) <= 3600
            )
            if (
                not fresh
                or not isinstance(sign, str)
                or not hmac.compare_digest(expected, sign)
            ):
                return self._error(
                    19021,
                    "sign match fail or timestamp is not within one hour from current time",
                )
        if self.allowed_ips and request.client not in self.allowed_ips:
            return self._error(19022, "Ip Not Allowed")
        if self.keywords:
            texts = _texts(
                {k: v for k, v in body.items() if k not in {"sign", "timestamp"}}
            )
            if not any(keyword in text for keyword in self.keywords for text in texts):
                return self._error(19024, "Key Words Not Found")
        if body.get("msg_type") not in {"interactive", "post", "text"}:
            return self._error(9499, "Bad Request")
        self.accepted.append(body)
        return Response.json(
            {
                "StatusCode": 0,
                "StatusMessage": "success",
                "code": 0,
                "data": {},
                "msg": "success",
            }
        )


class SlackReceiver(Receiver):
    """Slack incoming webhook: `ok`, plain-text errors, 429 + Retry-After above 1/s."""

    path = "/services/T0001/B0001/abcdefghijklmnopqrstuvwx"

    @property
    def url(self) -> str:
        return self.base + self.path

    def handle(self, request: Request) -> Response:
        if request.path != self.path:
            return self.refuse("no_service", Response.text("no_service", 404))
        if self.recent(timedelta(seconds=1)) > 1:
            response = Response.text("rate_limited", 429)
            response.headers["Retry-After"] = "1"
            return self.refuse("rate_limited", response)
        body = _json(request)
        if body is None:
            return self.refuse("invalid_payload", Response.text("invalid_payload", 400))
        if not body.get("text") and not body.get("blocks"):
            return self.refuse("no_text", Response.text("no_text", 400))
        blocks = body.get("blocks", [])
        too_long = any(
            len(block.get("text", {}).get("text", "")) > 3000
            for block in blocks
            if isinstance(block, dict) and isinstance(block.get("text"), dict)
        )
        if not isinstance(blocks, list) or len(blocks) > 50 or too_long:
            return self.refuse("invalid_blocks", Response.text("invalid_blocks", 400))
        self.accepted.append(body)
        return Response.text("ok")


class TeamsReceiver(Receiver):
    """Teams Workflows trigger: `sig` in the query, Adaptive Card, 202 Accepted."""

    def __init__(self, clock: FakeClock, *, sig: str = "teams-sig") -> None:
        super().__init__(clock)
        self.sig = sig

    @property
    def url(self) -> str:
        return (
            f"{self.base}/workflows/0f1e/triggers/manual/paths/invoke"
            f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.sig}"
        )

    def handle(self, request: Request) -> Response:
        if request.arg("sig") != self.sig:
            error = {"code": "DirectApiAuthorizationRequired", "message": "sig invalid"}
            return self.refuse("unauthorized", Response.json({"error": error}, 401))
        if self.recent(timedelta(seconds=1)) > 4:
            response = Response.json({"error": {"code": "TooManyRequests"}}, 429)
            response.headers["Retry-After"] = "1"
            return self.refuse("throttled", response)
        if len(request.body) > 28 * 1024:
            return self.refuse(
                "too large", Response.text("Request Entity Too Large", 413)
            )
        body = _json(request)
        attachments = body.get("attachments") if body else None
        if (
            body is None
            or body.get("type") != "message"
            or not isinstance(attachments, list)
            or attachments[0].get("contentType")
            != "application/vnd.microsoft.card.adaptive"
            or attachments[0]["content"].get("type") != "AdaptiveCard"
        ):
            error = {"code": "InvalidRequestContent", "message": "not an adaptive card"}
            return self.refuse("invalid", Response.json({"error": error}, 400))
        self.accepted.append(body)
        return Response(202, b"")


class WebhookReceiver(Receiver):
    """A Standard Webhooks consumer: verifies as the reference library does."""

    def __init__(
        self, clock: FakeClock, *, secret: str, per_minute: int | None = None
    ) -> None:
        super().__init__(clock)
        self.secret = secret
        self.per_minute = per_minute
        self.ids: list[str] = []

    @property
    def url(self) -> str:
        return f"{self.base}/hooks/stock"

    def handle(self, request: Request) -> Response:
        if self.per_minute and self.recent(timedelta(minutes=1)) > self.per_minute:
            response = Response.text("slow down", 429)
            response.headers["Retry-After"] = "30"
            return self.refuse("throttled", response)
        msg_id = request.header("webhook-id")
        timestamp = request.header("webhook-timestamp")
        signatures = request.header("webhook-signature")
        if not (msg_id and timestamp.isdigit() and signatures):
            return self.refuse("missing headers", Response.text("missing headers", 400))
        if abs(self.clock().timestamp() - int(timestamp)) > 300:
            return self.refuse(
                "timestamp", Response.text("timestamp out of range", 400)
            )
        key = base64.b64decode(self.secret.removeprefix("whsec_"))
        signed = f"{msg_id}.{timestamp}.".encode() + request.body
        expected = base64.b64encode(
            hmac.new(key, signed, hashlib.sha256).digest()
        ).decode()
        ours = [
            part.split(",", 1)[1]
            for part in signatures.split()
            if part.startswith("v1,")
        ]
        if not any(hmac.compare_digest(expected, sig) for sig in ours):
            return self.refuse("signature", Response.text("no matching signature", 400))
        self.ids.append(msg_id)
        self.accepted.append(json.loads(request.body))
        return Response(204, b"")
