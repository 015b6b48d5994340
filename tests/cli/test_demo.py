"""`stockbridge demo` end to end: the whole job on the simulators, as `./run demo` runs it."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from stockbridge.cli.app import app


def test_demo_syncs_every_system_and_shows_the_injected_conflicts(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(app, ["demo", "--dir", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "failed" not in out
    assert "no matching production issue" in out, "explain names the missing posting"
    assert "Systems disagree" in out, "the chat receiver got the conflict alerts"

    store = tmp_path / "demo" / "stockbridge.db"
    truth = tmp_path / "demo" / "simulators" / "truth.sqlite"
    with sqlite3.connect(store) as conn:
        sources = {
            row[0] for row in conn.execute("SELECT DISTINCT source FROM movements")
        }
        conflicts = {
            (m, s, w): Decimal(d) / 1_000_000
            for m, s, w, d in conn.execute(
                "SELECT material, site, warehouse, difference FROM conflicts"
                " WHERE resolved_at IS NULL"
            )
        }
        unbalanced = conn.execute(
            "SELECT count(*) FROM sync_runs WHERE pulled != loaded + rejected"
        ).fetchone()
    with sqlite3.connect(truth) as conn:
        injected: dict[tuple[str, str, str], Decimal] = {}
        for m, s, w, d in conn.execute(
            "SELECT material, site, warehouse, difference FROM discrepancies"
            " WHERE warehouse = 'LS01'"
        ):
            injected[(m, s, w)] = injected.get((m, s, w), Decimal(0)) + Decimal(d)
        injected = {key: value for key, value in injected.items() if value}
    assert sources == {"sap", "ecc", "k3cloud", "u8", "k3wise", "mes"}
    assert unbalanced == (0,)
    assert set(conflicts) == set(injected)
    for key, difference in conflicts.items():
        assert difference == abs(injected[key]), key


def test_demo_loads_the_late_postings_once_through_the_look_back(
    tmp_path: Path,
) -> None:
    """The demo's first sync runs with postings held back; the second finds them."""
    result = CliRunner().invoke(app, ["demo", "--dir", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    store = tmp_path / "demo" / "stockbridge.db"
    truth = tmp_path / "demo" / "simulators" / "truth.sqlite"
    with sqlite3.connect(truth) as conn:
        expected = {
            (doc, str(line)): Decimal(qty)
            for doc, line, qty in conn.execute(
                "SELECT document, line, quantity FROM movements"
                " WHERE system = 'sap' AND effective = 1"
            )
        }
        late = conn.execute(
            "SELECT count(*) FROM movements WHERE system = 'sap' AND late = 1"
        ).fetchone()
    with sqlite3.connect(store) as conn:
        loaded = {
            (doc, line): Decimal(qty) / 1_000_000
            for doc, line, qty in conn.execute(
                "SELECT document, line, quantity FROM movements WHERE source = 'sap'"
            )
        }
    assert late[0] > 0, "the truth holds late SAP postings"
    assert loaded == expected
