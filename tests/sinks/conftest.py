"""Sink fixtures: a central store holding a consolidated table, a config, a truth.

The consolidated rows are written straight into `consolidated_stock` (the
sinks read it; how it was reconciled is another room's business), with
source figures in the store's own JSON of micro-units. Helpers are handed
out as fixtures (test modules cannot import this file).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, func, select

from stockbridge.config.loader import load_config
from stockbridge.config.models import Settings
from stockbridge.simulators.truth import generate
from stockbridge.store.database import open_store
from stockbridge.store.schema import audit_log, consolidated_stock
from stockbridge.store.types import quantity_to_micro

AS_OF = datetime(2026, 3, 4, 2, 30, tzinfo=UTC)


def _consolidated(
    material: str,
    site: str,
    warehouse: str,
    quantity: str,
    *,
    unit: str = "KGM",
    batch: str = "",
    status: str = "unrestricted",
    sources: Mapping[str, str] | None = None,
    reserved: str = "0",
    safety_stock: str | None = None,
) -> dict[str, Any]:
    """A `consolidated_stock` row; `sources` default: one source agreeing."""
    figures = dict(sources) if sources is not None else {"mes": quantity}
    return {
        "material": material,
        "site": site,
        "warehouse": warehouse,
        "location": "",
        "batch": batch,
        "status": status,
        "quantity": Decimal(quantity),
        "unit": unit,
        "reserved": Decimal(reserved),
        "available": Decimal(quantity) - Decimal(reserved),
        "safety_stock": None if safety_stock is None else Decimal(safety_stock),
        "days_of_cover": None,
        "chosen_source": next(iter(figures), None),
        "rule": "priority",
        "source_values": json.dumps(
            {s: quantity_to_micro(Decimal(q)) for s, q in figures.items()}
        ),
        "conflict": len(set(figures.values())) > 1,
        "single_source": len(figures) == 1,
        "as_of": AS_OF,
        "updated_at": datetime.now(UTC),
    }


def _put(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Make `rows` the whole consolidated table."""
    with engine.begin() as conn:
        conn.execute(consolidated_stock.delete())
        if rows:
            conn.execute(consolidated_stock.insert(), rows)


def _write_config(directory: Path, data: Mapping[str, Any]) -> Settings:
    """Write `data` as the YAML config file and load it as a user's would be."""
    path = directory / "stockbridge.yaml"
    path.write_text(yaml.safe_dump(dict(data), allow_unicode=True), encoding="utf-8")
    return load_config(path, environ={})


def _audit_rows(engine: Engine) -> list[dict[str, Any]]:
    """The audit log, oldest first, details decoded."""
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id)).mappings()
        return [{**row, "detail": json.loads(row["detail"] or "null")} for row in rows]


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    """An embedded central store, migrated, empty."""
    engine = open_store(f"sqlite:///{tmp_path / 'central.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small factory's ground truth, shared by the simulators of every test."""
    path = tmp_path_factory.mktemp("sinks_truth") / "truth.sqlite"
    generate(path, seed=7, materials=8, days=3)
    return path


def _truth_stock(truth: Path, system: str) -> list[tuple[str, str, str, str, str, str]]:
    """(material, site, warehouse, batch, quantity, base unit) of one system's stock."""
    with closing(sqlite3.connect(truth)) as conn:
        rows: list[tuple[str, str, str, str, str, str]] = conn.execute(
            "SELECT s.material, s.site, s.warehouse, s.batch, s.quantity, m.base_unit"
            " FROM stock s JOIN materials m USING (material)"
            " WHERE s.system = ? AND s.status = 'unrestricted'"
            " ORDER BY s.material, s.site, s.warehouse, s.batch",
            (system,),
        ).fetchall()
    assert rows
    return rows


@dataclass(frozen=True)
class Kit:
    """The central store of a test and the helpers that work on it."""

    store: Engine
    directory: Path

    row = staticmethod(_consolidated)

    def put(self, rows: list[dict[str, Any]]) -> None:
        """Make `rows` the store's whole consolidated table."""
        _put(self.store, rows)

    def config(self, data: Mapping[str, Any]) -> Settings:
        """Write a config (with this store) to a YAML file and load it."""
        url = self.store.url.render_as_string(hide_password=False)
        return _write_config(self.directory, {"store": url, **data})

    def audit(self) -> list[dict[str, Any]]:
        """The audit log, oldest first, details decoded."""
        return _audit_rows(self.store)

    def count(self, table: Any) -> int:
        return _count(self.store, table)


@pytest.fixture
def kit(store: Engine, tmp_path: Path) -> Kit:
    return Kit(store, tmp_path)


@pytest.fixture(scope="session")
def truth_stock(
    truth: Path,
) -> Callable[[str], list[tuple[str, str, str, str, str, str]]]:
    """One system's unrestricted stock in the truth: material .. base unit."""
    return lambda system: _truth_stock(truth, system)
