"""`stockbridge push`: dry-run by default, --apply to send, exit codes that say what happened."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner

from stockbridge.cli import sinks_commands
from stockbridge.cli.context import CliState


def cli() -> typer.Typer:
    """The push command under the global options, as `cli/app.py` mounts commands."""
    app = typer.Typer()

    @app.callback()
    def options(
        ctx: typer.Context, config: Annotated[Path, typer.Option("--config")]
    ) -> None:
        ctx.obj = CliState(config_path=config)

    sinks_commands.register(app)
    return app


def run(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli(), ["--config", str(config), "push", *args])
    return result.exit_code, result.stdout, result.stderr


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def configure(kit: Any, tmp_path: Path) -> tuple[Path, str]:
    """A reporting sink on SQLite and an MES sink whose server is not there."""
    report = f"sqlite:///{tmp_path / 'reporting.db'}"
    kit.config(
        {
            "sources": {
                "mes": {
                    "kind": "mes_rest",
                    "url": f"http://127.0.0.1:{closed_port()}",
                    "retry_attempts": 1,
                    "connect_timeout": 1,
                    "streams": {
                        "stock": {
                            "path": "/stock",
                            "fields": {
                                "material": "m", "site": "s", "warehouse": "w",
                                "quantity": "q", "unit": "u",
                            },
                            "defaults": {"status": "unrestricted"},
                        }
                    },
                }
            },
            "sinks": {
                "report": {"kind": "reporting_table", "url": report},
                "mes_sync": {
                    "kind": "mes_push",
                    "source": "mes",
                    "path": "/api/v1/lineside/stock-sync",
                    "item": {"materialCode": "{material}", "qty": "{quantity}"},
                },
            },
        }
    )  # fmt: skip
    kit.put(
        [
            kit.row("100001", "1000", "LS01", "12.5"),
            kit.row("100002", "1000", "LS01", "3"),
        ]
    )
    return tmp_path / "stockbridge.yaml", report


def test_a_plain_push_is_a_dry_run_of_every_sink(kit: Any, tmp_path: Path) -> None:
    config, report = configure(kit, tmp_path)

    code, out, err = run(config)

    assert (code, err) == (0, "")
    assert "report (reporting_table) -> sqlite:///" in out
    assert "mes_sync (mes_push) -> http://127.0.0.1:" in out
    assert out.count("dry run: nothing sent") == 2
    assert '{"materialCode": "100001", "qty": "12.5"}' in out
    reporting = create_engine(report)
    try:
        with reporting.connect() as conn:
            assert inspect(conn).get_table_names() == []
    finally:
        reporting.dispose()
    assert kit.audit() == []


def test_apply_sends_each_sink_and_a_failing_one_exits_1(
    kit: Any, tmp_path: Path
) -> None:
    config, _ = configure(kit, tmp_path)

    code, out, err = run(config, "--apply", "--actor", "night-shift")

    assert code == 1
    assert "report (reporting_table)" in out
    assert "2 row(s) written in one transaction" in out
    assert "sink 'mes_sync': batch 1 of 1" in err
    assert "nothing was accepted" in err
    audited = {
        (a["actor"], a["detail"]["sink"], a["detail"]["outcome"]) for a in kit.audit()
    }
    assert audited == {
        ("night-shift", "report", "pushed"),
        ("night-shift", "mes_sync", "failed"),
    }

    code, out, _ = run(config, "--apply", "--sink", "report")

    assert code == 0
    assert "2 row(s) written in one transaction" in out  # replace: rewritten whole


def test_an_unknown_sink_is_a_config_error(kit: Any, tmp_path: Path) -> None:
    config, _ = configure(kit, tmp_path)

    code, _, err = run(config, "--sink", "mse_sync")

    assert code == 2
    assert "no sink named 'mse_sync'" in err
    assert "(sinks: mes_sync, report)" in err
