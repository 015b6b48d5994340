"""`stockbridge alerts list | test | run` on a real store and a real receiver."""

from __future__ import annotations

import textwrap
from pathlib import Path

import typer
from typer.testing import CliRunner

from stockbridge.cli import alerts_commands
from stockbridge.cli.context import CliState


def app_for(config: Path) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = CliState(config_path=config)

    alerts_commands.register(app)
    return app


def test_test_run_and_list(tmp_path, receivers, make_settings) -> None:
    from datetime import UTC, datetime

    real_time = receivers.FakeClock(datetime.now(UTC))
    good = receivers.DingTalkReceiver(real_time, secret="SECcli").start()
    config = tmp_path / "cli.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            store: sqlite:///{tmp_path / "store.db"}
            alerts:
              channels:
                ding: {{kind: dingtalk, url: "{good.url}", secret: SECcli}}
                broken: {{kind: dingtalk, url: "{good.url}", secret: SECwrong}}
              rules:
                - {{kind: below_safety_stock, channels: [ding]}}
            """
        ),
        encoding="utf-8",
    )
    runner = CliRunner()
    app = app_for(config)
    try:
        sent = runner.invoke(app, ["alerts", "test", "ding"])
        refused = runner.invoke(app, ["alerts", "test", "broken"])
        unknown = runner.invoke(app, ["alerts", "test", "nope"])
        run = runner.invoke(app, ["alerts", "run"])
        listed = runner.invoke(app, ["alerts", "list", "--format", "csv"])
    finally:
        good.stop()
    assert (sent.exit_code, sent.stdout.strip()) == (0, "ding: sent: errcode 0: ok")
    assert refused.exit_code == 1
    assert refused.stdout.strip() == "broken: failed: errcode 310000: sign not match"
    assert unknown.exit_code == 2
    assert run.exit_code == 0, run.output
    assert "0 fired" in run.stdout
    lines = listed.stdout.strip().splitlines()
    assert (
        lines[0]
        == "id,channel,status,attempts,last_error,dedup_key,created_at,next_attempt_at,sent_at"
    )
    assert lines[1].startswith(
        "2,broken,failed,1,errcode 310000: sign not match,test|broken,"
    )
    assert lines[2].startswith("1,ding,sent,1,,test|ding,")
    assert "SECcli" not in listed.stdout + sent.stdout + refused.stdout
    assert len(good.accepted) == 1


def test_a_config_error_exits_2(tmp_path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        f"store: sqlite:///{tmp_path / 's.db'}\n"
        "alerts:\n  rules:\n    - {kind: below_safety_stok}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app_for(config), ["alerts", "run"])
    assert result.exit_code == 2
    assert "alerts.rules[0].kind: expected one of below_safety_stock" in result.output
