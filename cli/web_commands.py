"""`stockbridge web` (the page and API alone) and `stockbridge token create|list|revoke`."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from stockbridge.cli.config_commands import load_settings
from stockbridge.cli.logging_setup import setup_logging
from stockbridge.config.web_section import DEFAULT_WEB_PORT
from stockbridge.store.audit_log import record_audit
from stockbridge.store.database import open_store
from stockbridge.store.tokens import ROLES, create_token, list_tokens, revoke_token
from stockbridge.web.server import serve_forever

__all__ = ["register"]

token_app = typer.Typer(name="token", help="API tokens for the web page and API.")


def _actor() -> str:
    return f"cli ({getpass.getuser()})"


def web(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option(help="Listen address (default: config, else 127.0.0.1)."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help=f"Port (default: config, else {DEFAULT_WEB_PORT})."),
    ] = None,
) -> None:
    """Serve the planners' page and the JSON API (without the scheduler)."""
    settings = load_settings(ctx)
    setup_logging()
    engine = open_store(settings.store)
    chosen_host = host or (settings.web.host if settings.web else "127.0.0.1")
    chosen_port = (
        port
        if port is not None
        else (settings.web.port if settings.web else DEFAULT_WEB_PORT)
    )
    typer.echo(f"serving http://{chosen_host}:{chosen_port}", err=True)
    try:
        serve_forever(engine, settings, chosen_host, chosen_port)
    finally:
        engine.dispose()


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")],
    name: Annotated[str, typer.Option(help="Who or what the token is for.")] = "",
) -> None:
    """Create a token and print it once: only its hash is kept."""
    if role not in ROLES:
        Console(stderr=True).print(
            f"--role must be one of {', '.join(ROLES)}", markup=False
        )
        raise typer.Exit(2)
    settings = load_settings(ctx)
    engine = open_store(settings.store)
    try:
        now = datetime.now(UTC)
        row, token = create_token(engine, role=role, name=name, now=now)
        record_audit(
            engine, actor=_actor(), action="token.create", target=str(row.id),
            detail={"role": role, "name": name}, now=now,
        )  # fmt: skip
    finally:
        engine.dispose()
    typer.echo(token)
    typer.echo(f"token {row.id} ({role}) created; it is shown only this once", err=True)


@token_app.command("list")
def token_list(
    ctx: typer.Context,
    revoked: Annotated[
        bool, typer.Option("--revoked", help="Include revoked tokens.")
    ] = False,
) -> None:
    """List tokens (never their text)."""
    settings = load_settings(ctx)
    engine = open_store(settings.store)
    try:
        rows = list_tokens(engine, include_revoked=revoked)
    finally:
        engine.dispose()
    table = Table(title="API tokens")
    for column in ("id", "name", "role", "created", "last used", "revoked"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r.id), r.name, r.role, r.created_at.isoformat(timespec="seconds"),
            r.last_used_at.isoformat(timespec="seconds") if r.last_used_at else "",
            r.revoked_at.isoformat(timespec="seconds") if r.revoked_at else "",
        )  # fmt: skip
    Console().print(table)


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context, token_id: Annotated[int, typer.Argument(help="The token's id.")]
) -> None:
    """Revoke a token: its API calls and page sessions stop working at once."""
    settings = load_settings(ctx)
    engine = open_store(settings.store)
    try:
        now = datetime.now(UTC)
        if not revoke_token(engine, token_id, now=now):
            Console(stderr=True).print(f"no live token {token_id}", markup=False)
            raise typer.Exit(1)
        record_audit(
            engine, actor=_actor(), action="token.revoke", target=str(token_id), now=now
        )
    finally:
        engine.dispose()
    typer.echo(f"token {token_id} revoked")


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command("web")(web)
    app.add_typer(token_app)
