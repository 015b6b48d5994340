"""`stockbridge db upgrade`, run the way a user runs it."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from stockbridge.cli.app import app
from stockbridge.store.engine import create_store_engine
from stockbridge.store.migrate import current_revision, head_revision

runner = CliRunner()


def _revision(url: str) -> str | None:
    engine = create_store_engine(url)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def test_upgrade_by_url_reports_the_revisions(empty_store_url: str) -> None:
    first = runner.invoke(app, ["db", "upgrade", "--url", empty_store_url])

    assert first.exit_code == 0, first.output
    assert "revision before: (empty store)" in first.output
    assert f"revision after:  {head_revision()}" in first.output
    assert _revision(empty_store_url) == head_revision()

    second = runner.invoke(app, ["db", "upgrade", "--url", empty_store_url])

    assert second.exit_code == 0, second.output
    assert f"revision before: {head_revision()}" in second.output
    assert "already up to date" in second.output


def test_upgrade_uses_the_store_of_the_config(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'configured.db'}"
    config = tmp_path / "stockbridge.yaml"
    config.write_text(f"store: {url}\n", encoding="utf-8")

    result = runner.invoke(app, ["--config", str(config), "db", "upgrade"])

    assert result.exit_code == 0, result.output
    assert _revision(url) == head_revision()


def test_url_overrides_the_config(tmp_path: Path, sqlite_url: str) -> None:
    config = tmp_path / "stockbridge.yaml"
    config.write_text("store: [not, a, url]\n", encoding="utf-8")

    result = runner.invoke(
        app, ["--config", str(config), "db", "upgrade", "--url", sqlite_url]
    )

    assert result.exit_code == 0, result.output
    assert _revision(sqlite_url) == head_revision()


def test_a_config_error_is_reported_without_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "stockbridge.yaml"
    config.write_text("store: [not, a, url]\n", encoding="utf-8")

    result = runner.invoke(app, ["--config", str(config), "db", "upgrade"])

    assert result.exit_code == 2, "config errors exit 2 in every command"
    assert isinstance(result.exception, SystemExit)  # reported, not raised
    assert str(config) in result.output
    assert "store" in result.output
    assert "store" in result.output


def test_an_unreachable_store_is_reported_without_its_password() -> None:
    url = "postgresql+psycopg://postgres:hunter2-pw@127.0.0.1:1/nowhere"

    result = runner.invoke(app, ["db", "upgrade", "--url", url])

    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # reported, not raised
    assert "cannot upgrade the store postgresql+psycopg://postgres:***@" in (
        result.output
    )
    assert "hunter2-pw" not in result.output
