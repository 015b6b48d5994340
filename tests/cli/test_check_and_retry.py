"""`stockbridge check` verdicts, and `rejects retry` loading a fixed reject exactly once."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stockbridge.cli.app import app
from stockbridge.simulators.launcher import LOGIN
from stockbridge.simulators.sap_odata import SapODataServer, start_sap_odata
from stockbridge.simulators.truth import generate

runner = CliRunner()


@pytest.fixture(scope="module")
def sap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SapODataServer]:
    work = tmp_path_factory.mktemp("sap")
    generate(work / "truth.sqlite", seed=3, materials=8, days=4)
    server = start_sap_odata(work / "truth.sqlite", work)
    yield server
    server.stop()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sap_source(url: str, password: str) -> str:
    return (
        f"    kind: sap_odata\n    url: {url}/sap/opu/odata/sap\n"
        f'    client: "{LOGIN["sap_client"]}"\n    username: {LOGIN["user"]}\n'
        f"    password: {password}\n    timezone: UTC\n    retry_attempts: 1\n"
    )


def write_config(tmp_path: Path, sources: dict[str, str], extra: str = "") -> Path:
    path = tmp_path / "stockbridge.yaml"
    body = "".join(f"  {name}:\n{block}" for name, block in sources.items())
    path.write_text(
        f"store: sqlite:///{tmp_path / 'store.db'}\ntimezone: UTC\nsources:\n{body}{extra}",
        encoding="utf-8",
    )
    return path


def test_check_gives_a_verdict_per_source(sap: SapODataServer, tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        {
            "good": sap_source(sap.url, LOGIN["password"]),
            "badpw": sap_source(sap.url, "not-the-password"),
            "gone": sap_source(f"http://127.0.0.1:{closed_port()}", LOGIN["password"]),
        },
    )
    result = runner.invoke(
        app, ["--config", str(config), "check"], env={"COLUMNS": "200"}
    )
    lines = {
        line.split("│")[1].strip(): line
        for line in result.output.splitlines()
        if line.count("│") > 3
    }
    assert result.exit_code == 1, result.output
    assert " ok " in lines["good"]
    assert "auth failed" in lines["badpw"]
    assert "unreachable" in lines["gone"]
    assert "not-the-password" not in result.output


def test_rejects_retry_loads_a_fixed_record_exactly_once(
    sap: SapODataServer, tmp_path: Path
) -> None:
    strict = "\nmapping:\n  sap:\n    warehouse: {table: {RM01: RM01, FG01: FG01}}\n"
    config = write_config(
        tmp_path, {"sap": sap_source(sap.url, LOGIN["password"])}, strict
    )
    first = runner.invoke(
        app, ["--config", str(config), "sync", "--stream", "movements"]
    )
    assert first.exit_code == 0, first.output
    listed = runner.invoke(
        app, ["--config", str(config), "rejects", "--format", "json"]
    )
    rejects = json.loads(listed.output)
    assert rejects, "line-side movements are unmapped while the table lacks LS01"
    assert all("LS01" in r["reason"] for r in rejects)

    fixed = strict.replace("FG01: FG01}", "FG01: FG01, LS01: LS01}")
    config.write_text(
        config.read_text(encoding="utf-8").replace(strict, fixed), encoding="utf-8"
    )
    for _ in range(2):
        retried = runner.invoke(app, ["--config", str(config), "rejects", "retry"])
        assert retried.exit_code == 0, retried.output
    moved = runner.invoke(
        app,
        [
            "--config",
            str(config),
            "movements",
            "--warehouse",
            "LS01",
            "--format",
            "json",
        ],
    )
    keys = [(m["document"], m["line"]) for m in json.loads(moved.output)]
    assert len(keys) == len(rejects) == len(set(keys))
    left = runner.invoke(app, ["--config", str(config), "rejects", "--format", "json"])
    assert json.loads(left.output) == []
