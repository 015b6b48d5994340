"""One contender of `sync_throughput.py`, run in a process of its own.

    .venv/bin/python bench/throughput_workers.py '<spec as JSON>'

prints one JSON line: rows, timed seconds, peak RSS (VmHWM, so the figure
is this process's own, not inherited from the parent) and contender details.
Only the load itself is timed: imports, creating tables and the store's
migrations are not.

Contenders (`spec["contender"]`):
- `stockbridge`: `sync_stream(..., Stream.MOVEMENTS, full=True)`, the real
  path (mapping, rejects, idempotent upserts, cursor commits per page),
  then the no-change incremental polls.
- `raw-read`: fetch and parse the same pages (SAP: `requests` + orjson;
  U8: one pyodbc query per voucher type, `fetchmany`), no mapping, no store.
- `raw-write`: the hand-written pipeline's rows built in memory first (not
  timed), then written in one go: SQLite `executemany` in one transaction,
  PostgreSQL one `COPY`.
- `hand-written`: fetch -> orjson -> tuples -> `executemany`/`COPY`, one
  transaction per page; no mapping, no rejects, no cursor.
- `dlt`: dlt 1.31 loading the same pages (SAP: `rest_api_source`; U8: a
  `@dlt.resource` generator over pyodbc) with its defaults.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import orjson
from sap_replay import Recording, iter_windows

Row = tuple[Any, ...]
Spec = dict[str, Any]

SAP_COLUMNS = (
    ("source", "text"),
    ("document", "text"),
    ("year", "text"),
    ("line", "text"),
    ("material", "text"),
    ("plant", "text"),
    ("storage_location", "text"),
    ("batch", "text"),
    ("movement_type", "text"),
    ("stock_type", "text"),
    ("quantity", "numeric(23,6)"),
    ("unit", "text"),
    ("debit_credit", "text"),
    ("posted_at", "timestamptz"),
)
SAP_KEY = ("document", "year", "line")
U8_COLUMNS = (
    ("source", "text"),
    ("voucher_type", "text"),
    ("auto_id", "bigint"),
    ("code", "text"),
    ("row_no", "integer"),
    ("voucher_date", "timestamp"),
    ("warehouse", "text"),
    ("material", "text"),
    ("batch", "text"),
    ("quantity", "numeric(28,10)"),
    ("unit", "text"),
    ("receipt", "integer"),
)
U8_KEY = ("voucher_type", "auto_id")
U8_FIELDS = (
    "AutoID",
    "cCode",
    "irowno",
    "dDate",
    "cWhCode",
    "cInvCode",
    "cBatch",
    "iQuantity",
    "cComUnitName",
    "bRdFlag",
)


def peak_rss_mb() -> float:
    """VmHWM of this process: unlike ru_maxrss it is not inherited across exec."""
    with Path("/proc/self/status").open(encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# --- reading the source -------------------------------------------------------


def _sap_time(text: str) -> datetime:
    return datetime.fromtimestamp(int(text[6:-2]) / 1000, UTC)


def sap_rows(body: bytes) -> list[Row]:
    """One window's items as flat tuples: what a plain pipeline stores."""
    rows: list[Row] = []
    for header in orjson.loads(body)["d"]["results"]:
        posted = _sap_time(header["PostingDate"])
        rows.extend(
            (
                "sap",
                i["MaterialDocument"],
                i["MaterialDocumentYear"],
                i["MaterialDocumentItem"],
                i["Material"],
                i["Plant"],
                i["StorageLocation"],
                i["Batch"],
                i["GoodsMovementType"],
                i["InventoryStockType"],
                Decimal(i["QuantityInBaseUnit"]),
                i["MaterialBaseUnit"],
                i["DebitCreditCode"],
                posted,
            )
            for i in header["to_MaterialDocumentItem"]["results"]
        )
    return rows


def sap_pages(spec: Spec) -> Iterator[bytes]:
    recording = Recording.load(Path(spec["recording"]))
    return iter_windows(spec["sap_url"], recording.windows)


def u8_batches(spec: Spec) -> Iterator[tuple[str, Sequence[str], list[Any]]]:
    """(voucher type, column names, rows) in `fetchmany` batches: the connector's own
    SELECT per voucher type, run once without LIMIT (psqlODBC streams it)."""
    import pyodbc

    from stockbridge.connectors.odbc_dialect import Dialect
    from stockbridge.connectors.u8_sql import MOVEMENT_TYPES, movements_select

    connection = pyodbc.connect(spec["u8_odbc"], readonly=True)
    try:
        for voucher_type in MOVEMENT_TYPES:
            select = movements_select(Dialect.POSTGRESQL, voucher_type, None, None)
            cursor = connection.cursor()
            cursor.execute(select.sql, select.params)
            while batch := cursor.fetchmany(5000):
                yield voucher_type, select.names, batch
            cursor.close()
    finally:
        connection.close()


def u8_rows(voucher_type: str, names: Sequence[str], batch: list[Any]) -> list[Row]:
    at = [names.index(name) for name in U8_FIELDS]
    a, code, row_no, day, wh, material, lot, qty, unit, flag = at
    return [
        (
            "u8",
            voucher_type,
            r[a],
            r[code],
            r[row_no],
            r[day],
            r[wh],
            r[material],
            r[lot],
            r[qty],
            r[unit],
            r[flag],
        )
        for r in batch
    ]


def source_rows(spec: Spec) -> Iterator[list[Row]]:
    """The hand-written pipeline's rows, one page at a time."""
    if spec["source"] == "sap":
        return (sap_rows(body) for body in sap_pages(spec))
    return (u8_rows(*batch) for batch in u8_batches(spec))


# --- writing plainly -------------------------------------------------------------


def _table(
    spec: Spec, prefix: str
) -> tuple[str, tuple[tuple[str, str], ...], Sequence[str]]:
    if spec["source"] == "sap":
        return f"{prefix}_sap_movements", SAP_COLUMNS, SAP_KEY
    return f"{prefix}_u8_movements", U8_COLUMNS, U8_KEY


def _create_sql(
    table: str, columns: Iterable[tuple[str, str]], key: Sequence[str]
) -> str:
    body = ", ".join(f"{name} {kind}" for name, kind in columns)
    return f"CREATE TABLE {table} ({body}, PRIMARY KEY ({', '.join(key)}))"


class PlainWriter:
    """Inserts rows with the driver alone: SQLite `executemany`, PostgreSQL `COPY`."""

    def __init__(self, spec: Spec, prefix: str) -> None:
        self.table, columns, key = _table(spec, prefix)
        self.names = [name for name, _ in columns]
        self.postgres = spec["store"] == "postgresql"
        if self.postgres:
            import psycopg

            self.pg = psycopg.connect(spec["pg_conninfo"])
            self.pg.execute(f"DROP TABLE IF EXISTS {self.table}")
            self.pg.execute(_create_sql(self.table, columns, key))
            self.pg.commit()
        else:
            sqlite3.register_adapter(Decimal, str)
            sqlite3.register_adapter(datetime, datetime.isoformat)
            self.lite = sqlite3.connect(spec["sqlite_path"], isolation_level=None)
            self.lite.execute("PRAGMA journal_mode=WAL")
            self.lite.execute("PRAGMA synchronous=NORMAL")
            lite_columns = [(n, k.split("(")[0]) for n, k in columns]
            self.lite.execute(_create_sql(self.table, lite_columns, key))
            marks = ", ".join("?" * len(columns))
            self.insert = f"INSERT INTO {self.table} VALUES ({marks})"  # noqa: S608

    def write(self, rows: list[Row]) -> None:
        """One transaction."""
        if self.postgres:
            statement = f"COPY {self.table} ({', '.join(self.names)}) FROM STDIN"
            with self.pg.cursor().copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
            self.pg.commit()
        else:
            self.lite.execute("BEGIN")
            self.lite.executemany(self.insert, rows)
            self.lite.execute("COMMIT")

    def close(self) -> None:
        if self.postgres:
            self.pg.close()
        else:
            self.lite.close()


# --- contenders --------------------------------------------------------------------


def raw_read(spec: Spec) -> dict[str, Any]:
    started = time.perf_counter()
    rows = 0
    if spec["source"] == "sap":
        for body in sap_pages(spec):
            for header in orjson.loads(body)["d"]["results"]:
                rows += len(header["to_MaterialDocumentItem"]["results"])
    else:
        for _, _, batch in u8_batches(spec):
            rows += len(batch)
    return {"rows": rows, "seconds": time.perf_counter() - started}


def hand_written(spec: Spec) -> dict[str, Any]:
    writer = PlainWriter(spec, "hw")
    started = time.perf_counter()
    rows = 0
    for page in source_rows(spec):
        writer.write(page)
        rows += len(page)
    seconds = time.perf_counter() - started
    writer.close()
    return {"rows": rows, "seconds": seconds}


def raw_write(spec: Spec) -> dict[str, Any]:
    rows = [row for page in source_rows(spec) for row in page]
    prepared_mb = peak_rss_mb()
    writer = PlainWriter(spec, "rw")
    started = time.perf_counter()
    writer.write(rows)
    seconds = time.perf_counter() - started
    writer.close()
    return {"rows": len(rows), "seconds": seconds, "rss_after_build_mb": prepared_mb}


def _sources_config(spec: Spec, lookback: str) -> dict[str, Any]:
    if spec["source"] == "sap":
        return {
            "sap": {
                "kind": "sap_odata",
                "url": f"{spec['sap_url']}/sap/opu/odata/sap",
                "client": "100",
                "username": "STOCKBRIDGE",
                "password": "Welcome1",
                "timezone": "UTC",
                "lookback": lookback,
            }
        }
    return {
        "u8": {
            "kind": "u8",
            "odbc": spec["u8_odbc"],
            "site": "2000",
            "timezone": "Asia/Shanghai",
            "lookback": lookback,
        }
    }


class TimedConnector:
    """A connector whose movement pages are timed while they are produced.

    sync_stream pulls pages from the connector's generator; the time spent
    inside `next()` is the connector's (fetch, parse, records), the rest of
    the run is stockbridge's own (mapping, store writes, run bookkeeping).
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def movements(self, cursor: str | None, *, lookback: timedelta) -> Iterator[Any]:
        pages = self.inner.movements(cursor, lookback=lookback)
        while True:
            started = time.perf_counter()
            try:
                page = next(pages)
            except StopIteration:
                return
            finally:
                self.seconds += time.perf_counter() - started
            yield page


def _timed_sync(
    engine: Any, settings: Any, source: str, *, full: bool
) -> tuple[Any, float, float]:
    """(run, its seconds, the connector's share of them)."""
    from stockbridge.connectors.base import Connector, Stream
    from stockbridge.sync.runner import sync_stream
    from stockbridge.sync.setup import build_connector

    started = time.perf_counter()
    connector = TimedConnector(build_connector(settings, source))
    try:
        run = sync_stream(
            engine,
            settings,
            source,
            Stream.MOVEMENTS,
            full=full,
            connector=cast("Connector", connector),
        )
    finally:
        connector.close()
    seconds = time.perf_counter() - started
    if run.status != "succeeded":
        msg = f"stockbridge run failed: {run.error}"
        raise RuntimeError(msg)
    return run, seconds, connector.seconds


def stockbridge(spec: Spec) -> dict[str, Any]:
    from stockbridge.config.models import Settings
    from stockbridge.store.engine import create_store_engine
    from stockbridge.store.migrate import upgrade

    source = spec["source"]
    url = spec["store_url"]
    engine = create_store_engine(url)
    upgrade(engine)

    def settings(lookback: str) -> Settings:
        return Settings.model_validate(
            {"store": url, "sources": _sources_config(spec, lookback)}
        )

    run, seconds, in_connector = _timed_sync(engine, settings("2h"), source, full=True)
    full_rss = peak_rss_mb()
    polls = {
        lookback: poll_times(engine, settings(lookback), source, spec["polls"])
        for lookback in ("0s", "2h")
        if spec["polls"]
    }
    engine.dispose()
    return {
        "rows": run.pulled,
        "seconds": seconds,
        "connector_seconds": in_connector,
        "loaded": run.loaded,
        "rejected": run.rejected,
        "peak_rss_full_mb": full_rss,
        "polls": polls,
    }


def poll_times(engine: Any, settings: Any, source: str, times: int) -> dict[str, Any]:
    """A no-change incremental poll, `times` over: the whole run, the connector's
    share of it (fetch, parse, records), and what is left: stockbridge's own."""
    runs, reads, pulled = [], [], 0
    for _ in range(times):
        run, seconds, in_connector = _timed_sync(engine, settings, source, full=False)
        runs.append(seconds)
        reads.append(in_connector)
        pulled = run.pulled
    overheads = [run - read for run, read in zip(runs, reads, strict=True)]
    return {
        "rows": pulled,
        "run_ms": statistics.median(runs) * 1000,
        "connector_ms": statistics.median(reads) * 1000,
        "overhead_ms": statistics.median(overheads) * 1000,
        "overhead_max_ms": max(overheads) * 1000,
    }


def dlt_load(spec: Spec) -> dict[str, Any]:
    import dlt

    work = Path(spec["work"]) / "dlt"
    if spec["store"] == "postgresql":
        # dlt insists on a password; the server's trust auth ignores it.
        conninfo = spec["pg_conninfo"].replace("postgres@", "postgres:bench@")
        destination: Any = dlt.destinations.postgres(credentials=conninfo)
    else:
        destination = dlt.destinations.sqlalchemy(
            credentials=f"sqlite:///{spec['sqlite_path']}"
        )
    name = f"bench_{spec['source']}_{spec['store']}"
    pipeline = dlt.pipeline(
        pipeline_name=name,
        destination=destination,
        dataset_name=f"dlt_{spec['source']}",
        pipelines_dir=str(work),
    )
    data = _dlt_sap(spec) if spec["source"] == "sap" else _dlt_u8(spec)
    steps: dict[str, float] = {}
    started = time.perf_counter()
    for step, call in (
        ("extract", lambda: pipeline.extract(data)),
        ("normalize", pipeline.normalize),
        ("load", pipeline.load),
    ):
        begun = time.perf_counter()
        call()
        steps[step] = time.perf_counter() - begun
    seconds = time.perf_counter() - started
    trace = pipeline.last_trace
    info = trace.last_normalize_info if trace else None
    if info is None:
        msg = "dlt left no normalize info: nothing was loaded"
        raise RuntimeError(msg)
    counts = info.row_counts
    table = "sap_documents__to_material_document_item__results"
    rows = counts[table] if spec["source"] == "sap" else counts["u8_movements"]
    return {"rows": rows, "seconds": seconds, "steps": steps, "tables": counts}


def _dlt_sap(spec: Spec) -> Any:
    from urllib.parse import parse_qsl, urlsplit

    from dlt.sources.rest_api import rest_api_source

    recording = Recording.load(Path(spec["recording"]))
    first = urlsplit(recording.windows[0])
    params = dict(parse_qsl(first.query))
    top = int(params.pop("$top"))
    # The connector's last window is the empty one at $skip = every header;
    # dlt's offset paginator steps by $top, so it is told where to stop.
    headers = int(dict(parse_qsl(urlsplit(recording.windows[-1]).query))["$skip"])
    path = first.path.rsplit("/", 1)
    config: Any = {
        "client": {
            "base_url": f"{spec['sap_url']}{path[0]}/",
            "paginator": {
                "type": "offset",
                "limit": top,
                "offset_param": "$skip",
                "limit_param": "$top",
                "total_path": None,
                "maximum_offset": headers,
            },
        },
        "resources": [
            {
                "name": "sap_documents",
                "endpoint": {
                    "path": path[1],
                    "params": params,
                    "data_selector": "d.results",
                },
            }
        ],
    }
    return rest_api_source(config)


def _dlt_u8(spec: Spec) -> Any:
    import dlt

    @dlt.resource(name="u8_movements", write_disposition="append")
    def u8_movements() -> Iterator[list[dict[str, Any]]]:
        for voucher_type, names, batch in u8_batches(spec):
            yield [
                {"voucher_type": voucher_type, **dict(zip(names, row, strict=True))}
                for row in batch
            ]

    return u8_movements()


CONTENDERS: dict[str, Callable[[Spec], dict[str, Any]]] = {
    "stockbridge": stockbridge,
    "raw-read": raw_read,
    "raw-write": raw_write,
    "hand-written": hand_written,
    "dlt": dlt_load,
}


def main() -> None:
    spec: Spec = json.loads(sys.argv[1])
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    result = CONTENDERS[spec["contender"]](spec)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
