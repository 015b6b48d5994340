"""API tokens: only their SHA-256 hash is stored, so a leaked store leaks no token.

A token is `sb_` followed by 32 random bytes (URL-safe base64): enough
entropy that an unsalted fast hash is safe, and the lookup stays one indexed
equality. Revoked tokens are kept (revoked_at set) so the audit log's
actors still resolve to a name and role.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, select, update

from stockbridge.store.schema import api_tokens

__all__ = [
    "ROLES",
    "TOKEN_PREFIX",
    "TokenRow",
    "create_token",
    "find_token",
    "hash_token",
    "list_tokens",
    "revoke_token",
    "token_by_id",
]

ROLES = ("viewer", "operator", "admin")
TOKEN_PREFIX = "sb_"  # noqa: S105 - a prefix, not a secret
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""`last_used_at` is written at most this often: readers should not write."""


@dataclass(frozen=True, slots=True)
class TokenRow:
    id: int
    name: str
    role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _row(row: object) -> TokenRow:
    mapping = row._mapping  # type: ignore[attr-defined]
    return TokenRow(
        id=mapping["id"],
        name=mapping["name"],
        role=mapping["role"],
        created_at=mapping["created_at"],
        last_used_at=mapping["last_used_at"],
        revoked_at=mapping["revoked_at"],
    )


_COLUMNS = (
    api_tokens.c.id,
    api_tokens.c.name,
    api_tokens.c.role,
    api_tokens.c.created_at,
    api_tokens.c.last_used_at,
    api_tokens.c.revoked_at,
)


def create_token(
    engine: Engine, *, role: str, name: str, now: datetime
) -> tuple[TokenRow, str]:
    """A new token: its row, and the token itself (shown once, never stored)."""
    if role not in ROLES:
        msg = f"role must be one of {', '.join(ROLES)}, got {role!r}"
        raise ValueError(msg)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        new_id = conn.execute(
            insert(api_tokens)
            .values(name=name, token_hash=hash_token(token), role=role, created_at=now)
            .returning(api_tokens.c.id)
        ).scalar_one()
    return TokenRow(new_id, name, role, now, None, None), token


def find_token(engine: Engine, token: str, *, now: datetime) -> TokenRow | None:
    """The live (unrevoked) token with this text, noting its use; None if none."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    with engine.connect() as conn:
        row = conn.execute(
            select(*_COLUMNS).where(
                api_tokens.c.token_hash == hash_token(token),
                api_tokens.c.revoked_at.is_(None),
            )
        ).first()
    if row is None:
        return None
    found = _row(row)
    if found.last_used_at is None or now - found.last_used_at > LAST_USED_RESOLUTION:
        with engine.begin() as conn:
            conn.execute(
                update(api_tokens)
                .where(api_tokens.c.id == found.id)
                .values(last_used_at=now)
            )
    return found


def token_by_id(engine: Engine, token_id: int) -> TokenRow | None:
    with engine.connect() as conn:
        row = conn.execute(select(*_COLUMNS).where(api_tokens.c.id == token_id)).first()
    return None if row is None else _row(row)


def list_tokens(engine: Engine, *, include_revoked: bool = False) -> list[TokenRow]:
    query = select(*_COLUMNS).order_by(api_tokens.c.id)
    if not include_revoked:
        query = query.where(api_tokens.c.revoked_at.is_(None))
    with engine.connect() as conn:
        return [_row(row) for row in conn.execute(query)]


def revoke_token(engine: Engine, token_id: int, *, now: datetime) -> bool:
    """Revoke a live token; False if there is no such live token."""
    with engine.begin() as conn:
        done = conn.execute(
            update(api_tokens)
            .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    return done.rowcount == 1
