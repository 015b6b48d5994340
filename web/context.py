"""What every request handler needs: the store, the settings, the clock, the keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from sqlalchemy import Engine

from stockbridge.config.models import Settings
from stockbridge.web.actions import SyncTrigger
from stockbridge.web.session import SessionSigner

__all__ = ["Web", "WebContext", "web_context"]


@dataclass(frozen=True, slots=True)
class WebContext:
    engine: Engine
    settings: Settings
    signer: SessionSigner
    clock: Callable[[], datetime]
    trigger: SyncTrigger
    secure_cookies: bool

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)


def web_context(request: Request) -> WebContext:
    found: WebContext = request.app.state.web
    return found


Web = Annotated[WebContext, Depends(web_context)]
