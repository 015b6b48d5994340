"""The JSON API under /api/v1: reads for viewers, syncs and retries for operators.

Quantities are decimal strings, times ISO 8601 UTC with a `Z`, errors RFC
9457 problem details. Every state-changing call is audited.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from stockbridge.mapping.model import StockStatus
from stockbridge.store.audit_log import count_audit, list_audit, record_audit
from stockbridge.store.queries import list_rejects, list_runs
from stockbridge.store.stock_queries import StockFilter, as_contract
from stockbridge.store.tokens import create_token, list_tokens, revoke_token
from stockbridge.store.web_queries import (
    SORTABLE,
    list_alerts,
    list_conflicts,
    outbox_depth,
    stock_page,
    stream_health,
)
from stockbridge.sync.explain_text import report_json
from stockbridge.sync.rejects_retry import retry_rejects
from stockbridge.web.auth import Principal, bearer_scheme, require
from stockbridge.web.context import Web
from stockbridge.web.detail import KeyQuery, key_detail
from stockbridge.web.freshness import Freshness, freshness_by_source
from stockbridge.web.problems import problem_responses

__all__ = ["iso", "router", "stock_json"]

router = APIRouter(
    prefix="/api/v1",
    dependencies=[Depends(bearer_scheme)],
    responses=problem_responses(401, 403, 422),
)
Viewer = Annotated[Principal, Depends(require("viewer"))]
Operator = Annotated[Principal, Depends(require("operator"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10**9)]
Code = Annotated[str | None, Query(max_length=200)]


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def stock_json(record: dict[str, Any]) -> dict[str, Any]:
    """The `stock --format json` contract, with the material's name and days of cover."""
    body = as_contract(record)
    body["name"] = record.get("material_name") or ""
    body["days_of_cover"] = _text(record["days_of_cover"])
    return body


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A store row as JSON: times ISO, decimals as strings."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        if isinstance(value, datetime):
            out[name] = iso(value)
        elif isinstance(value, Decimal):
            out[name] = str(value)
        elif isinstance(value, dict):
            out[name] = {k: str(v) for k, v in value.items()}
        else:
            out[name] = value
    return out


def _freshness_json(found: Freshness) -> dict[str, Any]:
    return {
        "last_success_at": iso(found.last_success_at),
        "age_seconds": found.age_seconds,
        "interval_seconds": found.interval_seconds,
        "level": found.level,
    }


@router.get("/stock", summary="Consolidated stock, filtered and paged")
def get_stock(
    *,
    web: Web,
    _who: Viewer,
    q: Annotated[
        str | None, Query(max_length=200, description="Code or name contains")
    ] = None,
    material: Code = None,
    site: Code = None,
    warehouse: Code = None,
    status: StockStatus | None = None,
    conflicts: bool = False,
    below_safety: bool = False,
    sort: Literal[SORTABLE] = "material",  # type: ignore[valid-type]
    order: Literal["asc", "desc"] = "asc",
    offset: Offset = 0,
    limit: Limit = 50,
) -> dict[str, Any]:
    where = StockFilter(
        material=material,
        name=q,
        site=site,
        warehouse=warehouse,
        status=status.value if status else None,
        conflicts_only=conflicts,
        below_safety_only=below_safety,
    )
    page = stock_page(
        web.engine,
        where,
        sort=sort,
        descending=order == "desc",
        offset=offset,
        limit=limit,
    )
    return {
        "total": page.total,
        "offset": offset,
        "limit": limit,
        "items": [stock_json(r) for r in page.rows],
    }


@router.get(
    "/stock/detail",
    summary="One key: per-source values, freshness, conflict, explain",
    responses=problem_responses(404),
)
def get_stock_detail(
    *,
    web: Web,
    _who: Viewer,
    material: Annotated[str, Query(min_length=1, max_length=200)],
    site: Annotated[str, Query(min_length=1, max_length=200)],
    warehouse: Annotated[str, Query(min_length=1, max_length=200)],
    location: Annotated[str, Query(max_length=200)] = "",
    batch: Annotated[str, Query(max_length=200)] = "",
    status: StockStatus = StockStatus.UNRESTRICTED,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> dict[str, Any]:
    key = KeyQuery(material, site, warehouse, location, batch, status)
    found = key_detail(web, key, days=days)
    if found.row is None and found.report is None:
        raise HTTPException(404, "no stock and no movements for this key")
    explained = None if found.report is None else report_json(found.report, web.zone)
    sources = explained["sources"] if explained else []
    return {
        "key": {
            "material": material,
            "site": site,
            "warehouse": warehouse,
            "location": location,
            "batch": batch,
            "status": status.value,
        },
        "consolidated": None if found.row is None else stock_json(found.row),
        "sources": [
            {
                **figure,
                "freshness": _freshness_json(found.freshness[figure["source"]])
                if figure["source"] in found.freshness
                else None,
            }
            for figure in sources
        ],
        "conflict": explained["conflict"] if explained else None,
        "explain": explained,
    }


@router.get("/conflicts", summary="Keys where the systems disagree")
def get_conflicts(
    web: Web,
    _who: Viewer,
    include_resolved: bool = False,
    offset: Offset = 0,
    limit: Limit = 100,
) -> dict[str, Any]:
    total, rows = list_conflicts(
        web.engine, include_resolved=include_resolved, limit=limit, offset=offset
    )
    return {"total": total, "items": [_plain(r) for r in rows]}


@router.get("/runs", summary="Recent sync runs, newest first")
def get_runs(
    web: Web, _who: Viewer, source: Code = None, limit: Limit = 50
) -> dict[str, Any]:
    return {
        "items": [_plain(r) for r in list_runs(web.engine, source=source, limit=limit)]
    }


@router.get(
    "/sources", summary="Each source's streams: last run, last success, freshness"
)
def get_sources(web: Web, _who: Viewer) -> dict[str, Any]:
    health = stream_health(web.engine)
    fresh = freshness_by_source(web.settings, health, now=web.clock())
    return {
        "items": [
            {
                "source": name,
                "kind": config.kind,
                "enabled": config.enabled,
                "freshness": _freshness_json(fresh[name]),
                "streams": [_plain(r) for r in health if r["source"] == name],
            }
            for name, config in web.settings.sources.items()
        ]
    }


@router.get("/rejects", summary="Quarantined records, newest first")
def get_rejects(
    web: Web,
    _who: Viewer,
    source: Code = None,
    stream: Code = None,
    include_resolved: bool = False,
    limit: Limit = 100,
) -> dict[str, Any]:
    rows = list_rejects(
        web.engine,
        source=source,
        stream=stream,
        include_resolved=include_resolved,
        limit=limit,
    )
    return {"items": [_plain(r) for r in rows]}


@router.get("/alerts", summary="Firing alerts and the outbox depth")
def get_alerts(
    web: Web, _who: Viewer, include_resolved: bool = False, limit: Limit = 100
) -> dict[str, Any]:
    rows = list_alerts(web.engine, include_resolved=include_resolved, limit=limit)
    return {
        "outbox_depth": outbox_depth(web.engine),
        "items": [_plain(r) for r in rows],
    }


class SyncRequest(BaseModel):
    sources: list[str] = Field(default_factory=list, max_length=100)
    full: bool = False


def _remote(request: Request) -> str | None:
    return request.client.host if request.client else None


def start_sync(web: Web, who: Principal, request: Request, wanted: SyncRequest) -> bool:
    """Start the sync and audit it; raise 422 for an unknown source."""
    unknown = [s for s in wanted.sources if s not in web.settings.sources]
    if unknown:
        raise HTTPException(422, f"no source named {', '.join(unknown)}")
    names = wanted.sources or [n for n, s in web.settings.sources.items() if s.enabled]
    started = web.trigger.start(names, full=wanted.full)
    record_audit(
        web.engine,
        actor=who.actor,
        action="sync.trigger",
        target=",".join(names),
        detail={"full": wanted.full, "started": started},
        remote_addr=_remote(request),
        now=web.clock(),
    )
    return started


@router.post(
    "/sync",
    status_code=202,
    summary="Start a sync now (operator)",
    responses=problem_responses(400, 409),
)
def post_sync(
    web: Web, who: Operator, request: Request, body: SyncRequest
) -> JSONResponse:
    if not start_sync(web, who, request, body):
        raise HTTPException(409, "a sync started here is still running")
    return JSONResponse(
        {"started": True, "sources": body.sources or "all"}, status_code=202
    )


def retry_and_audit(
    web: Web, who: Principal, request: Request, source: str | None
) -> int:
    runs = retry_rejects(web.engine, web.settings, source=source)
    record_audit(
        web.engine,
        actor=who.actor,
        action="rejects.retry",
        target=source or "",
        detail={"runs": [r.id for r in runs]},
        remote_addr=_remote(request),
        now=web.clock(),
    )
    return len(runs)


class RetryRequest(BaseModel):
    source: str | None = None


@router.post(
    "/rejects/retry",
    summary="Map open rejects again (operator)",
    responses=problem_responses(400),
)
def post_retry(
    web: Web, who: Operator, request: Request, body: RetryRequest
) -> dict[str, Any]:
    if body.source is not None and body.source not in web.settings.sources:
        raise HTTPException(422, f"no source named {body.source}")
    return {"runs": retry_and_audit(web, who, request, body.source)}


class TokenRequest(BaseModel):
    role: Literal["viewer", "operator", "admin"]
    name: str = Field(default="", max_length=200)


@router.get("/tokens", summary="Live API tokens (admin)")
def get_tokens(web: Web, _who: Admin, include_revoked: bool = False) -> dict[str, Any]:
    rows = list_tokens(web.engine, include_revoked=include_revoked)
    return {
        "items": [
            {
                "id": r.id,
                "name": r.name,
                "role": r.role,
                "created_at": iso(r.created_at),
                "last_used_at": iso(r.last_used_at),
                "revoked_at": iso(r.revoked_at),
            }
            for r in rows
        ]
    }


@router.post(
    "/tokens",
    status_code=201,
    summary="Create a token; shown once (admin)",
    responses=problem_responses(400),
)
def post_token(
    web: Web, who: Admin, request: Request, body: TokenRequest
) -> dict[str, Any]:
    row, token = create_token(
        web.engine, role=body.role, name=body.name, now=web.clock()
    )
    record_audit(
        web.engine,
        actor=who.actor,
        action="token.create",
        target=str(row.id),
        detail={"role": row.role, "name": row.name},
        remote_addr=_remote(request),
        now=web.clock(),
    )
    return {"id": row.id, "role": row.role, "name": row.name, "token": token}


@router.delete(
    "/tokens/{token_id}",
    status_code=204,
    summary="Revoke a token (admin)",
    responses=problem_responses(404),
)
def delete_token(
    web: Web,
    who: Admin,
    request: Request,
    token_id: Annotated[int, Path(ge=1, le=2**62)],
) -> None:
    if not revoke_token(web.engine, token_id, now=web.clock()):
        raise HTTPException(404, "no live token with this id")
    record_audit(
        web.engine,
        actor=who.actor,
        action="token.revoke",
        target=str(token_id),
        remote_addr=_remote(request),
        now=web.clock(),
    )


@router.get("/audit", summary="The audit log, newest first (admin)")
def get_audit(
    web: Web, _who: Admin, offset: Offset = 0, limit: Limit = 100
) -> dict[str, Any]:
    rows = list_audit(web.engine, limit=limit, offset=offset)
    return {"total": count_audit(web.engine), "items": [_plain(r) for r in rows]}
