"""The planners' page: server-rendered HTML, a login form, exports, health, audit.

Pages authenticate by the session cookie only; without it they redirect to
the login form. Every form that changes state carries the CSRF token.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import (
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from openpyxl import Workbook

from stockbridge.mapping.model import StockStatus
from stockbridge.store.audit_log import list_audit, record_audit
from stockbridge.store.queries import list_rejects
from stockbridge.store.stock_queries import StockFilter, as_contract, iter_consolidated
from stockbridge.store.tokens import find_token
from stockbridge.store.web_queries import (
    SORTABLE,
    consumption_series,
    place_choices,
    stock_page,
    stream_health,
)
from stockbridge.sync.explain_text import comparison_summary, kind_phrase, line_label
from stockbridge.web.api import SyncRequest, retry_and_audit, start_sync
from stockbridge.web.auth import Principal, authenticate, role_allows
from stockbridge.web.context import Web, WebContext
from stockbridge.web.detail import KeyQuery, key_detail
from stockbridge.web.freshness import freshness_by_source
from stockbridge.web.i18n import LANG_COOKIE, Translator, choose_lang
from stockbridge.web.session import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_LIFETIME,
    csrf_matches,
    new_csrf_token,
)
from stockbridge.web.sparkline import sparkline
from stockbridge.web.templates import environment

__all__ = ["LoginRequired", "router"]

router = APIRouter(include_in_schema=False)
_templates = environment()
PAGE_SIZES = (50, 100, 200)
SPARK_DAYS = 14
EXPORT_COLUMNS = (
    "material", "site", "warehouse", "location", "batch", "status", "quantity",
    "unit", "available", "reserved", "safety_stock", "days_of_cover",
    "chosen_source", "rule", "conflict", "single_source", "as_of",
)  # fmt: skip


class LoginRequired(Exception):  # noqa: N818 - a redirect, not an error
    """The page needs a session; the app turns this into a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def _who(request: Request, web: WebContext, role: str = "viewer") -> Principal:
    principal = authenticate(request, web)
    if principal is None or not principal.by_session:
        raise LoginRequired(
            str(request.url.path)
            + ("?" + request.url.query if request.url.query else "")
        )
    if not role_allows(principal.role, role):
        raise HTTPException(403, f"this needs the {role} role")
    return principal


def _render(
    request: Request, web: WebContext, name: str, who: Principal | None, **values: Any
) -> HTMLResponse:
    lang = choose_lang(request)
    csrf = request.cookies.get(CSRF_COOKIE) or new_csrf_token()
    params = dict(request.query_params)
    params["lang"] = "en" if lang == "zh" else "zh"

    def when(value: datetime | None) -> str:
        return (
            ""
            if value is None
            else value.astimezone(web.zone).strftime("%Y-%m-%d %H:%M")
        )

    html = _templates.get_template(name).render(
        t=Translator(lang), who=who, csrf=csrf, when=when,
        lang_url=f"{request.url.path}?{urlencode(params)}", **values,
    )  # fmt: skip
    response = HTMLResponse(html)
    response.set_cookie(CSRF_COOKIE, csrf, secure=web.secure_cookies, samesite="strict")
    if request.query_params.get("lang") in ("en", "zh"):
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


def _check_csrf(request: Request, submitted: str) -> None:
    if not csrf_matches(request.cookies.get(CSRF_COOKIE), submitted):
        raise HTTPException(
            403, "the form's CSRF token is missing or wrong; reload the page"
        )


@router.get("/login")
def login_form(
    request: Request,
    web: Web,
    next_url: Annotated[str, Query(alias="next", max_length=2000)] = "/",
    failed: bool = False,
) -> HTMLResponse:
    return _render(
        request,
        web,
        "login.html",
        None,
        next=_safe_next(next_url),
        failed=failed,
        notice=None,
    )


def _safe_next(target: str) -> str:
    """Only paths on this site: a login must not redirect elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.post("/login")
def login(
    request: Request,
    web: Web,
    token: Annotated[str, Form(max_length=500)],
    csrf: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=2000)] = "/",  # noqa: A002 - the usual name
) -> Response:
    _check_csrf(request, csrf)
    found = find_token(web.engine, token.strip(), now=web.clock())
    if found is None:
        return RedirectResponse(
            f"/login?failed=1&next={_safe_next(next)}", status_code=303
        )
    record_audit(
        web.engine, actor=f"token {found.id}" + (f" ({found.name})" if found.name else ""),
        action="session.login", remote_addr=request.client.host if request.client else None,
        now=web.clock(),
    )  # fmt: skip
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, web.signer.sign(found.id, now=web.clock()),
        max_age=int(SESSION_LIFETIME.total_seconds()), httponly=True,
        secure=web.secure_cookies, samesite="strict",
    )  # fmt: skip
    return response


@router.post("/logout")
def logout(
    request: Request, web: Web, csrf: Annotated[str, Form(max_length=200)]
) -> Response:
    _check_csrf(request, csrf)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, secure=web.secure_cookies, samesite="strict"
    )
    return response


def _filter(request: Request) -> tuple[StockFilter, dict[str, Any]]:
    q = request.query_params
    status = q.get("status", "")
    if status and status not in {s.value for s in StockStatus}:
        raise HTTPException(422, f"unknown status {status!r}")
    sort = q.get("sort", "material")
    chosen: dict[str, Any] = {
        "q": q.get("q", "")[:200], "site": q.get("site", "")[:200],
        "warehouse": q.get("warehouse", "")[:200], "status": status,
        "conflicts": q.get("conflicts") == "1", "below_safety": q.get("below_safety") == "1",
        "sort": sort if sort in SORTABLE else "material",
        "order": "desc" if q.get("order") == "desc" else "asc",
    }  # fmt: skip
    where = StockFilter(
        name=chosen["q"] or None, site=chosen["site"] or None,
        warehouse=chosen["warehouse"] or None, status=status or None,
        conflicts_only=chosen["conflicts"], below_safety_only=chosen["below_safety"],
    )  # fmt: skip
    return where, chosen


def _int(text: str | None, default: int, low: int, high: int) -> int:
    try:
        value = int(text) if text else default
    except ValueError:
        value = default
    return max(low, min(high, value))


def _detail_url(row: dict[str, Any]) -> str:
    keys = ("material", "site", "warehouse", "location", "batch", "status")
    return "/key?" + urlencode({k: row[k] for k in keys})


@router.get("/")
def stock(request: Request, web: Web) -> HTMLResponse:
    who = _who(request, web)
    where, chosen = _filter(request)
    size = _int(request.query_params.get("size"), PAGE_SIZES[0], 1, PAGE_SIZES[-1])
    offset = _int(request.query_params.get("offset"), 0, 0, 10**9)
    page = stock_page(
        web.engine,
        where,
        sort=chosen["sort"],
        descending=chosen["order"] == "desc",
        offset=offset,
        limit=size,
    )
    now = web.clock()
    since = (now - timedelta(days=SPARK_DAYS)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    series = consumption_series(
        web.engine, [r["material"] for r in page.rows], since=since, days=SPARK_DAYS + 1
    )
    for row in page.rows:
        mine = [
            v
            for (m, s), v in series.items()
            if m == row["material"] and s == row["chosen_source"]
        ]
        row["sparkline"] = sparkline(
            mine[0] if mine else [Decimal(0)] * (SPARK_DAYS + 1)
        )
        row["detail_url"] = _detail_url(row)
    params = {
        k: v for k, v in request.query_params.items() if k not in ("offset", "partial")
    }
    base = urlencode(params)
    last_offset = max(0, (page.total - 1) // size * size)
    pager = [
        ("first", f"/?{base}&offset=0"), ("prev", f"/?{base}&offset={max(0, offset - size)}"),
        ("next", f"/?{base}&offset={min(last_offset, offset + size)}"), ("last", f"/?{base}&offset={last_offset}"),
    ]  # fmt: skip
    sites, warehouses = place_choices(web.engine)
    return _render(
        request, web, "stock.html", who, f=chosen, rows=page.rows, total=page.total,
        first_row=offset + 1 if page.rows else 0, last_row=offset + len(page.rows),
        pager=pager, query=urlencode({k: v for k, v in params.items() if k != "lang"}),
        sites=sites, warehouses=warehouses, statuses=[s.value for s in StockStatus],
        sortable=SORTABLE, notice=None,
        freshness=freshness_by_source(web.settings, stream_health(web.engine), now=now),
    )  # fmt: skip


def _comparison_rows(
    detail_report: Any, comparison: Any, web: WebContext
) -> list[dict[str, str]]:
    warehouse = detail_report.key.warehouse

    def cell(line: Any) -> str:
        return (
            "" if line is None else f"{kind_phrase(line, warehouse)} {line_label(line)}"
        )

    def when(value: datetime) -> str:
        return value.astimezone(web.zone).strftime("%Y-%m-%d %H:%M")

    rows = [(min(p.a.posted_at, p.b.posted_at), p.a, p.b, "") for p in comparison.pairs]
    for u in comparison.unmatched:
        note = "unmatched" if u.suspicion is None else u.suspicion.value
        first = u.line if u.line.source == comparison.a else None
        second = u.line if u.line.source == comparison.b else None
        rows.append((u.line.posted_at, first, second, note))
    return [
        {
            "posted": when(at),
            "a": cell(a),
            "qa": str(a.quantity) if a else "",
            "b": cell(b),
            "qb": str(b.quantity) if b else "",
            "note": note,
        }
        for at, a, b, note in sorted(rows, key=lambda r: r[0])
    ]


@router.get("/key")
def key_page(
    *,
    request: Request, web: Web, material: str, site: str, warehouse: str,
    location: str = "", batch: str = "", status: StockStatus = StockStatus.UNRESTRICTED,
    partial: bool = False,
) -> HTMLResponse:  # fmt: skip
    who = _who(request, web)
    key = KeyQuery(material, site, warehouse, location, batch, status)
    found = key_detail(web, key)
    report = found.report
    comparisons = [] if report is None else [
        {"a": c.a, "b": c.b, "summary": comparison_summary(report, c), "rows": _comparison_rows(report, c, web)}
        for c in report.comparisons
    ]  # fmt: skip
    t = Translator(choose_lang(request))
    words = {"green": t("fresh"), "amber": t("stale"), "red": t("very_stale")}

    def fresh_word(source: str) -> str:
        f = found.freshness.get(source)
        return t("never") if f is None or f.last_success_at is None else words[f.level]

    values = {
        "key": key, "report": report, "row": found.row, "comparisons": comparisons,
        "figures": [] if report is None else report.figures, "freshness": found.freshness,
        "fresh_word": fresh_word, "notice": None,
    }  # fmt: skip
    return _render(
        request, web, "drill.html" if partial else "detail.html", who, **values
    )


def _export_rows(web: WebContext, where: StockFilter) -> Iterator[list[str]]:
    for record in iter_consolidated(web.engine, where):
        body = as_contract(record)
        body["days_of_cover"] = (
            "" if record["days_of_cover"] is None else str(record["days_of_cover"])
        )
        yield [
            str(body[c]).lower() if isinstance(body[c], bool) else str(body[c])
            for c in EXPORT_COLUMNS
        ]


@router.get("/export.csv")
def export_csv(request: Request, web: Web) -> StreamingResponse:
    _who(request, web)
    where, _chosen = _filter(request)

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_COLUMNS)
        for row in _export_rows(web, where):
            writer.writerow(row)
            if buffer.tell() > 65536:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(
        lines(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="stock.csv"'},
    )  # fmt: skip


@router.get("/export.xlsx")
def export_xlsx(request: Request, web: Web) -> Response:
    """Quantities stay text: Excel's numbers are binary floats."""
    _who(request, web)
    where, _chosen = _filter(request)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("stock")
    sheet.append(list(EXPORT_COLUMNS))
    for row in _export_rows(web, where):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return Response(
        out.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="stock.xlsx"'},
    )


@router.get("/health")
def health_page(request: Request, web: Web, notice: str = "") -> HTMLResponse:
    who = _who(request, web)
    runs = stream_health(web.engine)
    t = Translator(choose_lang(request))
    return _render(
        request, web, "health.html", who, runs=runs,
        freshness=freshness_by_source(web.settings, runs, now=web.clock()),
        rejects=list_rejects(web.engine, limit=50), can_operate=role_allows(who.role, "operator"),
        notice=t(notice) if notice in ("sync_started", "sync_busy", "rejects_retried") else None,
    )  # fmt: skip


@router.post("/health/sync")
def health_sync(
    request: Request, web: Web, csrf: Annotated[str, Form(max_length=200)]
) -> Response:
    who = _who(request, web, "operator")
    _check_csrf(request, csrf)
    started = start_sync(web, who, request, SyncRequest())
    return RedirectResponse(
        f"/health?notice={'sync_started' if started else 'sync_busy'}", status_code=303
    )


@router.post("/health/retry")
def health_retry(
    request: Request, web: Web, csrf: Annotated[str, Form(max_length=200)]
) -> Response:
    who = _who(request, web, "operator")
    _check_csrf(request, csrf)
    retry_and_audit(web, who, request, None)
    return RedirectResponse("/health?notice=rejects_retried", status_code=303)


@router.get("/audit")
def audit_page(request: Request, web: Web) -> HTMLResponse:
    who = _who(request, web, "admin")
    return _render(
        request,
        web,
        "audit.html",
        who,
        entries=list_audit(web.engine, limit=200),
        notice=None,
    )
