"""A small threaded HTTP server with fault knobs, shared by every HTTP/SOAP simulator.

Each simulator is a function from `Request` to `Response`; this module puts it
on a loopback port and, in front of it, the faults real systems show: 5xx
bursts, 429 with Retry-After, latency, connections dropped mid-body, truncated
bodies. Faults are drawn from a seeded RNG so a failing test replays. They can
be changed at run time through `server.faults` or over HTTP:
`GET/POST /_sim/faults` (JSON), and `GET /_sim/requests` lists what was asked.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

__all__ = ["Faults", "Request", "Response", "SimServer"]


@dataclass
class Faults:
    """Fault knobs. Rates are probabilities per request, 0 to 1."""

    error_rate: float = 0.0
    """Answer 500, 502 or 503 instead of the real reply."""
    throttle_rate: float = 0.0
    """Answer 429 with `Retry-After: retry_after`."""
    retry_after: int = 1
    latency: float = 0.0
    """Seconds added before every reply."""
    drop_rate: float = 0.0
    """Send the headers and half the body, then close the connection."""
    truncate_rate: float = 0.0
    """Send a body cut short, with a Content-Length that matches the cut."""
    session_expiry_calls: int = 0
    """Sessions/tokens expire after this many calls (0: never). Used by simulators with sessions."""
    late_postings: bool = False
    """Hold back the movements marked late in the truth until switched off."""
    seed: int = 0

    def update(self, **changes: object) -> None:
        """Change knobs by name; unknown names are an error, not ignored."""
        names = {f.name for f in fields(self)}
        for key, value in changes.items():
            if key not in names:
                msg = f"unknown fault knob {key!r}; known: {sorted(names)}"
                raise ValueError(msg)
            setattr(self, key, type(getattr(self, key))(value))


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    client: str = ""

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)
    """`Set-Cookie` values, one header line each (a dict cannot hold two)."""

    @classmethod
    def json(cls, payload: object, status: int = 200, **headers: str) -> Response:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return cls(
            status, body, {"Content-Type": "application/json; charset=utf-8", **headers}
        )

    @classmethod
    def text(
        cls, text: str, status: int = 200, content_type: str = "text/plain"
    ) -> Response:
        return cls(
            status,
            text.encode("utf-8"),
            {"Content-Type": f"{content_type}; charset=utf-8"},
        )


App = Callable[[Request], Response]


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-reply is normal here (tests kill clients)."""

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class SimServer:
    """Serves `app` on 127.0.0.1 with the fault knobs in front of it."""

    def __init__(
        self, app: App, *, port: int = 0, faults: Faults | None = None, name: str = ""
    ) -> None:
        self.app = app
        self.name = name
        self.faults = faults or Faults()
        self.requests: deque[tuple[str, str]] = deque(maxlen=10_000)
        self._rng = random.Random(self.faults.seed)
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SimServer:
        """Serve on a thread; a no-op if serving (`with start_x(...)` enters a started server)."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name=f"sim-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reseed(self, seed: int) -> None:
        with self._lock:
            self.faults.seed = seed
            self._rng = random.Random(seed)

    def _draw(self) -> float:
        with self._lock:
            return self._rng.random()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in two writes; with Nagle on, a keep-alive
            # client's delayed ACK stalls every reply by ~40 ms.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    client=self.client_address[0],
                )
                if parts.path.startswith("/_sim/"):
                    self._send(server._control(request))
                    return
                server.requests.append((request.method, self.path))
                server._serve_with_faults(request, self)

            def _send(
                self,
                response: Response,
                body: bytes | None = None,
                length: int | None = None,
            ) -> None:
                payload = response.body if body is None else body
                self.send_response(response.status)
                for key, value in response.headers.items():
                    self.send_header(key, value)
                for cookie in response.cookies:
                    self.send_header("Set-Cookie", cookie)
                self.send_header(
                    "Content-Length", str(len(payload) if length is None else length)
                )
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve  # noqa: N815

        return Handler

    def _serve_with_faults(
        self, request: Request, handler: BaseHTTPRequestHandler
    ) -> None:
        faults = self.faults
        send = handler._send  # type: ignore[attr-defined]
        if faults.latency:
            time.sleep(faults.latency)
        if faults.error_rate and self._draw() < faults.error_rate:
            status = (500, 502, 503)[int(self._draw() * 3)]
            send(Response.text(f"simulated fault {status}", status))
            return
        if faults.throttle_rate and self._draw() < faults.throttle_rate:
            send(
                Response(
                    429, b"Too Many Requests", {"Retry-After": str(faults.retry_after)}
                )
            )
            return
        try:
            response = self.app(request)
        except Exception as exc:  # noqa: BLE001 - a simulator bug must show as a 500, not hang the client
            response = Response.text(f"simulator error: {exc!r}", 500)
        if faults.drop_rate and self._draw() < faults.drop_rate:
            half = response.body[: len(response.body) // 2]
            send(response, body=half, length=len(response.body))
            handler.close_connection = True
            handler.wfile.flush()
            handler.connection.shutdown(2)
            return
        if faults.truncate_rate and self._draw() < faults.truncate_rate:
            send(response, body=response.body[: len(response.body) // 2])
            return
        send(response)

    def _control(self, request: Request) -> Response:
        if request.path == "/_sim/faults":
            if request.method == "POST":
                try:
                    self.faults.update(**json.loads(request.body or b"{}"))
                except (ValueError, TypeError) as exc:
                    return Response.json({"error": str(exc)}, 400)
                self.reseed(self.faults.seed)
            return Response.json(asdict(self.faults))
        if request.path == "/_sim/requests":
            return Response.json([{"method": m, "path": p} for m, p in self.requests])
        return Response.json({"error": "unknown control path"}, 404)
