"""Latency of `/api/v1/stock` over a SQLite store of 1,000,000 consolidated rows.

The rows are written straight into `consolidated_stock` (not timed, kept for
the next run): 40,000 materials with master-data names, 5 sites of 4
warehouses each, bins and batches, about one row in forty a conflict. The app runs
under uvicorn in its own process, as `stockbridge web` does; 20 reader
threads, each with its own `requests.Session` and a viewer token, ask for
filtered pages (site, warehouse, status, conflicts, search; page 1 and deep
pages) back to back for 20 s. Printed: p50/p95/p99 per kind of request and
overall, requests/s, and the server process's CPU time per request (what
bounds one process under load). The readers run in this process, so their
own Python time is part of each latency.

    .venv/bin/python bench/web_latency.py                     # 1M rows, 20 readers, 20 s
    .venv/bin/python bench/web_latency.py --rows 200000 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Engine, func, insert, select

from stockbridge.config.models import Settings
from stockbridge.store.database import open_store
from stockbridge.store.schema import consolidated_stock, locations, materials, sources
from stockbridge.store.tokens import create_token
from stockbridge.store.types import quantity_to_micro
from stockbridge.web.server import serve_forever

WORK_DIR = Path(tempfile.gettempdir()) / "stockbridge-bench" / "web"
SITES = ("1000", "2000", "3000", "4000", "5000")
WAREHOUSE_KINDS = ("RM", "FG", "LS", "QC")
PLACES = [(site, f"{kind}{site[0]}") for site in SITES for kind in WAREHOUSE_KINDS]
KEYS_PER_MATERIAL = 25
SOURCES = ("sap", "u8", "mes")
STATUSES = (
    ("unrestricted", 85),
    ("quality_inspection", 8),
    ("blocked", 4),
    ("restricted", 3),
)
WORDS = ("钢板", "铝型材", "轴承", "螺栓", "电机", "Sensor", "Cable", "Gasket")
CHUNK = 50_000
PAGE = 50


def _material(n: int) -> str:
    return f"{100000 + n}"


def _name(n: int) -> str:
    return f"{WORDS[n % len(WORDS)]} {1 + n % 97}.{n % 10}mm"


def _stock_rows(rows: int, now: datetime) -> Iterator[list[dict[str, Any]]]:
    """`rows` consolidated rows in chunks, the same on every run (seeded)."""
    rng = random.Random(9)
    statuses = [s for s, _ in STATUSES]
    weights = [w for _, w in STATUSES]
    chunk: list[dict[str, Any]] = []
    for n in range(rows // KEYS_PER_MATERIAL):
        keys: set[tuple[str, str, str, str, str]] = set()
        while len(keys) < KEYS_PER_MATERIAL:
            site, warehouse = rng.choice(PLACES)
            location = (
                ""
                if rng.random() < 0.6
                else f"{rng.choice('ABCD')}{rng.randint(1, 40):02d}"
            )
            batch = (
                ""
                if n % 3 == 0
                else f"26{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(1, 3):04d}"
            )
            status = rng.choices(statuses, weights)[0]
            keys.add((site, warehouse, location, batch, status))
        for site, warehouse, location, batch, status in sorted(keys):
            quantity = Decimal(rng.randint(0, 5_000_000)) / 1000
            held = rng.sample(SOURCES, rng.randint(1, 3))
            conflict = len(held) > 1 and rng.random() < 0.04
            values = {
                s: quantity_to_micro(
                    quantity + (1 if conflict and s == held[-1] else 0)
                )
                for s in held
            }
            chunk.append({
                "material": _material(n), "site": site, "warehouse": warehouse,
                "location": location, "batch": batch, "status": status,
                "quantity": quantity, "unit": "KGM", "reserved": Decimal(0),
                "available": quantity,
                "safety_stock": Decimal(500) if n % 7 == 0 else None,
                "days_of_cover": Decimal(rng.randint(1, 90)) if n % 2 else None,
                "chosen_source": held[0], "rule": "priority",
                "source_values": json.dumps(values), "conflict": conflict,
                "single_source": len(held) == 1,
                "as_of": now - timedelta(minutes=rng.randint(1, 600)), "updated_at": now,
            })  # fmt: skip
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def build_store(path: Path, rows: int) -> Engine:
    """The store at `path` with `rows` consolidated rows; reused when it has them."""
    engine = open_store(f"sqlite:///{path}")
    with engine.connect() as conn:
        held = conn.execute(select(func.count()).select_from(consolidated_stock))
        if held.scalar_one() == rows:
            return engine
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(consolidated_stock.delete())
        conn.execute(materials.delete())
        conn.execute(locations.delete())
        conn.execute(sources.delete())
        conn.execute(
            insert(sources),
            [{"name": s, "kind": "sap_odata", "first_seen_at": now} for s in SOURCES],
        )
        conn.execute(
            insert(materials),
            [
                {"source": "sap", "material": _material(n), "name": _name(n),
                 "base_unit": "KGM", "updated_at": now}
                for n in range(rows // KEYS_PER_MATERIAL)
            ],
        )  # fmt: skip
        conn.execute(
            insert(locations),
            [
                {"source": "sap", "site": s, "warehouse": w, "updated_at": now}
                for s, w in PLACES
            ],
        )
        for chunk in _stock_rows(rows, now):
            conn.execute(insert(consolidated_stock), chunk)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    print(f"wrote {rows:,} rows in {time.perf_counter() - started:.0f} s", flush=True)
    return engine


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def serve(path: Path, port: int) -> None:
    """The server process: the app over the store, as `stockbridge web` runs it."""
    settings = Settings(store=f"sqlite:///{path}", timezone="Asia/Shanghai")
    engine = open_store(settings.store)
    try:
        serve_forever(engine, settings, "127.0.0.1", port)
    finally:
        engine.dispose()


def _wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            msg = "the server process exited"
            raise RuntimeError(msg)
        try:
            if requests.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.1)
    msg = "the server did not come up in 60 s"
    raise RuntimeError(msg)


Request = Callable[[random.Random], dict[str, Any]]


def workload(rows: int) -> dict[str, Request]:
    """Kinds of request and their parameters: what planners filter and page by."""
    materials_count = rows // KEYS_PER_MATERIAL
    per_site = rows // len(SITES)
    per_place = rows // len(PLACES)

    def deep(rng: random.Random, size: int) -> int:
        return rng.randrange(size // 10, size - PAGE) // PAGE * PAGE

    def place(rng: random.Random) -> tuple[str, str]:
        return rng.choice(PLACES)

    return {
        "all, page 1": lambda _rng: {},
        "all, deep page": lambda rng: {"offset": deep(rng, rows)},
        "site, page 1": lambda rng: {"site": rng.choice(SITES)},
        "site, deep page": lambda rng: {"site": rng.choice(SITES), "offset": deep(rng, per_site)},
        "site+warehouse, page 1": lambda rng: dict(zip(("site", "warehouse"), place(rng), strict=True)),
        "site+warehouse, deep page": lambda rng: {
            **dict(zip(("site", "warehouse"), place(rng), strict=True)), "offset": deep(rng, per_place),
        },
        "status, page 1": lambda rng: {"status": rng.choice(("quality_inspection", "blocked"))},
        "conflicts, page 1": lambda _rng: {"conflicts": "true"},
        "site+conflicts, page 1": lambda rng: {"site": rng.choice(SITES), "conflicts": "true"},
        "search code, page 1": lambda rng: {"q": _material(rng.randrange(materials_count))},
        "search name, page 1": lambda rng: {"q": _name(rng.randrange(materials_count))},
    }  # fmt: skip


def _reader(
    url: str,
    token: str,
    kinds: dict[str, Request],
    *,
    seed: int,
    until: float,
    timings: list[tuple[str, float]],
) -> None:
    rng = random.Random(seed)
    names = sorted(kinds)
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        while time.monotonic() < until:
            kind = rng.choice(names)
            params = kinds[kind](rng)
            started = time.perf_counter()
            response = session.get(url + "/api/v1/stock", params=params, timeout=30)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                msg = f"{kind} {params}: HTTP {response.status_code} {response.text[:200]}"
                raise RuntimeError(msg)
            timings.append((kind, elapsed * 1000))


def _quantiles(values: list[float]) -> tuple[float, float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0], values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98], max(values)


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux `/proc`)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    url: str, token: str, *, rows: int, threads: int, seconds: float, server_pid: int
) -> None:
    """Run the readers for `seconds` and print the latencies and the server's CPU."""
    kinds = workload(rows)
    for kind in sorted(kinds):  # warm the page cache and the server's code paths
        requests.get(
            url + "/api/v1/stock",
            params=kinds[kind](random.Random(0)),
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ).raise_for_status()
    timings: list[tuple[str, float]] = []
    until = time.monotonic() + seconds
    cpu_before = _cpu_seconds(server_pid)
    started = time.perf_counter()
    readers = [
        threading.Thread(
            target=_reader,
            args=(url, token, kinds),
            kwargs={"seed": n, "until": until, "timings": timings},
        )
        for n in range(threads)
    ]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    wall = time.perf_counter() - started
    server_cpu = _cpu_seconds(server_pid) - cpu_before
    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, ms in timings:
        by_kind[kind].append(ms)
    print(f"\n{rows:,} rows, {threads} readers, {wall:.1f} s\n")
    print("| request | n | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind in sorted(by_kind):
        p50, p95, p99, top = _quantiles(by_kind[kind])
        print(
            f"| {kind} | {len(by_kind[kind])} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {top:.0f} |"
        )
    p50, p95, p99, top = _quantiles([ms for _, ms in timings])
    print(
        f"| **all** | {len(timings)} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {top:.0f} |"
    )
    print(
        f"\n{len(timings) / wall:.0f} requests/s; the server used"
        f" {server_cpu / wall:.2f} CPU cores, {1000 * server_cpu / len(timings):.1f}"
        f" ms of CPU per request; {os.cpu_count()} cores, load average"
        f" {' '.join(f'{n:.1f}' for n in os.getloadavg())}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--work-dir", type=Path, default=WORK_DIR)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rows < 100_000:
        parser.error("--rows must be at least 100000: deep pages need room")
    if args.serve is not None:
        serve(args.serve, args.port)
        return
    args.work_dir.mkdir(parents=True, exist_ok=True)
    path = args.work_dir / f"web-{args.rows}.db"
    engine = build_store(path, args.rows)
    try:
        _row, token = create_token(
            engine, role="viewer", name="bench", now=datetime.now(UTC)
        )
    finally:
        engine.dispose()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(path), "--port", str(port)],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        _wait_until_up(url, server)
        measure(
            url,
            token,
            rows=args.rows,
            threads=args.threads,
            seconds=args.seconds,
            server_pid=server.pid,
        )
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
