"""`web:` — where the planners' page and the JSON API listen.

Present in the config means `stockbridge serve` starts the web server next
to the scheduler; `stockbridge web` serves it alone either way. The address
defaults to loopback: exposing the page is a deliberate act (a reverse proxy
terminating TLS, or `host: 0.0.0.0`). `session_key` signs the page's login
cookie; without it a random key is drawn at start, so sessions end when the
process restarts and several workers behind one balancer would not share
them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from stockbridge.config.errors import config_problem, describe_value
from stockbridge.config.masking import Secret
from stockbridge.config.model_base import StrictModel

__all__ = ["DEFAULT_WEB_PORT", "WebConfig"]

DEFAULT_WEB_PORT = 8040


def _public_address(value: object) -> str:
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return value.rstrip("/")
    raise config_problem(
        "the http(s) address planners open, e.g. https://stock.example.com",
        describe_value(value),
    )


class WebConfig(StrictModel):
    """The web server's address, its public address, and its cookie key."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = DEFAULT_WEB_PORT
    public_url: Annotated[str, BeforeValidator(_public_address)] | None = None
    session_key: Secret | None = None
