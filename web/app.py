"""The web application: JSON API, page, `/metrics` and `/healthz` on one FastAPI app."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, text

from stockbridge import __version__
from stockbridge.config.models import Settings
from stockbridge.web import api, pages
from stockbridge.web.actions import SyncTrigger
from stockbridge.web.auth import require
from stockbridge.web.context import Web, WebContext
from stockbridge.web.metrics import metrics_registry
from stockbridge.web.problems import install_problem_handlers
from stockbridge.web.session import SessionSigner

__all__ = ["create_app"]


def _now() -> datetime:
    return datetime.now(UTC)


def create_app(
    engine: Engine,
    settings: Settings,
    *,
    clock: Callable[[], datetime] = _now,
) -> FastAPI:
    web_config = settings.web
    key = (
        web_config.session_key.get_secret_value().encode("utf-8")
        if web_config is not None and web_config.session_key is not None
        else secrets.token_bytes(32)
    )
    public = web_config.public_url if web_config is not None else None
    app = FastAPI(
        title="stockbridge",
        version=__version__,
        description="Consolidated stock, conflicts, sync runs and source health.",
    )
    app.state.web = WebContext(
        engine=engine,
        settings=settings,
        signer=SessionSigner(key),
        clock=clock,
        trigger=SyncTrigger(engine, settings),
        secure_cookies=bool(public and public.startswith("https://")),
    )
    install_problem_handlers(app)

    async def to_login(_request: Request, error: Exception) -> Response:
        assert isinstance(error, pages.LoginRequired)  # noqa: S101 - registered for it
        return RedirectResponse(f"/login?next={quote(error.next_url)}", status_code=303)

    app.add_exception_handler(pages.LoginRequired, to_login)
    app.include_router(api.router)
    app.include_router(pages.router)
    registry = metrics_registry(engine)

    @app.get(
        "/metrics", include_in_schema=False, dependencies=[Depends(require("viewer"))]
    )
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get(
        "/healthz",
        summary="Liveness for load balancers: the store answers",
        response_class=PlainTextResponse,
    )
    def healthz(web: Web) -> PlainTextResponse:
        with web.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return PlainTextResponse("ok")

    return app
