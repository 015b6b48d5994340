"""`stockbridge db ...`: the schema of the central store.

A shared PostgreSQL store changes schema only when someone runs
`stockbridge db upgrade`, so that workers, the web and reporting jobs never
race a migration; an embedded SQLite store upgrades itself on first use and
this command is merely allowed on it.
"""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from stockbridge.cli.config_commands import load_settings
from stockbridge.store.engine import create_store_engine, safe_url
from stockbridge.store.errors import StoreError
from stockbridge.store.migrate import current_revision, upgrade

__all__ = ["register"]

db_app = typer.Typer(
    name="db",
    help="The central store's schema.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade_command(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="The store's SQLAlchemy URL; overrides `store` in the config.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Bring the store's schema to the revision this stockbridge needs."""
    store_url: str | URL = url if url is not None else _configured_store(ctx)
    shown = safe_url(store_url)
    try:
        engine = create_store_engine(store_url)
        try:
            before = current_revision(engine)
            upgrade(engine)
            after = current_revision(engine)
        finally:
            engine.dispose()
    except StoreError as error:
        _fail(str(error))
    except DBAPIError as error:
        _fail(f"cannot upgrade the store {shown}: {error.orig}")
    typer.echo(f"store:           {shown}")
    typer.echo(f"revision before: {before or '(empty store)'}")
    typer.echo(f"revision after:  {after}")
    if before == after:
        typer.echo("already up to date: nothing to do")


def _configured_store(ctx: typer.Context) -> URL:
    return load_settings(ctx).store


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)
