"""SOAP 1.1/1.2 plumbing shared by the SAP ECC and MES simulators.

Requests are parsed the way a hardened server parses them: no DTD loading, no
entity resolution, no network, and a DOCTYPE is refused outright (as .NET and
SAP ICF do). Replies are built with lxml so escaping is never hand-made.

The two "evil" replies exist for the connector's tests: a reply carrying a DTD
with an external entity (XXE) and a billion-laughs entity bomb. The evil part
sits in a SOAP header entry, so the body stays a well-formed reply: a client
that does not refuse DTDs would otherwise process it normally.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from typing import Literal

from lxml import etree  # type: ignore[import-untyped]

from stockbridge.simulators.http_server import Request, Response

__all__ = [
    "SOAP11_NS",
    "SOAP12_NS",
    "EvilReply",
    "SoapCall",
    "SoapDialect",
    "SoapFault",
    "basic_auth_ok",
    "build_envelope",
    "build_fault",
    "evil_document_prefix",
    "evil_entity_reference",
    "parse_call",
    "request_version",
]

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
XML_NS = "http://www.w3.org/XML/1998/namespace"

EvilReply = Literal["dtd", "entity_bomb"]
SoapVersion = Literal["1.1", "1.2"]

_SAFE_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_blank_text=True,
)
_EVIL_ENTITY: dict[EvilReply, str] = {"dtd": "xxe", "entity_bomb": "lol9"}
_NOTE = "SimNote"


@dataclass(frozen=True)
class SoapDialect:
    """How one vendor's SOAP stack dresses its envelopes."""

    prefix11: str
    """Envelope prefix for SOAP 1.1 (SAP: `soap-env`, .NET: `soap`)."""
    prefix12: str
    xml_declaration: bool
    empty_header: bool
    """Whether replies carry an empty Header (SAP does, ASMX does not)."""


@dataclass(frozen=True)
class SoapCall:
    """One parsed request: the SOAP version and the operation element."""

    version: SoapVersion
    operation: etree._Element
    action: str


class SoapFault(Exception):  # noqa: N818 - it is a SOAP Fault, named as the protocol names it
    """Raised by an operation to answer with a SOAP fault."""

    def __init__(
        self,
        message: str,
        *,
        client_error: bool = True,
        detail: etree._Element | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.client_error = client_error
        self.detail = detail


def request_version(request: Request) -> SoapVersion:
    """The SOAP version a request's Content-Type announces (for faults on bad bodies)."""
    content_type = request.header("content-type").lower()
    return "1.2" if content_type.startswith("application/soap+xml") else "1.1"


def parse_call(request: Request) -> SoapCall:
    """Parse a SOAP request body; a bad envelope is a client-side SoapFault."""
    content_type = request.header("content-type").lower()
    try:
        root = etree.fromstring(request.body, _SAFE_PARSER)
    except etree.XMLSyntaxError as exc:
        msg = f"The request is not well-formed XML: {exc}"
        raise SoapFault(msg) from exc
    if root.getroottree().docinfo.doctype:
        msg = "DTD is prohibited in this XML document."
        raise SoapFault(msg)
    namespace = etree.QName(root).namespace
    if etree.QName(root).localname != "Envelope" or namespace not in (
        SOAP11_NS,
        SOAP12_NS,
    ):
        msg = "The request is not a SOAP envelope."
        raise SoapFault(msg)
    version: SoapVersion = "1.1" if namespace == SOAP11_NS else "1.2"
    body = root.find(f"{{{namespace}}}Body")
    if body is None or len(body) == 0:
        msg = "The SOAP envelope has no body content."
        raise SoapFault(msg)
    action = request.header("soapaction").strip('"')
    if version == "1.2":
        for part in content_type.split(";"):
            key, _, value = part.strip().partition("=")
            if key == "action":
                action = value.strip('"')
    return SoapCall(version=version, operation=body[0], action=action)


@dataclass(frozen=True)
class _Envelope:
    namespace: str
    prefix: str
    content_type: str
    root: etree._Element
    header: etree._Element | None
    body: etree._Element


def _new_envelope(
    dialect: SoapDialect, version: SoapVersion, *, header: bool
) -> _Envelope:
    namespace = SOAP11_NS if version == "1.1" else SOAP12_NS
    prefix = dialect.prefix11 if version == "1.1" else dialect.prefix12
    content_type = (
        "text/xml; charset=utf-8"
        if version == "1.1"
        else "application/soap+xml; charset=utf-8"
    )
    root = etree.Element(f"{{{namespace}}}Envelope", nsmap={prefix: namespace})
    header_element = (
        etree.SubElement(root, f"{{{namespace}}}Header")
        if header or dialect.empty_header
        else None
    )
    body = etree.SubElement(root, f"{{{namespace}}}Body")
    return _Envelope(namespace, prefix, content_type, root, header_element, body)


def _serialize(
    dialect: SoapDialect, envelope: _Envelope, status: int, evil: EvilReply | None
) -> Response:
    text = etree.tostring(envelope.root, encoding="unicode")
    if evil is not None:
        # lxml cannot build an entity reference inside a tree it serializes
        # without a DTD, so the armed note is spliced into the text.
        note = f"<{_NOTE}/>"
        armed = f"<{_NOTE}>{evil_entity_reference(evil)}</{_NOTE}>"
        root_name = f"{envelope.prefix}:Envelope"
        text = evil_document_prefix(evil, root_name) + text.replace(note, armed, 1)
    if dialect.xml_declaration or evil is not None:
        text = '<?xml version="1.0" encoding="utf-8"?>' + text
    return Response(
        status, text.encode("utf-8"), {"Content-Type": envelope.content_type}
    )


def build_envelope(
    dialect: SoapDialect,
    version: SoapVersion,
    payload: etree._Element,
    *,
    evil: EvilReply | None = None,
) -> Response:
    """A 200 reply whose body holds `payload`."""
    envelope = _new_envelope(dialect, version, header=evil is not None)
    if evil is not None and envelope.header is not None:
        etree.SubElement(envelope.header, _NOTE)
    envelope.body.append(payload)
    return _serialize(dialect, envelope, 200, evil)


def build_fault(
    dialect: SoapDialect, version: SoapVersion, fault: SoapFault
) -> Response:
    """A 500 reply with a SOAP fault, in the shape of the request's SOAP version."""
    envelope = _new_envelope(dialect, version, header=False)
    namespace, prefix = envelope.namespace, envelope.prefix
    element = etree.SubElement(envelope.body, f"{{{namespace}}}Fault")
    if version == "1.1":
        code = "Client" if fault.client_error else "Server"
        etree.SubElement(element, "faultcode").text = f"{prefix}:{code}"
        reason = etree.SubElement(element, "faultstring")
        reason.set(f"{{{XML_NS}}}lang", "en")
        reason.text = fault.message
        detail = etree.SubElement(element, "detail")
    else:
        code = "Sender" if fault.client_error else "Receiver"
        code_element = etree.SubElement(element, f"{{{namespace}}}Code")
        etree.SubElement(
            code_element, f"{{{namespace}}}Value"
        ).text = f"{prefix}:{code}"
        reason = etree.SubElement(element, f"{{{namespace}}}Reason")
        text = etree.SubElement(reason, f"{{{namespace}}}Text")
        text.set(f"{{{XML_NS}}}lang", "en")
        text.text = fault.message
        detail = etree.SubElement(element, f"{{{namespace}}}Detail")
    if fault.detail is not None:
        detail.append(fault.detail)
    return _serialize(dialect, envelope, 500, None)


def evil_entity_reference(kind: EvilReply) -> str:
    """The entity reference that arms a document carrying `evil_document_prefix`."""
    return f"&{_EVIL_ENTITY[kind]};"


def evil_document_prefix(kind: EvilReply, root_name: str) -> str:
    """The DOCTYPE that makes a document evil; reference its entity to arm it.

    `dtd` declares an external entity on a local file (classic XXE);
    `entity_bomb` is billion laughs: `&lol9;` expands to 10**9 copies of "lol".
    """
    if kind == "dtd":
        return f'<!DOCTYPE {root_name} [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>'
    levels = ['<!ENTITY lol "lol">']
    previous = "lol"
    for level in range(1, 10):
        name = f"lol{level}"
        levels.append(f'<!ENTITY {name} "{f"&{previous};" * 10}">')
        previous = name
    return f"<!DOCTYPE {root_name} [{''.join(levels)}]>"


def basic_auth_ok(request: Request, username: str, password: str) -> bool:
    """Whether the request carries exactly these Basic credentials."""
    scheme, _, token = request.header("authorization").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    given_user, _, given_password = decoded.partition(":")
    user_ok = hmac.compare_digest(given_user.encode(), username.encode())
    password_ok = hmac.compare_digest(given_password.encode(), password.encode())
    return user_ok and password_ok
