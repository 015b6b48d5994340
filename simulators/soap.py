"""The SOAP simulators: SAP ECC (SOAMANAGER-published RFCs) and an ASMX MES service.

Each factory cuts its system's share out of the ground truth into
`work_dir` (rebuilt only when the truth changes) and returns the app, or a
started `SimServer` on 127.0.0.1. The server's `faults` object is the app's,
so `late_postings` and the other knobs act on both the transport and the data.

    with start_sap_ecc(truth, work, username="RFC_USER", password="...") as server:
        wsdl = f"{server.url}{server.app.endpoint_path}?wsdl"

MES: `f"{server.url}/MesService.asmx?WSDL"`. The evil-reply knobs live on the
app (`server.app.evil_reply`, and for the MES `server.app.evil_payload`).
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from stockbridge.simulators.http_server import Faults, SimServer
from stockbridge.simulators.soap_ecc import SapEccApp
from stockbridge.simulators.soap_mes import MesSoapApp
from stockbridge.simulators.soap_protocol import EvilReply
from stockbridge.simulators.soap_share import build_ecc_share, build_mes_share

__all__ = [
    "DEFAULT_ZONE",
    "MesSoapApp",
    "SapEccApp",
    "create_mes_soap_app",
    "create_sap_ecc_app",
    "start_mes_soap",
    "start_sap_ecc",
]

DEFAULT_ZONE = "Asia/Shanghai"
"""Both systems keep naive local times; the simulated plants are in China."""


def create_sap_ecc_app(
    truth_path: Path,
    work_dir: Path,
    *,
    username: str,
    password: str,
    faults: Faults | None = None,
    zone: str = DEFAULT_ZONE,
    client: str = "100",
    evil_reply: EvilReply | None = None,
) -> SapEccApp:
    """The SAP ECC SOAP app over the truth's `ecc` share."""
    time_zone = ZoneInfo(zone)
    share = build_ecc_share(
        Path(truth_path), Path(work_dir) / "sap_ecc_share.sqlite", time_zone
    )
    return SapEccApp(
        share,
        username=username,
        password=password,
        faults=faults or Faults(),
        zone=time_zone,
        client=client,
        evil_reply=evil_reply,
    )


def start_sap_ecc(
    truth_path: Path,
    work_dir: Path,
    *,
    username: str,
    password: str,
    port: int = 0,
    faults: Faults | None = None,
    zone: str = DEFAULT_ZONE,
    client: str = "100",
    evil_reply: EvilReply | None = None,
) -> SimServer:
    """A started server for the SAP ECC app; stop it (or use it as a context)."""
    shared_faults = faults or Faults()
    app = create_sap_ecc_app(
        truth_path,
        work_dir,
        username=username,
        password=password,
        faults=shared_faults,
        zone=zone,
        client=client,
        evil_reply=evil_reply,
    )
    return SimServer(app, port=port, faults=shared_faults, name="sap-ecc").start()


def create_mes_soap_app(
    truth_path: Path,
    work_dir: Path,
    *,
    username: str | None = None,
    password: str | None = None,
    faults: Faults | None = None,
    zone: str = DEFAULT_ZONE,
    evil_reply: EvilReply | None = None,
    evil_payload: EvilReply | None = None,
) -> MesSoapApp:
    """The MES SOAP app over the truth's `mes` share; Basic auth if a user is given."""
    time_zone = ZoneInfo(zone)
    share = build_mes_share(
        Path(truth_path), Path(work_dir) / "mes_soap_share.sqlite", time_zone
    )
    return MesSoapApp(
        share,
        faults=faults or Faults(),
        zone=time_zone,
        username=username,
        password=password,
        evil_reply=evil_reply,
        evil_payload=evil_payload,
    )


def start_mes_soap(
    truth_path: Path,
    work_dir: Path,
    *,
    username: str | None = None,
    password: str | None = None,
    port: int = 0,
    faults: Faults | None = None,
    zone: str = DEFAULT_ZONE,
    evil_reply: EvilReply | None = None,
    evil_payload: EvilReply | None = None,
) -> SimServer:
    """A started server for the MES app; stop it (or use it as a context)."""
    shared_faults = faults or Faults()
    app = create_mes_soap_app(
        truth_path,
        work_dir,
        username=username,
        password=password,
        faults=shared_faults,
        zone=zone,
        evil_reply=evil_reply,
        evil_payload=evil_payload,
    )
    return SimServer(app, port=port, faults=shared_faults, name="mes-soap").start()
