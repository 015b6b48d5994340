"""How fast `kind: mes_rest` pulls movements from the local MES REST simulator.

Generates a truth with about `--movements` MES transactions (the MES holds
roughly a quarter of a truth's movements), serves it in each pagination
style, and times a full movements pull through the connector (HTTP, JSON,
envelope, paging, row reading; no store). Prints records/s per style.

    .venv/bin/python bench/mes_rest_pull.py                      # ~100k movements
    .venv/bin/python bench/mes_rest_pull.py --movements 20000 --styles page
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from contextlib import closing
from datetime import timedelta
from pathlib import Path

from stockbridge.connectors.mes_rest import MesRestConnector, MesRestSettings
from stockbridge.simulators.mes_rest import start_mes_rest
from stockbridge.simulators.truth import generate

APP_KEY, APP_SECRET = "bench-app", "bench-secret-1"
PAGINATION = {
    "page": {"style": "page", "items_path": "records", "total_path": "total"},
    "offset": {"style": "offset", "items_path": "items", "total_path": "total"},
    "cursor": {"style": "cursor", "items_path": "items", "next_path": "nextCursor"},
}
MES_SHARE = 0.27
"""About this part of a generated truth's movements belongs to the MES."""


def settings(url: str, style: str, size: int) -> MesRestSettings:
    return MesRestSettings.model_validate(
        {
            "url": url,
            "auth": {
                "type": "token",
                "token_url": "/api/auth/token",
                "body": {"appKey": APP_KEY, "appSecret": APP_SECRET},
                "token_path": "data.accessToken",
            },
            "pagination": {**PAGINATION[style], "size": size},
            "streams": {
                "movements": {
                    "path": "/api/v1/material/transactions",
                    "cursor_param": "since",
                    "cursor_field": "createTime",
                    "id_pattern": r"^(?P<document>.+)-(?P<line>\d+)$",
                    "fields": {
                        "document": "txnId",
                        "kind": "txnType",
                        "material": "materialCode",
                        "site": "factoryCode",
                        "warehouse": "warehouseCode",
                        "batch": "lotNo",
                        "quantity": "qty",
                        "unit": "unit",
                        "posted_at": "txnTime",
                        "entered_at": "createTime",
                        "reverses": "reversedTxnId",
                        "order_ref": "workOrderNo",
                    },
                    "defaults": {"status": "unrestricted"},
                    "direction": {"field": "direction", "in": "IN", "out": "OUT"},
                    "kinds": {
                        "TRANSFER_IN": "transfer",
                        "TRANSFER_OUT": "transfer",
                        "CONSUME": "production_issue",
                        "SCRAP": "scrap",
                        "ADJUST": "adjustment",
                        "REVERSAL": "reversal",
                    },
                }
            },
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "--movements", type=int, default=100_000, help="MES movements wanted"
    )
    parser.add_argument("--styles", default="page,offset,cursor")
    parser.add_argument(
        "--size", type=int, default=500, help="rows per call (server cap 500)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        truth = Path(scratch) / "truth.sqlite"
        generate(truth, target_movements=int(args.movements / MES_SHARE))
        with closing(sqlite3.connect(truth)) as conn:
            mes = conn.execute(
                "SELECT COUNT(*) FROM movements WHERE system = 'mes' AND effective = 1"
            ).fetchone()[0]
        print(f"truth: {mes} MES movements")
        for style in args.styles.split(","):
            with start_mes_rest(
                truth,
                Path(scratch),
                app_key=APP_KEY,
                app_secret=APP_SECRET,
                pagination=style,
            ) as server:
                connector = MesRestConnector(
                    "mes",
                    settings(server.url, style, args.size),
                    timezone="Asia/Shanghai",
                )
                with connector:
                    started = time.perf_counter()
                    cpu = time.process_time()
                    count = sum(
                        len(page.records)
                        for page in connector.movements(None, lookback=timedelta(0))
                    )
                    wall = time.perf_counter() - started
                    cpu = time.process_time() - cpu
            if count != mes:
                msg = f"pulled {count} movements, the truth has {mes}"
                raise SystemExit(msg)
            print(
                f"{style:7s} {count} records in {wall:.2f} s: {count / wall:,.0f} records/s "
                f"(this process, client and simulator threads together: {cpu:.2f} s CPU)"
            )


if __name__ == "__main__":
    main()
