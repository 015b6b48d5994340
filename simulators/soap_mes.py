"""An MES web service in the ASMX style many Chinese plants run (`MesService.asmx`).

Three operations, three shapes a connector meets in the field:

- `GetLineSideStock(factoryCode)` returns a .NET `DataSet`: an inline
  `xs:schema` and a `diffgr:diffgram` with `NewDataSet/Table` rows. DBNull
  columns are left out (a row without a batch has no `BatchNo`).
- `GetMaterialTransactions(since, pageIndex, pageSize)` returns an XML
  document **as a string**, written by a .NET StringWriter and therefore
  declaring `encoding="utf-16"` while travelling as UTF-8 text. Paging is
  by 1-based page index over transactions entered at or after `since`; a
  naive `since` is the MES's local time.
- `GetMaterialList(pageIndex, pageSize)` returns a JSON string in the
  `{code, msg, data, ts}` envelope, quantities as decimal strings.

Times are naive local wall-clock times (`zone`), as the MES database keeps
them; the DataSet's dateTime carries the local offset, as .NET writes it.

While `faults.late_postings` is on, the truth's late lines are missing from
the transactions and their effect from the line-side stock (a row they bring
to zero is left out, as the MES leaves zero rows out): a posting not yet
entered has no effect anywhere, as in the other simulators.
"""

from __future__ import annotations

import json
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from lxml import etree  # type: ignore[import-untyped]

from stockbridge.simulators.http_server import Faults, Request, Response
from stockbridge.simulators.soap_dataset import append_dataset
from stockbridge.simulators.soap_protocol import (
    EvilReply,
    SoapCall,
    SoapDialect,
    SoapFault,
    basic_auth_ok,
    build_envelope,
    build_fault,
    evil_document_prefix,
    evil_entity_reference,
    parse_call,
    request_version,
)
from stockbridge.simulators.soap_share import local_time, open_share
from stockbridge.simulators.soap_wsdl import MES_DATASET_COLUMNS, MES_NS, mes_wsdl

__all__ = ["MES_STATUSES", "MES_TRANSACTION_TYPES", "MES_UNITS", "MesSoapApp"]

ASMX_DIALECT = SoapDialect(
    prefix11="soap", prefix12="soap", xml_declaration=True, empty_header=False
)
MAX_PAGE_SIZE = 1000

MES_UNITS = {
    "H87": "PCS",
    "PCE": "PCS",
    "EA": "EA",
    "KGM": "KG",
    "GRM": "G",
    "TNE": "T",
    "MTR": "M",
    "LTR": "L",
    "CT": "CTN",
    "BX": "BOX",
}
MES_STATUSES = {
    "unrestricted": "OK",
    "quality_inspection": "QC",
    "blocked": "HOLD",
    "in_transit": "TRANSIT",
    "restricted": "RESTRICTED",
}
MES_TRANSACTION_TYPES = {
    "receipt": "RECEIVE",
    "issue": "ISSUE",
    "production_issue": "CONSUME",
    "production_receipt": "OUTPUT",
    "sales_issue": "SHIP",
    "adjustment": "ADJUST",
    "scrap": "SCRAP",
    "return": "RETURN",
    "reversal": "REVERSAL",
}
"""`TransType` by truth kind; a transfer leg is TRANSFER_IN or TRANSFER_OUT by
its sign. The codes (and units) are the MES REST simulator's: one MES, one
vocabulary, whichever interface a connector reads it through."""
_LOCAL = "%Y-%m-%d %H:%M:%S"


class MesSoapApp:
    """The ASMX endpoint and its WSDL; the evil knobs may be changed at run time.

    `evil_reply` arms the SOAP envelope of every operation reply;
    `evil_payload` arms the XML document inside `GetMaterialTransactionsResult`
    (the string a connector parses with its own parser).
    """

    path = "/MesService.asmx"

    def __init__(
        self,
        share_path: Path,
        *,
        faults: Faults,
        zone: ZoneInfo,
        username: str | None = None,
        password: str | None = None,
        evil_reply: EvilReply | None = None,
        evil_payload: EvilReply | None = None,
    ) -> None:
        self.share_path = share_path
        self.faults = faults
        self.zone = zone
        self.evil_reply: EvilReply | None = evil_reply
        self.evil_payload: EvilReply | None = evil_payload
        self._credentials = None if username is None else (username, password or "")

    def __call__(self, request: Request) -> Response:
        if request.path.lower() != self.path.lower():
            return Response.text(
                "<h1>404 - File or directory not found.</h1>", 404, "text/html"
            )
        if self._credentials and not basic_auth_ok(request, *self._credentials):
            response = Response.text("<h1>401 - Unauthorized</h1>", 401, "text/html")
            response.headers["WWW-Authenticate"] = 'Basic realm="127.0.0.1"'
            return response
        if request.method == "GET":
            if any(key.lower() == "wsdl" for key in request.query):
                location = f"http://{request.header('host', '127.0.0.1')}{self.path}"
                return Response.text(mes_wsdl(location), content_type="text/xml")
            return Response.text(
                "<html><body>MesService</body></html>", content_type="text/html"
            )
        if request.method != "POST":
            return Response.text("Method not allowed", 405)
        try:
            call = parse_call(request)
        except SoapFault as fault:
            fault.message = f"Server was unable to read request. ---> {fault.message}"
            return build_fault(ASMX_DIALECT, request_version(request), fault)
        try:
            payload = self._dispatch(call)
        except SoapFault as fault:
            return build_fault(ASMX_DIALECT, call.version, fault)
        return build_envelope(ASMX_DIALECT, call.version, payload, evil=self.evil_reply)

    def _dispatch(self, call: SoapCall) -> etree._Element:
        name = etree.QName(call.operation)
        if name.namespace == MES_NS and name.localname == "GetLineSideStock":
            return self._line_side_stock(call)
        if name.namespace == MES_NS and name.localname == "GetMaterialTransactions":
            return self._material_transactions(call)
        if name.namespace == MES_NS and name.localname == "GetMaterialList":
            return self._material_list(call)
        msg = f"Server did not recognize the value of HTTP Header SOAPAction: {call.action}."
        raise SoapFault(msg)

    def _line_side_stock(self, call: SoapCall) -> etree._Element:
        factory = _argument(call, "factoryCode") or ""
        held = self.faults.late_postings
        quantity, shown = (
            ("quantity_early", "shown_early") if held else ("quantity", "shown")
        )
        with closing(open_share(self.share_path)) as share:
            rows = share.execute(
                "SELECT factory, warehouse, material, name, batch, status,"  # noqa: S608 - fixed column names
                f" {quantity}, reserved, unit FROM stock WHERE factory = ?"
                f" AND {shown} = 1 ORDER BY warehouse, material, batch, status",
                (factory,),
            ).fetchall()
            now_at = share.execute("SELECT now_at FROM share_meta").fetchone()[0]
        updated = datetime.fromisoformat(now_at).astimezone(self.zone).isoformat()
        response = etree.Element(
            f"{{{MES_NS}}}GetLineSideStockResponse", nsmap={None: MES_NS}
        )
        result = etree.SubElement(response, f"{{{MES_NS}}}GetLineSideStockResult")
        append_dataset(
            result,
            MES_DATASET_COLUMNS,
            (
                {
                    "FactoryCode": site,
                    "WarehouseCode": warehouse,
                    "MaterialCode": material,
                    "MaterialName": name,
                    "BatchNo": batch,
                    "QualityStatus": MES_STATUSES[status],
                    "Qty": quantity,
                    "LockQty": reserved,
                    "Unit": MES_UNITS[unit],
                    "UpdateTime": updated,
                }
                for site, warehouse, material, name, batch, status, quantity, reserved, unit in rows
            ),
        )
        return response

    def _material_transactions(self, call: SoapCall) -> etree._Element:
        since = self._since(call)
        page_index, page_size = _paging(call)
        sequence = "seq_ontime" if self.faults.late_postings else "seq_all"
        with closing(open_share(self.share_path)) as share:
            first = share.execute(
                f"SELECT {sequence} FROM trans WHERE entry_key >= ?"  # noqa: S608 - fixed column names
                f" AND {sequence} IS NOT NULL ORDER BY entry_key, seq_all LIMIT 1",
                (since,),
            ).fetchone()
            last = share.execute(f"SELECT MAX({sequence}) FROM trans").fetchone()  # noqa: S608 - fixed column names
            total = 0 if first is None else last[0] - first[0] + 1
            start = 0 if first is None else first[0] + (page_index - 1) * page_size
            rows = (
                share.execute(
                    "SELECT document, line, kind, direction, factory, warehouse, material,"  # noqa: S608 - fixed column names
                    " batch, status, quantity, unit, posted_at, entered_at, order_ref,"
                    f" reverses_document, reverses_line FROM trans WHERE {sequence} >= ?"
                    f" AND {sequence} < ? ORDER BY {sequence}",
                    (start, start + page_size),
                ).fetchall()
                if first is not None
                else []
            )
        root = etree.Element("root")
        for tag, text in (
            ("code", "0"),
            ("message", "success"),
            ("total", str(total)),
            ("pageIndex", str(page_index)),
            ("pageSize", str(page_size)),
        ):
            etree.SubElement(root, tag).text = text
        if self.evil_payload is not None:
            etree.SubElement(root, "remark")
        table = etree.SubElement(root, "rows")
        for row in rows:
            self._transaction(etree.SubElement(table, "row"), row)
        text = etree.tostring(root, encoding="unicode")
        if self.evil_payload is not None:
            armed = f"<remark>{evil_entity_reference(self.evil_payload)}</remark>"
            text = evil_document_prefix(self.evil_payload, "root") + text.replace(
                "<remark/>", armed, 1
            )
        response = etree.Element(
            f"{{{MES_NS}}}GetMaterialTransactionsResponse", nsmap={None: MES_NS}
        )
        result = etree.SubElement(
            response, f"{{{MES_NS}}}GetMaterialTransactionsResult"
        )
        result.text = '<?xml version="1.0" encoding="utf-16"?>' + text
        return response

    def _transaction(self, element: etree._Element, row: tuple[object, ...]) -> None:
        (
            document,
            line,
            kind,
            direction,
            site,
            warehouse,
            material,
            batch,
            status,
            quantity,
            unit,
            posted_at,
            entered_at,
            order_ref,
            reverses_document,
            reverses_line,
        ) = row
        values = {
            "TransId": document,
            "LineNo": line,
            "TransType": (
                ("TRANSFER_IN" if direction == 1 else "TRANSFER_OUT")
                if kind == "transfer"
                else MES_TRANSACTION_TYPES[str(kind)]
            ),
            "IoType": "IN" if direction == 1 else "OUT",
            "FactoryCode": site,
            "WarehouseCode": warehouse,
            "MaterialCode": material,
            "BatchNo": batch,
            "QualityStatus": MES_STATUSES[str(status)],
            "Qty": quantity,
            "Unit": MES_UNITS[str(unit)],
            "TransTime": local_time(str(posted_at), self.zone).strftime(_LOCAL),
            "CreateTime": local_time(str(entered_at), self.zone).strftime(_LOCAL),
            "WorkOrderNo": order_ref,
            "RefTransId": reverses_document,
            "RefLineNo": reverses_line,
        }
        for tag, value in values.items():
            etree.SubElement(element, tag).text = "" if value is None else str(value)

    def _since(self, call: SoapCall) -> str:
        text = _argument(call, "since")
        if not text:
            return ""
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            msg = (
                "Server was unable to read request. ---> There is an error in XML"
                f" document. ---> The string '{text}' is not a valid AllXsd value."
            )
            raise SoapFault(msg) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone)
        return f"{moment.astimezone(UTC):%Y%m%d%H%M%S}"

    def _material_list(self, call: SoapCall) -> etree._Element:
        page_index, page_size = _paging(call)
        start = (page_index - 1) * page_size
        with closing(open_share(self.share_path)) as share:
            total = share.execute("SELECT COUNT(*) FROM materials").fetchone()[0]
            rows = share.execute(
                "SELECT code, name, name_en, unit, batch_managed, safety_stock"
                " FROM materials WHERE seq > ? AND seq <= ? ORDER BY seq",
                (start, start + page_size),
            ).fetchall()
        document = {
            "code": 0,
            "msg": "success",
            "data": {
                "total": total,
                "pageIndex": page_index,
                "pageSize": page_size,
                "rows": [
                    {
                        "materialCode": code,
                        "materialName": name,
                        "materialNameEn": name_en,
                        "unit": MES_UNITS[unit],
                        "batchManaged": bool(batch_managed),
                        "safetyStock": safety_stock,
                    }
                    for code, name, name_en, unit, batch_managed, safety_stock in rows
                ],
            },
            "ts": int(datetime.now(UTC).timestamp() * 1000),
        }
        response = etree.Element(
            f"{{{MES_NS}}}GetMaterialListResponse", nsmap={None: MES_NS}
        )
        result = etree.SubElement(response, f"{{{MES_NS}}}GetMaterialListResult")
        result.text = json.dumps(document, ensure_ascii=False)
        return response


def _argument(call: SoapCall, name: str) -> str | None:
    element = call.operation.find(f"{{{MES_NS}}}{name}")
    return None if element is None else (element.text or "").strip()


def _integer(call: SoapCall, name: str) -> int:
    text = _argument(call, name)
    if not text:
        return 0  # .NET leaves a missing int at its default
    try:
        return int(text)
    except ValueError:
        msg = (
            "Server was unable to read request. ---> There is an error in XML"
            " document. ---> Input string was not in a correct format."
        )
        raise SoapFault(msg) from None


def _paging(call: SoapCall) -> tuple[int, int]:
    page_index, page_size = _integer(call, "pageIndex"), _integer(call, "pageSize")
    if page_index < 1:
        msg = (
            "Server was unable to process request. --->"
            " System.ArgumentOutOfRangeException: pageIndex must be at least 1."
        )
        raise SoapFault(msg, client_error=False)
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        msg = (
            "Server was unable to process request. --->"
            f" System.ArgumentOutOfRangeException: pageSize must be 1 to {MAX_PAGE_SIZE}."
        )
        raise SoapFault(msg, client_error=False)
    return page_index, page_size
