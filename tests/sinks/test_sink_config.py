"""`sinks:` in the config: each mistake located at its key, secrets never shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from stockbridge.config.errors import ConfigError
from stockbridge.config.loader import load_config, render_masked
from stockbridge.config.sinks_section import (
    K3CloudSaveSettings,
    ReportingTableSettings,
    sink_settings,
)

K3_SOURCE = {
    "kind": "k3cloud",
    "url": "http://127.0.0.1:1/k3cloud",
    "acct_id": "a1",
    "username": "u",
    "password": "pw-k3-secret",
}
ENTRY = {"FMaterialId": {"FNumber": "{material}"}, "FQty": "{quantity}"}


def load(tmp_path: Path, sinks: dict[str, Any]) -> Any:
    path = tmp_path / "stockbridge.yaml"
    data = {"sources": {"k3": K3_SOURCE}, "sinks": sinks}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_config(path, environ={})


def problems(tmp_path: Path, sink: dict[str, Any]) -> str:
    settings = load(tmp_path, {"s": sink})
    with pytest.raises(ConfigError) as raised:
        sink_settings(settings, "s")
    return str(raised.value)


def k3_sink(**changes: object) -> dict[str, Any]:
    return {
        "kind": "k3cloud_save",
        "source": "k3",
        "form_id": "STK_MISCELLANEOUS",
        "entity": "FEntity",
        "entry": ENTRY,
        **changes,
    }


def test_valid_sinks_are_typed(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        {
            "report": {"kind": "reporting_table", "url": "sqlite:///r.db"},
            "k3_misc": k3_sink(submit=True, audit=True, header={"FNote": "x"}),
        },
    )
    report = sink_settings(settings, "report")
    assert isinstance(report, ReportingTableSettings)
    assert (report.table, report.mode) == ("consolidated_stock", "replace")
    k3 = sink_settings(settings, "k3_misc")
    assert isinstance(k3, K3CloudSaveSettings)
    assert (k3.entry, k3.audit, k3.bill_no_prefix) == (ENTRY, True, "SB")


def test_a_password_in_a_reporting_url_is_never_printed(tmp_path: Path) -> None:
    url = "postgresql+psycopg://bi:pw-Reporting-1@db.example.com/reports"
    settings = load(tmp_path, {"report": {"kind": "reporting_table", "url": url}})

    assert "pw-Reporting-1" not in render_masked(settings)
    assert "pw-Reporting-1" not in repr(sink_settings(settings, "report"))
    dumped = sink_settings(settings, "report").model_dump(mode="json")
    assert dumped["url"] == "postgresql+psycopg://bi:********@db.example.com/reports"


@pytest.mark.parametrize(
    ("sink", "located", "said"),
    [
        (
            {"kind": "reporting_table", "url": "sqlite:///r.db", "mdoe": "upsert"},
            "sinks.s.mdoe",
            "Did you mean 'mode'?",
        ),
        (
            {"kind": "reporting_table", "url": "sqlite:///r.db", "table": "x; drop"},
            "sinks.s.table",
            "a table name of letters, digits and _",
        ),
        (
            k3_sink(entry={"FQty": 1.5}),
            "sinks.s.entry",
            'Quote numbers with decimals, e.g. "0.5"',
        ),
        (
            k3_sink(entry={"FQty": "{qty}"}),
            "sinks.s.entry",
            "found {qty} in '{qty}' (text)",
        ),
        (
            k3_sink(entry={"FQty": "{difference}"}),
            "sinks.s",
            "{difference} needs select.difference",
        ),
        (k3_sink(audit=True), "sinks.s", "audit: true needs submit: true"),
        (
            k3_sink(header={"FNote": "{material}"}),
            "sinks.s.header",
            "a constant (placeholders are for entry/item templates)",
        ),
        (
            k3_sink(source="k3x"),
            "sinks.s.source",
            "expected the name of a k3cloud source, found 'k3x', which is not a "
            "configured source",
        ),
        (
            {"kind": "mes_push", "source": "k3", "path": "/p", "item": {"a": "1"}},
            "sinks.s.source",
            "expected the name of a mes_rest source, found 'k3', a k3cloud source",
        ),
    ],
)
def test_mistakes_are_located_at_their_key(
    tmp_path: Path, sink: dict[str, Any], located: str, said: str
) -> None:
    message = problems(tmp_path, sink)

    assert "stockbridge.yaml, line " in message
    assert f": {located}: " in message
    assert said in message
    assert "pw-k3-secret" not in message


def test_an_unknown_kind_is_refused_when_the_file_is_read(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sinks\.s\.kind: expected one of"):
        load(tmp_path, {"s": {"kind": "kafka"}})
