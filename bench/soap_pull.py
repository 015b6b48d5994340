"""Records per second of full `kind: sap_soap` and `kind: mes_soap` movement pulls.

Generates a truth (or reuses one), serves the SAP ECC and MES SOAP
simulators from a separate process (so server and client do not share one
interpreter lock), pulls every movement and the stock through each
connector, and prints records/s and this process's peak RSS.

    .venv/bin/python bench/soap_pull.py                     # ~100k ECC movements
    .venv/bin/python bench/soap_pull.py --truth-movements 60000 --page-size 2000
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from stockbridge.connectors.base import Connector, Page
from stockbridge.connectors.mes_soap import MesSoapConnector, MesSoapSettings
from stockbridge.connectors.sap_soap import SapSoapConnector, SapSoapSettings
from stockbridge.simulators.soap import start_mes_soap, start_sap_ecc
from stockbridge.simulators.truth import generate

USER, PASSWORD = "BENCH", "bench-Pw-1"
ZONE = "Asia/Shanghai"


def serve(truth: Path, work: Path, pipe: Connection) -> None:
    """Run both simulators until the pipe says stop."""
    with (
        start_sap_ecc(truth, work, username=USER, password=PASSWORD) as ecc,
        start_mes_soap(truth, work, username=USER, password=PASSWORD) as mes,
    ):
        endpoint = f"{ecc.url}/sap/bc/srt/rfc/sap/zmm_stock/100/zmm_stock/zmm_stock"
        pipe.send((f"{endpoint}?wsdl", mes.url))
        pipe.recv()


def timed(pages: Iterator[Page]) -> tuple[int, float]:
    started = time.perf_counter()
    count = sum(len(page.records) for page in pages)
    return count, time.perf_counter() - started


def mes_operations(size: int) -> dict[str, Any]:
    fields = {
        "document": "TransId", "line": "LineNo", "kind": "TransType",
        "direction": "IoType", "site": "FactoryCode", "warehouse": "WarehouseCode",
        "material": "MaterialCode", "batch": "BatchNo", "status": "QualityStatus",
        "quantity": "Qty", "unit": "Unit", "posted_at": "TransTime",
        "entered_at": "CreateTime", "order_ref": "WorkOrderNo",
        "reverses_document": "RefTransId", "reverses_line": "RefLineNo",
    }  # fmt: skip
    kinds = {
        "CONSUME": "production_issue", "REVERSAL": "reversal", "SCRAP": "scrap",
        "TRANSFER_IN": "transfer", "TRANSFER_OUT": "transfer", "RECEIVE": "receipt",
        "ISSUE": "issue", "OUTPUT": "production_receipt", "SHIP": "sales_issue",
        "ADJUST": "adjustment", "RETURN": "return",
    }  # fmt: skip
    return {
        "stock": {
            "name": "GetLineSideStock",
            "args": [{"factoryCode": f} for f in ("1000", "2000", "3000", "4000")],
            "result": "dataset",
            "fields": {
                "material": "MaterialCode",
                "site": "FactoryCode",
                "warehouse": "WarehouseCode",
                "batch": "BatchNo",
                "status": "QualityStatus",
                "quantity": "Qty",
                "unit": "Unit",
            },
        },
        "movements": {
            "name": "GetMaterialTransactions",
            "result": "xml_string",
            "rows_path": "rows/row",
            "since_arg": "since",
            "paging": {
                "index_arg": "pageIndex",
                "size_arg": "pageSize",
                "size": size,
                "total_path": "total",
            },
            "fields": fields,
            "kinds": kinds,
            "directions": {"IN": "in", "OUT": "out"},
        },
    }


def report(name: str, connector: Connector) -> None:
    with connector:
        moved, moved_s = timed(connector.movements(None, lookback=timedelta(0)))
        stock, stock_s = timed(connector.stock())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{name:9} movements {moved:7d} in {moved_s:6.2f}s = {moved / moved_s:7.0f} rec/s"
        f" | stock {stock:5d} in {stock_s:5.2f}s | peak RSS {peak_mib:5.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truth", type=Path, help="reuse this truth.sqlite")
    parser.add_argument("--truth-movements", type=int, default=700_000)
    parser.add_argument("--page-size", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soap-bench-") as tmp:
        truth = args.truth or Path(tmp) / "truth.sqlite"
        if args.truth is None:
            generate(truth, seed=5, materials=60, target_movements=args.truth_movements)
        here, there = multiprocessing.Pipe()
        server = multiprocessing.Process(target=serve, args=(truth, Path(tmp), there))
        server.start()
        try:
            ecc_wsdl, mes_url = here.recv()
            common = {"username": USER, "password": PASSWORD, "timezone": ZONE}
            ecc = SapSoapSettings.model_validate(
                {
                    **common,
                    "wsdl": ecc_wsdl,
                    "plants": ["1100"],
                    "page_size": args.page_size,
                }
            )
            report("sap_soap", SapSoapConnector("ecc", ecc, timezone=ZONE))
            mes = MesSoapSettings.model_validate(
                {
                    **common,
                    "wsdl": f"{mes_url}/MesService.asmx?WSDL",
                    "page_size": args.page_size,
                    "operations": mes_operations(min(args.page_size, 1000)),
                }
            )
            report("mes_soap", MesSoapConnector("mes", mes, timezone=ZONE))
        finally:
            here.send("stop")
            server.join(timeout=30)


if __name__ == "__main__":
    main()
