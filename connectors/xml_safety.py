"""Reading XML a remote system wrote, without trusting it.

A reply that carries a DTD is refused, never parsed for its content: a DTD
is how external entities (XXE: reading local files, reaching internal
hosts) and entity-expansion bombs (billion laughs: a few hundred bytes that
expand to gigabytes) get in, and no SAP or MES reply needs one. The check
reads only the document's prolog, before any parser sees the entities, and
the parser that follows resolves nothing, loads no DTD, touches no network
and keeps libxml2's size and amplification limits (`huge_tree=False`).
"""

from __future__ import annotations

import codecs
import re

from lxml import etree  # type: ignore[import-untyped]

__all__ = [
    "REFUSED",
    "BadXmlError",
    "UnsafeXmlError",
    "declares_dtd",
    "parse_untrusted_xml",
]

REFUSED = "the reply carries a DTD/entity declarations; refused"

_PROLOG_SIZE = 65_536
"""How much of a document the DTD check reads: a prolog is short."""
# Whitespace, processing instructions and comments, then <!DOCTYPE. Each
# alternative stops at its first end marker, so a match never runs on into
# the document (a lazy `.*?` would, and backtrack over all of it).
_PROLOG_DOCTYPE = re.compile(
    r"\A\ufeff?"
    r"(?:[ \t\r\n]|<\?[^?]*(?:\?(?!>)[^?]*)*\?>|<!--[^-]*(?:-(?!->)[^-]*)*-->)*"
    r"<!DOCTYPE"
)
_DECLARATION = re.compile(r"\A\ufeff?[ \t\r\n]*<\?xml[^?]*\?>")


class UnsafeXmlError(ValueError):
    """The document carries a DTD (and with it, maybe, entity declarations)."""


class BadXmlError(ValueError):
    """The document is not well-formed XML."""


def declares_dtd(document: str | bytes) -> bool:
    """Whether `document`'s prolog declares a DTD (`<!DOCTYPE`)."""
    if isinstance(document, str):
        return _PROLOG_DOCTYPE.match(document[:_PROLOG_SIZE]) is not None
    return _PROLOG_DOCTYPE.match(_prolog_text(document)) is not None


def _prolog_text(data: bytes) -> str:
    """The start of `data` as text, whatever the encoding of its markup."""
    head = data[:_PROLOG_SIZE]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head.decode("utf-16", errors="ignore")
    if head.startswith(b"<\x00"):
        return head.decode("utf-16-le", errors="ignore")
    if head.startswith(b"\x00<"):
        return head.decode("utf-16-be", errors="ignore")
    # Markup characters are ASCII in every other encoding a reply may use.
    return head.removeprefix(codecs.BOM_UTF8).decode("latin-1")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
    )


def parse_untrusted_xml(document: str | bytes) -> etree._Element:
    """The root element of `document`; a DTD or bad XML is a `ValueError`.

    A `str` is already decoded, so its XML declaration is dropped before
    parsing: the encoding it names belonged to bytes that no longer exist (a
    .NET StringWriter writes `encoding="utf-16"` on text that then travels as
    UTF-8 inside a SOAP string). `bytes` are decoded by the parser, honouring
    their BOM and declaration.
    """
    if declares_dtd(document):
        raise UnsafeXmlError(REFUSED)
    if isinstance(document, str):
        document = _DECLARATION.sub("", document, count=1)
    try:
        root = etree.fromstring(document, _parser())
    except etree.XMLSyntaxError as exc:
        msg = f"not well-formed XML: {exc}"
        raise BadXmlError(msg) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise UnsafeXmlError(REFUSED)
    return root
