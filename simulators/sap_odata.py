"""SAP S/4HANA OData v2 simulator: material stock, material documents, units of measure.

Serves, under `/sap/opu/odata/sap/<SERVICE>/`, the services a stock connector
uses (reference/sap.md §1-§5): API_MATERIAL_STOCK_SRV (`A_MatlStkInAcctMod`,
`A_MaterialStock`), API_MATERIAL_DOCUMENT_SRV (`A_MaterialDocumentHeader`
with `to_MaterialDocumentItem`, `A_MaterialDocumentItem`; deep-insert POST)
and API_PRODUCT_SRV (`A_ProductUnitsOfMeasure`), each with a `$metadata`
that SAP's `pyodata` loads. Data is plant 1000's share of the ground truth,
rebuilt once into `sap.sqlite` (see `sap_share`).

Behaviour a client must cope with: Atom unless JSON is asked for; server-side
page cap (no `$top`: 100 rows, `$top` over 5000: 5000) with `__next` links
carrying `$skiptoken`; basic auth and `sap-client`; CSRF token + session
cookie for POST; SAP error bodies. The simulated system's clock zone
(`timezone`, default UTC) decides CreationDate/CreationTime and PostingDate.
While `faults.late_postings` is on, truth lines marked late are invisible
(documents, items, their effect on stock and on cancellation flags).
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, unquote, urlencode
from zoneinfo import ZoneInfo

import orjson

from stockbridge.simulators.http_server import Faults, Request, Response, SimServer
from stockbridge.simulators.odata_engine import Reader
from stockbridge.simulators.odata_query import QueryError
from stockbridge.simulators.odata_render import error_body
from stockbridge.simulators.sap_bindings import (
    DOCUMENT_BINDINGS,
    PRODUCT_BINDINGS,
    STOCK_BINDINGS,
)
from stockbridge.simulators.sap_edmx import render_metadata
from stockbridge.simulators.sap_gateway import Gateway, Logon
from stockbridge.simulators.sap_posting import PostingError, post_goods_movement
from stockbridge.simulators.sap_request import (
    ReadRequest,
    parse_read_request,
    render_read,
)
from stockbridge.simulators.sap_services import (
    MATERIAL_STOCK_SERVICE,
    PRODUCT_SERVICE,
    material_document_service,
)
from stockbridge.simulators.sap_share import build_sap_share, open_share

__all__ = [
    "SERVICE_PATH",
    "SapODataApp",
    "SapODataServer",
    "create_sap_odata_app",
    "start_sap_odata",
]

SERVICE_PATH = "/sap/opu/odata/sap/"


class SapODataApp:
    """The `Request -> Response` function SimServer serves, with its database pool."""

    def __init__(
        self,
        db_path: Path,
        *,
        username: str,
        password: str,
        client: str = "100",
        faults: Faults | None = None,
        timezone: str = "UTC",
        debit_credit_code: bool = True,
        plant: str = "1000",
        system_id: str = "S4H",
        page_size: int = 100,
        max_page_size: int = 5000,
        clock_floor: datetime | None = None,
    ) -> None:
        self.faults = faults or Faults()
        self.gateway = Gateway(
            username=username,
            password=password,
            client=client,
            system_id=system_id,
            faults=self.faults,
        )
        self.zone = ZoneInfo(timezone)
        self.plant = plant
        self.page_size = page_size
        self.max_page_size = max_page_size
        self._db_path = db_path
        self._pool: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._all: list[sqlite3.Connection] = []
        self._pool_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._last_entered = clock_floor or datetime.now(UTC)
        documents = material_document_service(debit_credit_code=debit_credit_code)
        self.readers = {
            s.name: Reader(s, b)
            for s, b in (
                (MATERIAL_STOCK_SERVICE, STOCK_BINDINGS),
                (documents, DOCUMENT_BINDINGS),
                (PRODUCT_SERVICE, PRODUCT_BINDINGS),
            )
        }
        self.metadata = {
            name: render_metadata(r.service) for name, r in self.readers.items()
        }
        with self.connection() as conn:
            self._slocs = {
                r[0]
                for r in conn.execute(
                    "SELECT DISTINCT sloc FROM stock UNION SELECT sloc FROM item"
                )
            }

    # --- plumbing -----------------------------------------------------------

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = open_share(self._db_path)
            with self._pool_lock:
                self._all.append(conn)
        try:
            yield conn
        finally:
            self._pool.put(conn)

    def close(self) -> None:
        with self._pool_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()

    def __call__(self, request: Request) -> Response:
        if not request.path.lower().startswith(SERVICE_PATH):
            return Response.text(
                "<html><body>Service cannot be reached</body></html>", 404, "text/html"
            )
        logon = self.gateway.logon(request)
        if isinstance(logon, Response):
            return logon
        segments = request.path[len(SERVICE_PATH) :].split("/")
        service = segments[0].upper()
        wants_json = request.arg(
            "$format", ""
        ) == "json" or "application/json" in request.header("accept")
        if service not in self.readers:
            return self._error(
                "/IWFND/MED/170",
                f"No service found for namespace '/SAP/', name '{service}', version '0001'",
                service,
                wants_json,
                404,
            )
        response = self._dispatch(request, logon, service, segments[1:], wants_json)
        response.headers.setdefault("dataserviceversion", "2.0")
        if (
            request.method in ("GET", "HEAD")
            and request.header("x-csrf-token").lower() == "fetch"
        ):
            self.gateway.fetch_token(logon, response)
        return response

    def _dispatch(
        self,
        request: Request,
        logon: Logon,
        service: str,
        segments: list[str],
        wants_json: bool,
    ) -> Response:
        try:
            return self._route(request, logon, service, segments, wants_json)
        except QueryError as exc:
            return self._error(exc.code, str(exc), service, wants_json, exc.status)
        except PostingError as exc:
            return self._error(exc.code, exc.message, service, wants_json, exc.status)

    def _route(
        self,
        request: Request,
        logon: Logon,
        service: str,
        segments: list[str],
        wants_json: bool,
    ) -> Response:
        resource = "/".join(segments)
        if request.method in ("GET", "HEAD"):
            if resource == "$metadata":
                return Response(
                    200,
                    self.metadata[service],
                    {"Content-Type": "application/xml; charset=utf-8"},
                )
            return self._read(request, service, segments, wants_json)
        if request.method == "POST":
            forbidden = self.gateway.check_token(logon, request)
            if forbidden is not None:
                return forbidden
            if (
                service == "API_MATERIAL_DOCUMENT_SRV"
                and resource == "A_MaterialDocumentHeader"
            ):
                return self._post(request, logon, wants_json)
        raise QueryError(
            f"Method '{request.method}' not allowed for resource '{resource}'",
            code="/IWBEP/CM_MGW_RT/003",
            status=405,
        )

    def _error(
        self, code: str, message: str, service: str, as_json: bool, status: int
    ) -> Response:
        body, content_type = error_body(code, message, service=service, as_json=as_json)
        return Response(status, body, {"Content-Type": content_type})

    # --- reads --------------------------------------------------------------

    def _read(
        self, request: Request, service: str, segments: list[str], wants_json: bool
    ) -> Response:
        reader = self.readers[service]
        root = f"http://{request.header('host')}{SERVICE_PATH}{service}/"
        if not [s for s in segments if s]:
            return _service_document(reader, root, wants_json)
        read = parse_read_request(reader, [unquote(s) for s in segments], request.query)
        with self.connection() as conn:
            return render_read(
                read,
                conn,
                reader,
                root=root,
                hold_late=self.faults.late_postings,
                wants_json=wants_json,
                next_url=lambda token: _next_url(request, root, token),
                page_size=self.page_size,
                max_page_size=self.max_page_size,
            )

    # --- writes -------------------------------------------------------------

    def _post(self, request: Request, logon: Logon, wants_json: bool) -> Response:
        try:
            payload = orjson.loads(request.body or b"null")
        except orjson.JSONDecodeError:
            raise QueryError(
                "The request body is not valid JSON", code="/IWBEP/CM_MGW_RT/000"
            ) from None
        with self._write_lock, self.connection() as conn:
            entered = max(datetime.now(UTC), self._last_entered + timedelta(seconds=1))
            year, doc = post_goods_movement(
                conn,
                payload,
                plant=self.plant,
                slocs=self._slocs,
                user=logon.user,
                entered=entered,
                zone=self.zone,
            )
            self._last_entered = entered
        service = "API_MATERIAL_DOCUMENT_SRV"
        reader = self.readers[service]
        root = f"http://{request.header('host')}{SERVICE_PATH}{service}/"
        key = {"MaterialDocumentYear": year, "MaterialDocument": doc}
        read = ReadRequest(
            "A_MaterialDocumentHeader", key=key, expand=["to_MaterialDocumentItem"]
        )
        with self.connection() as conn:
            response = render_read(
                read,
                conn,
                reader,
                root=root,
                hold_late=self.faults.late_postings,
                wants_json=wants_json,
                next_url=lambda _: "",
                page_size=self.page_size,
                max_page_size=self.max_page_size,
            )
        response.status = 201
        response.headers["Location"] = (
            f"{root}A_MaterialDocumentHeader(MaterialDocumentYear='{year}',MaterialDocument='{doc}')"
        )
        return response


def _next_url(request: Request, root: str, token: int) -> str:
    params = [
        (k, v)
        for k, values in request.query.items()
        if k != "$skiptoken"
        for v in values[:1]
    ]
    params.append(("$skiptoken", str(token)))
    path = request.path[len(SERVICE_PATH) :].split("/", 1)[1]
    query = urlencode(params, quote_via=quote, safe="$',()")
    return f"{root}{path}?{query}"


def _service_document(reader: Reader, root: str, wants_json: bool) -> Response:
    names = [s.name for s in reader.service.sets]
    if wants_json:
        return Response(
            200,
            orjson.dumps({"d": {"EntitySets": names}}),
            {"Content-Type": "application/json"},
        )
    collections = "".join(
        f'<app:collection href="{n}"><atom:title type="text">{n}</atom:title></app:collection>'
        for n in names
    )
    xml = (
        '<?xml version="1.0" encoding="utf-8"?><app:service xml:base="' + root + '"'
        ' xmlns:app="http://www.w3.org/2007/app" xmlns:atom="http://www.w3.org/2005/Atom">'
        f'<app:workspace><atom:title type="text">Data</atom:title>{collections}</app:workspace></app:service>'
    )
    return Response(
        200, xml.encode(), {"Content-Type": "application/atomsvc+xml; charset=utf-8"}
    )


class SapODataServer(SimServer):
    """SimServer that also closes the app's database connections on stop."""

    def __init__(self, app: SapODataApp, *, port: int = 0) -> None:
        super().__init__(app, port=port, faults=app.faults, name="sap-odata")
        self.sap = app

    def service_url(self, service: str) -> str:
        return f"{self.url}{SERVICE_PATH}{service}/"

    def start(self) -> SapODataServer:
        super().start()
        return self

    def __enter__(self) -> SapODataServer:
        return self.start()

    def stop(self) -> None:
        super().stop()
        self.sap.close()


def _truth_now(truth_path: Path) -> datetime | None:
    conn = sqlite3.connect(f"file:{truth_path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT now_at FROM meta").fetchone()
    finally:
        conn.close()
    return datetime.fromisoformat(row[0]) if row else None


def create_sap_odata_app(
    truth_path: Path | str,
    work_dir: Path | str,
    *,
    username: str,
    password: str,
    client: str = "100",
    faults: Faults | None = None,
    timezone: str = "UTC",
    debit_credit_code: bool = True,
    page_size: int = 100,
    max_page_size: int = 5000,
) -> SapODataApp:
    """Build (or reuse) `work_dir/sap.sqlite` from the truth and return the app over it."""
    truth, work = Path(truth_path), Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    db_path = work / "sap.sqlite"
    build_sap_share(truth, db_path, timezone=timezone)
    now_at = _truth_now(truth)
    floor = max(now_at, datetime.now(UTC)) if now_at else None
    return SapODataApp(
        db_path,
        username=username,
        password=password,
        client=client,
        faults=faults,
        timezone=timezone,
        debit_credit_code=debit_credit_code,
        page_size=page_size,
        max_page_size=max_page_size,
        clock_floor=floor,
    )


def start_sap_odata(
    truth_path: Path | str,
    work_dir: Path | str,
    port: int = 0,
    faults: Faults | None = None,
    *,
    username: str = "STOCKBRIDGE",
    password: str = "Welcome1",  # noqa: S107 - the simulator's documented demo logon
    client: str = "100",
    timezone: str = "UTC",
    debit_credit_code: bool = True,
) -> SapODataServer:
    """Start the simulator on 127.0.0.1:`port` (0: any free port); stop() it when done."""
    app = create_sap_odata_app(
        truth_path,
        work_dir,
        username=username,
        password=password,
        client=client,
        faults=faults,
        timezone=timezone,
        debit_credit_code=debit_credit_code,
    )
    return SapODataServer(app, port=port).start()
