"""SAP ECC over SOAP: custom RFC function modules published through SOAMANAGER.

Two operations, as a site would build them for stock integration:
`ZMM_STOCK_READ` returns MARD rows (per storage location) and MCHB rows (per
batch) of one plant, paged by MARD key; `ZMM_GOODSMVT_READ` returns MKPF/MSEG
lines entered at or after a CPUDT/CPUTM, paged by entry time. Both page with
`IV_MAX_ROWS` and an opaque `IV_CONTINUE` key returned as `EV_CONTINUE`
(empty on the last page).

What the simulator keeps of SAP: internal keys (MATNR zero-padded to 18,
NUMC as "0001", empty dates "0000-00-00"-style zeros), internal units (ST,
KG, KAR), quantities with three decimals and direction in SHKZG, local
system time (CPUDT/CPUTM/BUDAT in `zone`), Basic auth on WSDL and endpoint,
RFC exceptions as `<FM>.Exception` faults, "Deserialisation failed" for
input that does not fit its ABAP type, and no ALPHA conversion of inputs
(an unpadded material number finds nothing, as on a real system).

While `faults.late_postings` is on, the truth's late lines are missing from
`ZMM_GOODSMVT_READ` and their effect is missing from `ZMM_STOCK_READ`: a
posting not yet entered has no effect anywhere, as in the other simulators.
"""

from __future__ import annotations

import re
from collections import defaultdict
from contextlib import closing
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from lxml import etree  # type: ignore[import-untyped]

from stockbridge.simulators.http_server import Faults, Request, Response
from stockbridge.simulators.soap_ecc_codes import quantity_text
from stockbridge.simulators.soap_protocol import (
    EvilReply,
    SoapCall,
    SoapDialect,
    SoapFault,
    basic_auth_ok,
    build_envelope,
    build_fault,
    parse_call,
    request_version,
)
from stockbridge.simulators.soap_share import ECC_MOVEMENT_FIELDS, open_share
from stockbridge.simulators.soap_wsdl import (
    ECC_GOODSMVT_FIELDS,
    ECC_MARD_FIELDS,
    ECC_MCHB_FIELDS,
    ECC_NS,
    ecc_wsdl,
)

__all__ = ["SapEccApp"]

SAP_DIALECT = SoapDialect(
    prefix11="soap-env", prefix12="env", xml_declaration=False, empty_header=True
)
DEFAULT_MAX_ROWS = 1000
MAX_MAX_ROWS = 10_000

_MARD_STATUS_FIELDS = {
    "unrestricted": "LABST",
    "in_transit": "UMLME",
    "quality_inspection": "INSME",
    "restricted": "EINME",
    "blocked": "SPEME",
}
_MCHB_STATUS_FIELDS = {
    "unrestricted": "CLABS",
    "in_transit": "CUMLM",
    "quality_inspection": "CINSM",
    "restricted": "CEINM",
    "blocked": "CSPEM",
}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}:\d{2}")
_STOCK_KEY_LENGTH = 22  # MATNR(18) + LGORT(4)
_MOVEMENT_KEY_LENGTH = 32  # CPUDT(8) CPUTM(6) MJAHR(4) MBLNR(10) ZEILE(4)


class SapEccApp:
    """The ECC SOAP endpoint and its WSDL; `evil_reply` may be changed at run time."""

    def __init__(
        self,
        share_path: Path,
        *,
        username: str,
        password: str,
        faults: Faults,
        zone: ZoneInfo,
        client: str = "100",
        service: str = "zmm_stock",
        evil_reply: EvilReply | None = None,
    ) -> None:
        self.share_path = share_path
        self.faults = faults
        self.zone = zone
        self.client = client
        self.evil_reply: EvilReply | None = evil_reply
        self.endpoint_path = (
            f"/sap/bc/srt/rfc/sap/{service}/{client}/{service}/{service}"
        )
        self.wsdl_path = f"/sap/bc/srt/wsdl/bndg_url{self.endpoint_path}"
        self._service = service.upper()
        self._username = username
        self._password = password
        with closing(open_share(share_path)) as share:
            self._plants = {row[0] for row in share.execute("SELECT werks FROM plants")}

    def __call__(self, request: Request) -> Response:
        if request.path not in (self.endpoint_path, self.wsdl_path):
            return Response.text("Service cannot be reached", 404, "text/html")
        sap_client = request.arg("sap-client", self.client)
        if sap_client != self.client or not basic_auth_ok(
            request, self._username, self._password
        ):
            response = Response.text("Logon failed", 401, "text/html")
            response.headers["WWW-Authenticate"] = (
                f'Basic realm="SAP NetWeaver Application Server [ECC/{self.client}]"'
            )
            return response
        wants_wsdl = request.path == self.wsdl_path or any(
            key.lower() == "wsdl" for key in request.query
        )
        if request.method == "GET" and wants_wsdl:
            host = request.header("host", "127.0.0.1")
            location = f"http://{host}{self.endpoint_path}"
            return Response.text(
                ecc_wsdl(location, self._service), content_type="text/xml"
            )
        if request.method != "POST" or request.path != self.endpoint_path:
            return Response.text("Method not allowed", 405)
        return self._call(request)

    def _call(self, request: Request) -> Response:
        try:
            call = parse_call(request)
        except SoapFault as fault:
            return build_fault(SAP_DIALECT, request_version(request), fault)
        name = etree.QName(call.operation)
        try:
            if name.namespace != ECC_NS:
                raise _processing_error()
            if name.localname == "ZMM_STOCK_READ":
                payload = self._stock_read(call)
            elif name.localname == "ZMM_GOODSMVT_READ":
                payload = self._goods_movement_read(call)
            else:
                raise _processing_error()
        except SoapFault as fault:
            return build_fault(SAP_DIALECT, call.version, fault)
        return build_envelope(SAP_DIALECT, call.version, payload, evil=self.evil_reply)

    def _plant(self, call: SoapCall, function: str) -> str:
        plant = _parameter(call, "IV_WERKS", 4) or ""
        if plant not in self._plants:
            raise _rfc_exception(
                function, "PLANT_NOT_FOUND", "001", f"Plant {plant} does not exist"
            )
        return plant

    def _stock_read(self, call: SoapCall) -> etree._Element:
        function = "ZMM_STOCK_READ"
        plant = self._plant(call, function)
        material = _parameter(call, "IV_MATNR", 18)
        limit = _max_rows(call, function)
        after = _continue_key(call, function, _STOCK_KEY_LENGTH)
        last_material, last_location = (
            (after[:18].rstrip(), after[18:].rstrip()) if after else ("", "")
        )
        material_filter = "" if material is None else " AND matnr = ?"
        material_args = () if material is None else (material,)
        column = "quantity_early" if self.faults.late_postings else "quantity"
        with closing(open_share(self.share_path)) as share:
            keys = share.execute(
                "SELECT matnr, lgort FROM mard_keys WHERE werks = ?"  # noqa: S608 - fixed fragments
                f"{material_filter} AND (matnr, lgort) > (?, ?)"
                " ORDER BY matnr, lgort LIMIT ?",
                (plant, *material_args, last_material, last_location, limit + 1),
            ).fetchall()
            page = keys[:limit]
            rows = (
                share.execute(
                    f"SELECT matnr, lgort, charg, status, {column}, meins"  # noqa: S608 - fixed fragments
                    f" FROM stock WHERE werks = ?{material_filter}"
                    " AND (matnr, lgort) >= (?, ?) AND (matnr, lgort) <= (?, ?)",
                    (plant, *material_args, *page[0], *page[-1]),
                ).fetchall()
                if page
                else []
            )
        mard: dict[tuple[str, str], dict[str, Decimal]] = {
            key: defaultdict(Decimal) for key in page
        }
        mchb: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(
            lambda: defaultdict(Decimal)
        )
        units: dict[str, str] = {}
        for matnr, lgort, charg, status, text, meins in rows:
            quantity = Decimal(text)
            mard[matnr, lgort][_MARD_STATUS_FIELDS[status]] += quantity
            if charg:
                mchb[matnr, lgort, charg][_MCHB_STATUS_FIELDS[status]] += quantity
            units[matnr] = meins
        response = etree.Element(
            f"{{{ECC_NS}}}{function}Response", nsmap={"n0": ECC_NS}
        )
        table = etree.SubElement(response, "ET_MARD")
        for (matnr, lgort), figures in mard.items():
            values = {"MATNR": matnr, "WERKS": plant, "LGORT": lgort}
            _item(table, ECC_MARD_FIELDS, values, figures, units[matnr])
        table = etree.SubElement(response, "ET_MCHB")
        for (matnr, lgort, charg), figures in sorted(mchb.items()):
            values = {"MATNR": matnr, "WERKS": plant, "LGORT": lgort, "CHARG": charg}
            _item(table, ECC_MCHB_FIELDS, values, figures, units[matnr])
        more = len(keys) > limit
        etree.SubElement(response, "EV_CONTINUE").text = (
            f"{page[-1][0]:<18}{page[-1][1]:<4}" if more else ""
        )
        return response

    def _goods_movement_read(self, call: SoapCall) -> etree._Element:
        function = "ZMM_GOODSMVT_READ"
        plant = self._plant(call, function)
        entry_date = _parameter(call, "IV_CPUDT_FROM", 10) or ""
        entry_time = _parameter(call, "IV_CPUTM_FROM", 8) or "00:00:00"
        if not _DATE.fullmatch(entry_date) or not _TIME.fullmatch(entry_time):
            raise _deserialisation_failed(function)
        since = entry_date.replace("-", "") + entry_time.replace(":", "")
        limit = _max_rows(call, function)
        after = _continue_key(call, function, _MOVEMENT_KEY_LENGTH)
        bound, operator = (after, ">") if after and after >= since else (since, ">=")
        hide_late = " AND late = 0" if self.faults.late_postings else ""
        columns = ", ".join(ECC_MOVEMENT_FIELDS)
        with closing(open_share(self.share_path)) as share:
            rows = share.execute(
                f"SELECT skey, {columns} FROM mseg WHERE werks = ?"  # noqa: S608 - fixed fragments
                f" AND skey {operator} ?{hide_late} ORDER BY skey LIMIT ?",
                (plant, bound, limit + 1),
            ).fetchall()
        response = etree.Element(
            f"{{{ECC_NS}}}{function}Response", nsmap={"n0": ECC_NS}
        )
        table = etree.SubElement(response, "ET_GOODSMVT")
        names = [name for name, _ in ECC_GOODSMVT_FIELDS]
        for row in rows[:limit]:
            item = etree.SubElement(table, "item")
            values = dict(zip(ECC_MOVEMENT_FIELDS, row[1:], strict=True))
            for name in names:
                etree.SubElement(item, name).text = values[name.lower()]
        more = len(rows) > limit
        etree.SubElement(response, "EV_CONTINUE").text = (
            rows[limit - 1][0] if more else ""
        )
        return response


def _item(
    table: etree._Element,
    fields: tuple[tuple[str, str], ...],
    keys: dict[str, str],
    figures: dict[str, Decimal],
    unit: str,
) -> None:
    item = etree.SubElement(table, "item")
    for name, kind in fields:
        if name == "MEINS":
            text = unit
        elif kind == "quantum13.3":
            text = quantity_text(str(figures.get(name, Decimal(0))))
        else:
            text = keys[name]
        etree.SubElement(item, name).text = text


def _parameter(call: SoapCall, name: str, max_length: int) -> str | None:
    """An importing parameter's text; too long for its ABAP type is a fault."""
    for child in call.operation:
        if isinstance(child.tag, str) and etree.QName(child).localname == name:
            text = (child.text or "").strip()
            if len(text) > max_length:
                raise _deserialisation_failed(etree.QName(call.operation).localname)
            return text
    return None


def _max_rows(call: SoapCall, function: str) -> int:
    text = _parameter(call, "IV_MAX_ROWS", 11)
    if not text:
        return DEFAULT_MAX_ROWS
    try:
        value = int(text)
    except ValueError:
        raise _deserialisation_failed(function) from None
    if value < 0:
        raise _rfc_exception(
            function, "INVALID_INPUT", "002", f"IV_MAX_ROWS {value} is negative"
        )
    return min(value or DEFAULT_MAX_ROWS, MAX_MAX_ROWS)


def _continue_key(call: SoapCall, function: str, length: int) -> str:
    key = _parameter(call, "IV_CONTINUE", 40) or ""
    if key and len(key) != length:
        raise _rfc_exception(
            function, "INVALID_INPUT", "003", "IV_CONTINUE is not a continuation key"
        )
    return key


def _rfc_exception(function: str, name: str, number: str, text: str) -> SoapFault:
    detail = etree.Element(f"{{{ECC_NS}}}{function}.Exception", nsmap={"n0": ECC_NS})
    etree.SubElement(detail, "Name").text = name
    etree.SubElement(detail, "Text").text = text
    message = etree.SubElement(detail, "Message")
    etree.SubElement(message, "ID").text = "ZMM"
    etree.SubElement(message, "Number").text = number
    return SoapFault(name, detail=detail)


def _deserialisation_failed(function: str) -> SoapFault:
    namespace = "http://www.sap.com/transformation-templates"
    detail = etree.Element(
        f"{{{namespace}}}SimpleTransformationFault", nsmap={"n0": namespace}
    )
    etree.SubElement(detail, "MainName").text = f"/1BCDWB/WSS{function}"
    etree.SubElement(detail, "Valid").text = "X"
    etree.SubElement(detail, "Exception").text = "CX_ST_DESERIALIZATION_ERROR"
    return SoapFault("Deserialisation failed", detail=detail)


def _processing_error() -> SoapFault:
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return SoapFault(
        "Web service processing error; more details in the web service error log"
        f" on provider side (UTC timestamp {stamp}; Transaction ID"
        " 5F1C0A9B3D2E4F60A1B2C3D4E5F60718)",
        client_error=False,
    )
