"""Who is asking, and may they: bearer tokens for tools, a session cookie for the page.

Roles are ranked (viewer < operator < admin): a role may do everything the
ones below it may. No credentials -> 401 with `WWW-Authenticate: Bearer`;
a valid token with too small a role -> 403. A state-changing request that
authenticates by cookie must carry the CSRF token too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request
from fastapi.security import HTTPBearer

from stockbridge.store.tokens import ROLES, find_token, token_by_id
from stockbridge.web.context import Web, WebContext
from stockbridge.web.session import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    csrf_matches,
)

__all__ = ["Principal", "authenticate", "bearer_scheme", "require", "role_allows"]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Declares the scheme in the OpenAPI document; `authenticate` reads the header.
bearer_scheme = HTTPBearer(
    auto_error=False,
    description="An API token from `stockbridge token create` (sb_...).",
)


@dataclass(frozen=True, slots=True)
class Principal:
    token_id: int
    name: str
    role: str
    by_session: bool

    @property
    def actor(self) -> str:
        """How the audit log names this caller: the token's id and name."""
        return f"token {self.token_id}" + (f" ({self.name})" if self.name else "")


def role_allows(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


def authenticate(request: Request, web: WebContext) -> Principal | None:
    """The caller by bearer token, else by session cookie; None if neither is valid."""
    now = web.clock()
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() == "bearer" and credential:
        found = find_token(web.engine, credential.strip(), now=now)
        if found is None:
            return None
        return Principal(found.id, found.name, found.role, by_session=False)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    token_id = web.signer.token_id(cookie, now=now)
    if token_id is None:
        return None
    row = token_by_id(web.engine, token_id)
    if row is None or row.revoked_at is not None:
        return None
    return Principal(row.id, row.name, row.role, by_session=True)


def require(role: str) -> Callable[..., Principal]:
    """A dependency admitting callers with at least `role`."""

    def dependency(request: Request, web: Web) -> Principal:
        principal = authenticate(request, web)
        if principal is None:
            raise HTTPException(
                401,
                "a valid API token is required (Authorization: Bearer sb_...)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not role_allows(principal.role, role):
            raise HTTPException(403, f"this needs the {role} role")
        if (
            principal.by_session
            and request.method not in _SAFE_METHODS
            and not csrf_matches(
                request.cookies.get(CSRF_COOKIE), request.headers.get(CSRF_HEADER)
            )
        ):
            raise HTTPException(403, "the CSRF token is missing or wrong")
        return principal

    return dependency
