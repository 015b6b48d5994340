"""`stockbridge init` and `stockbridge config check` through the real app."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from stockbridge.cli.app import app
from stockbridge.config import load_config


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"STOCKBRIDGE_CONFIG": None})
    return result.exit_code, result.stdout, result.stderr


def test_init_then_check_succeeds_in_a_fresh_directory(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "stockbridge.yaml"
    code, out, _ = run("--config", str(path), "init")
    assert code == 0
    assert f"Wrote a starter config to {path}" in out
    assert path.read_text(encoding="utf-8").startswith("## stockbridge configuration")

    code, out, err = run("--config", str(path), "config", "check")
    assert (code, err) == (0, "")
    assert out.startswith(f"# {path} is valid. Resolved, secrets masked:\n")
    resolved = yaml.safe_load(out)
    assert resolved["timezone"] == "Asia/Shanghai"
    assert resolved["store"].startswith("sqlite:///")
    assert resolved["store"].endswith("/stockbridge.db")


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    path = tmp_path / "stockbridge.yaml"
    path.write_text("timezone: UTC\n", encoding="utf-8")
    code, _, err = run("--config", str(path), "init")
    assert code == 1
    assert err == f"{path} already exists; pass --force to overwrite it.\n"
    assert path.read_text(encoding="utf-8") == "timezone: UTC\n"

    code, _, _ = run("--config", str(path), "init", "--force")
    assert code == 0
    assert load_config(path, environ={}).timezone == "Asia/Shanghai"


def test_check_reports_problems_without_traceback_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "stockbridge.yaml"
    path.write_text("timezon: UTC\nsources: {sap: {kind: sap_odata, lookback: x}}\n")
    code, out, err = run("--config", str(path), "config", "check")
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        f"{path}, line 1: timezon: expected one of the keys alerts, mapping, "
        "reconcile, sinks, sources, store, timezone, web, found the unknown key "
        "'timezon'. Did you mean 'timezone'?",
        f"{path}, line 2: sources.sap.lookback: expected a duration such as 30s, "
        "15m, 2h, 1d or 1h30m, found 'x' (text).",
    ]
    assert "Traceback" not in err


def test_check_on_a_missing_file_suggests_init(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    code, _, err = run("--config", str(path), "config", "check")
    assert code == 2
    assert "Run 'stockbridge init'" in err
