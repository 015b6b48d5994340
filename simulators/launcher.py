"""Starting the whole simulated factory at once: one truth, every system.

Used by `stockbridge simulate`, the demo and the end-to-end tests. The
logins are fixed and printed: these are local stand-ins on 127.0.0.1, and
`Simulators.sources_yaml()` is the `sources:` block that points stockbridge
at them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from stockbridge.simulators.http_server import SimServer
from stockbridge.simulators.jiandaoyun import start_jiandaoyun
from stockbridge.simulators.k3cloud import start_k3cloud
from stockbridge.simulators.k3wise_db import build_k3wise
from stockbridge.simulators.mes_rest import start_mes_rest
from stockbridge.simulators.odbc_targets import PostgresTarget
from stockbridge.simulators.sap_odata import start_sap_odata
from stockbridge.simulators.soap import start_mes_soap, start_sap_ecc
from stockbridge.simulators.truth import generate
from stockbridge.simulators.u8_db import build_u8

__all__ = ["ALL_SIMULATORS", "LOGIN", "Simulators", "demo_sources", "start_simulators"]

ALL_SIMULATORS = (
    "sap_odata",
    "sap_ecc",
    "k3cloud",
    "u8",
    "k3wise",
    "mes_rest",
    "mes_soap",
    "jiandaoyun",
)

LOGIN = {
    "user": "STOCKBRIDGE",
    "password": "Welcome1",
    "sap_client": "100",
    "k3_acct_id": "65f0c2a1d3e4b5",
    "k3_app_id": "308642_1sbq2eDvzqbZ2vHvwYfoSx1k5I6Y2N0p",
    "k3_app_secret": "6b8f0a1e2c3d4f5a6b7c8d9e0f1a2b3c",
    "mes_app_key": "sb-demo",
    "mes_app_secret": "sb-demo-secret",
    "jdy_api_key": "sb-demo-jdy-key",
}
"""The simulators' fixed demo logins (they guard nothing but loopback ports)."""

DEMO_LOOKBACK = "30d"
"""How far back incremental pulls re-read. The simulators' late postings show
up weeks after their entry time (as replicated or re-keyed documents do), so
the demo's window covers a month; size it to the delays a real system shows."""


@dataclass
class Simulators:
    """Running simulators over one truth file."""

    truth: Path
    work_dir: Path
    servers: dict[str, SimServer] = field(default_factory=dict)
    odbc: dict[str, str] = field(default_factory=dict)
    """ODBC connection strings of the database simulators (u8, k3wise)."""

    def addresses(self) -> dict[str, str]:
        """Where each simulator answers: a URL, or an ODBC connection string."""
        return {
            **{name: server.url for name, server in self.servers.items()},
            **self.odbc,
        }

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()

    def __enter__(self) -> Simulators:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_simulators(
    work_dir: Path,
    *,
    names: Iterable[str] = ALL_SIMULATORS,
    seed: int = 42,
    materials: int = 30,
    days: int = 30,
    truth: Path | None = None,
    postgres: str | None = None,
) -> Simulators:
    """Generate a truth (unless given) and start the chosen simulators on free ports.

    The database simulators are SQLite files for the SQLite ODBC driver, or
    schemas in the PostgreSQL database at `postgres` (a libpq URL) for psqlODBC.
    """
    chosen = list(names)
    unknown = sorted(set(chosen) - set(ALL_SIMULATORS))
    if unknown:
        msg = f"unknown simulators {unknown}: choose from {', '.join(ALL_SIMULATORS)}"
        raise ValueError(msg)
    work_dir.mkdir(parents=True, exist_ok=True)
    if truth is None:
        truth = work_dir / "truth.sqlite"
        generate(truth, seed=seed, materials=materials, days=days)
    sims = Simulators(truth=truth, work_dir=work_dir)
    try:
        for name in chosen:
            _start(sims, name, postgres)
    except BaseException:
        sims.stop()
        raise
    return sims


def _start(sims: Simulators, name: str, postgres: str | None) -> None:
    truth, work = sims.truth, sims.work_dir
    user, password = LOGIN["user"], LOGIN["password"]
    if name == "sap_odata":
        sims.servers[name] = start_sap_odata(
            truth, work, username=user, password=password, client=LOGIN["sap_client"]
        )
    elif name == "sap_ecc":
        sims.servers[name] = start_sap_ecc(
            truth, work, username=user, password=password, client=LOGIN["sap_client"]
        )
    elif name == "k3cloud":
        sims.servers[name] = start_k3cloud(
            truth,
            work,
            acct_id=LOGIN["k3_acct_id"],
            username=user,
            password=password,
            app_id=LOGIN["k3_app_id"],
            app_secret=LOGIN["k3_app_secret"],
        )
    elif name == "mes_rest":
        sims.servers[name] = start_mes_rest(
            truth,
            work,
            app_key=LOGIN["mes_app_key"],
            app_secret=LOGIN["mes_app_secret"],
        )
    elif name == "mes_soap":
        sims.servers[name] = start_mes_soap(
            truth, work, username=user, password=password
        )
    elif name == "jiandaoyun":
        sims.servers[name] = start_jiandaoyun(truth, work, api_key=LOGIN["jdy_api_key"])
    elif name in ("u8", "k3wise"):
        build = build_u8 if name == "u8" else build_k3wise
        target: Path | PostgresTarget = (
            PostgresTarget(postgres, f"sim_{name}")
            if postgres
            else work / f"{name}.sqlite"
        )
        sims.odbc[name] = build(truth, target)


def demo_sources(sims: Simulators) -> dict[str, dict[str, object]]:
    """The `sources:` config that points stockbridge at these simulators.

    One source per system of record: the SOAP MES and Jiandaoyun serve the
    same MES data as the REST MES, so they are not added twice.
    """
    sources: dict[str, dict[str, object]] = {}
    servers, login = sims.servers, LOGIN
    if "sap_odata" in servers:
        sources["sap"] = {
            "kind": "sap_odata",
            "url": f"{servers['sap_odata'].url}/sap/opu/odata/sap",
            "client": login["sap_client"],
            "username": login["user"],
            "password": login["password"],
            "timezone": "UTC",
            "lookback": DEMO_LOOKBACK,
        }
    if "k3cloud" in servers:
        sources["k3cloud"] = {
            "kind": "k3cloud",
            "url": f"{servers['k3cloud'].url}/k3cloud/",
            "acct_id": login["k3_acct_id"],
            "username": login["user"],
            "app_id": login["k3_app_id"],
            "app_secret": login["k3_app_secret"],
            "lookback": DEMO_LOOKBACK,
        }
    if "sap_ecc" in servers:
        ecc = servers["sap_ecc"]
        sources["ecc"] = {
            "kind": "sap_soap",
            "wsdl": f"{ecc.url}{ecc.app.endpoint_path}?wsdl",  # type: ignore[attr-defined]
            "client": login["sap_client"],
            "username": login["user"],
            "password": login["password"],
            "plants": ["1100"],
            "timezone": "Asia/Shanghai",
            "lookback": DEMO_LOOKBACK,
        }
    for name, site in (("u8", "2000"), ("k3wise", "4000")):
        if name in sims.odbc:
            sources[name] = {
                "kind": name,
                "odbc": sims.odbc[name],
                "site": site,
                "timezone": "Asia/Shanghai",
                "lookback": DEMO_LOOKBACK,
            }
    if "mes_rest" in servers:
        sources["mes"] = _mes_rest_source(servers["mes_rest"].url)
    return sources


_MES_KINDS = {
    "TRANSFER_IN": "transfer",
    "TRANSFER_OUT": "transfer",
    "CONSUME": "production_issue",
    "SCRAP": "scrap",
    "ADJUST": "adjustment",
    "REVERSAL": "reversal",
    "RECEIVE": "receipt",
    "ISSUE": "issue",
    "OUTPUT": "production_receipt",
    "SHIP": "sales_issue",
    "RETURN": "return",
}


def _mes_rest_source(url: str) -> dict[str, object]:
    """How a plant describes this MES's REST API to the `mes_rest` connector."""
    return {
        "kind": "mes_rest",
        "url": url,
        "lookback": DEMO_LOOKBACK,
        "auth": {
            "type": "token",
            "token_url": "/api/auth/token",
            "body": {
                "appKey": LOGIN["mes_app_key"],
                "appSecret": LOGIN["mes_app_secret"],
            },
            "token_path": "data.accessToken",
        },
        "envelope": {
            "success_path": "code",
            "success_values": [0],
            "message_path": "msg",
            "data_path": "data",
        },
        "pagination": {"style": "page", "items_path": "records", "total_path": "total"},
        "streams": {
            "stock": {
                "path": "/api/v1/lineside/stock",
                "fields": {
                    "material": "materialCode",
                    "site": "factoryCode",
                    "warehouse": "warehouseCode",
                    "batch": "lotNo",
                    "quantity": "qty",
                    "reserved": "reservedQty",
                    "unit": "unit",
                    "status": "status",
                },
                "status_map": {
                    "OK": "unrestricted",
                    "QC": "quality_inspection",
                    "HOLD": "blocked",
                },
            },
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
                "kinds": _MES_KINDS,
            },
        },
    }
