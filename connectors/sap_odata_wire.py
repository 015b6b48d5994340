"""SAP Gateway's OData v2 wire format, read exactly (reference/sap.md §2, §9).

Pure functions, no I/O: Edm.Decimal arrives as a JSON string and becomes a
`Decimal` straight from that text; Edm.DateTime is `/Date(ms[+offset])/`;
Edm.Time is an ISO duration (`PT10H37M02S`); filter literals must be written
the way Gateway parses them; errors come as a JSON or XML body or, on an
otherwise successful reply, in the `sap-message` header. Each reader raises
`WireError` with what was wrong, so the caller can quarantine a row or fail
the call with the system's own words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from lxml import etree  # type: ignore[import-untyped]

__all__ = [
    "CutOffError",
    "WireError",
    "collection_rows",
    "datetime_literal",
    "decimal_value",
    "odata_date",
    "odata_datetime",
    "odata_time",
    "parse_metadata",
    "query_string",
    "raw_fields",
    "sap_error_text",
    "sap_message_error",
    "string_literal",
    "text_field",
    "time_literal",
]

_DATE = re.compile(r"/Date\((-?\d+)(?:([+-])(\d{1,4}))?\)/")
_TIME = re.compile(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:\.(\d{1,6}))?S)?")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SAFE_QUERY = "$',()/:*"
_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class WireError(ValueError):
    """A value that is not what the OData v2 wire format allows."""


class CutOffError(WireError):
    """A body that ends too early to parse: possibly cut off in transit."""


# --- values -------------------------------------------------------------------


def decimal_value(value: object, name: str) -> Decimal:
    """An Edm.Decimal from its JSON text ("1160.000", "2", "0.5"), exactly."""
    if not isinstance(value, str):
        msg = f"{name} must be a decimal string, got {value!r}"
        raise WireError(msg)
    try:
        number = Decimal(value)
    except InvalidOperation:
        msg = f"{name} is not a decimal number: {value!r}"
        raise WireError(msg) from None
    if not number.is_finite():
        msg = f"{name} is not a finite number: {value!r}"
        raise WireError(msg)
    return number


def odata_datetime(value: object, name: str) -> datetime:
    """An aware datetime from `/Date(ms)/` (UTC) or `/Date(ms+mmmm)/` (that offset).

    The milliseconds count from 1970-01-01 UTC; an offset (minutes) only
    says in which zone the instant was written, so it is kept as the tzinfo.
    """
    match = _DATE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        msg = f"{name} is not an OData /Date(ms)/ value: {value!r}"
        raise WireError(msg)
    millis, sign, minutes = match.groups()
    instant = _EPOCH + timedelta(milliseconds=int(millis))
    if sign is None:
        return instant
    offset = timedelta(minutes=int(minutes)) * (-1 if sign == "-" else 1)
    if abs(offset) >= timedelta(hours=24):
        msg = f"{name} has an offset beyond a day: {value!r}"
        raise WireError(msg)
    return instant.astimezone(timezone(offset))


def odata_date(value: object, name: str) -> datetime:
    """The calendar date of a date-only Edm.DateTime, as a naive midnight.

    SAP writes date-only fields (`sap:display-format="Date"`) as midnight
    UTC of that date; a value that is not a midnight is not a date.
    """
    instant = odata_datetime(value, name)
    if instant.timetz().replace(tzinfo=None) != time(0):
        msg = f"{name} should be a date (midnight) but carries a time: {value!r}"
        raise WireError(msg)
    return instant.replace(tzinfo=None)


def odata_time(value: object, name: str) -> time:
    """An Edm.Time (`PT10H37M02S`) as a wall-clock time of day."""
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None or value == "PT":
        msg = f"{name} is not an OData time (PTnnHnnMnnS): {value!r}"
        raise WireError(msg)
    hours, minutes, seconds, fraction = match.groups()
    h, m, s = int(hours or 0), int(minutes or 0), int(seconds or 0)
    if h > 23 or m > 59 or s > 59:
        msg = f"{name} is not a time of day: {value!r}"
        raise WireError(msg)
    return time(h, m, s, int((fraction or "0").ljust(6, "0")))


def text_field(row: Mapping[str, Any], name: str) -> str:
    """An Edm.String property; absent or null reads as SAP's empty value ''."""
    value = row.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        msg = f"{name} must be text, got {value!r}"
        raise WireError(msg)
    return value


def raw_fields(row: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, object]:
    """The named properties of a row, JSON-safe, for quarantine."""
    raw: dict[str, object] = {}
    for name in names:
        if name in row:
            value = row[name]
            plain = value is None or type(value) is str or type(value) is bool
            raw[name] = value if plain else str(value)
    return raw


# --- URLs -----------------------------------------------------------------------


def string_literal(text: str) -> str:
    """An Edm.String filter literal: quoted, inner quotes doubled."""
    return "'" + text.replace("'", "''") + "'"


def datetime_literal(moment: datetime) -> str:
    """An Edm.DateTime filter literal of a naive (system-zone) moment."""
    return f"datetime'{moment.replace(microsecond=0).isoformat()}'"


def time_literal(moment: time) -> str:
    """An Edm.Time filter literal."""
    return f"time'PT{moment.hour:02d}H{moment.minute:02d}M{moment.second:02d}S'"


def query_string(params: Mapping[str, str]) -> str:
    """Query options percent-encoded the way Gateway expects (`%20`, never `+`)."""
    return "&".join(
        f"{quote(key, safe='$')}={quote(value, safe=_SAFE_QUERY)}"
        for key, value in params.items()
    )


# --- $metadata -----------------------------------------------------------------


def parse_metadata(metadata: bytes) -> dict[str, frozenset[str]]:
    """Entity type name -> the property names a service's `$metadata` declares.

    Raises `CutOffError` when the body is not well-formed XML (a body cut
    short in transit looks exactly like that) and `WireError` when it is
    XML but not an EDMX document.
    """
    try:
        root = etree.fromstring(metadata, _XML)
    except etree.XMLSyntaxError as exc:
        msg = f"$metadata is not well-formed XML ({exc})"
        raise CutOffError(msg) from None
    if etree.QName(root).localname != "Edmx":
        msg = (
            f"$metadata is not an EDMX document (root <{etree.QName(root).localname}>)"
        )
        raise WireError(msg)
    return {
        str(node.get("Name")): frozenset(
            name for p in node.iterfind("{*}Property") if (name := p.get("Name"))
        )
        for node in root.iter("{*}EntityType")
    }


# --- envelopes and errors -----------------------------------------------------------


def collection_rows(body: object) -> tuple[list[dict[str, Any]], str | None]:
    """The rows and the `__next` link of a verbose-JSON collection reply."""
    data = body.get("d") if isinstance(body, dict) else None
    if isinstance(data, list):
        rows: object = data
        link: object = None
    elif isinstance(data, dict) and "results" in data:
        rows, link = data["results"], data.get("__next")
    else:
        msg = 'the reply is not an OData collection ({"d": {"results": [...]}})'
        raise WireError(msg)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        msg = "the reply's results are not a list of entities"
        raise WireError(msg)
    if link is not None and not (isinstance(link, str) and link):
        msg = f"the reply's __next link is not a URL: {link!r}"
        raise WireError(msg)
    return rows, link


def _message_value(message: object) -> str:
    if isinstance(message, dict):
        return str(message.get("value", ""))
    return "" if message is None else str(message)


def _details(errors: object) -> list[str]:
    if not isinstance(errors, list):
        return []
    return [
        f"{d.get('code', '')}: {d.get('message', '')}".strip(": ")
        for d in errors
        if isinstance(d, dict)
    ]


def _json_error(body: bytes) -> str | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return None
    text = f"{error.get('code', '')}: {_message_value(error.get('message'))}"
    inner = error.get("innererror")
    details = _details(inner.get("errordetails")) if isinstance(inner, dict) else []
    extra = [d for d in details if d and d not in text]
    return text + (f" ({'; '.join(extra)})" if extra else "")


def _xml_error(body: bytes) -> str | None:
    try:
        root = etree.fromstring(body, _XML)
    except etree.XMLSyntaxError:
        return None
    if etree.QName(root).localname != "error":
        return None
    parts: dict[str, str] = {}
    for child in root:
        if isinstance(child.tag, str) and child.text:
            parts.setdefault(etree.QName(child).localname, child.text.strip())
    code, message = parts.get("code", ""), parts.get("message", "")
    return f"{code}: {message}" if code or message else None


def sap_error_text(body: bytes) -> str | None:
    """'code: message (details)' of a Gateway error body (JSON or XML), else None."""
    stripped = body.lstrip()
    if stripped.startswith(b"{"):
        return _json_error(stripped)
    if stripped.startswith(b"<"):
        return _xml_error(stripped)
    return None


def _header_text(value: str) -> str:
    """Header values reach us as latin-1; Gateway writes UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _header_messages(value: str) -> list[dict[str, Any]]:
    text = _header_text(value).strip()
    if text.startswith("{"):
        try:
            message = json.loads(text)
        except ValueError:
            return []
        if not isinstance(message, dict):
            return []
        details = message.get("details")
        nested = (
            [d for d in details if isinstance(d, dict)]
            if isinstance(details, list)
            else []
        )
        return [message, *nested]
    if text.startswith("<"):
        try:
            root = etree.fromstring(text.encode("utf-8"), _XML)
        except etree.XMLSyntaxError:
            return []
        found = []
        for node in root.iter():
            fields = {
                etree.QName(c).localname: (c.text or "").strip()
                for c in node
                if isinstance(c.tag, str)
            }
            if "severity" in fields:
                found.append(fields)
        return found
    return []


def sap_message_error(value: str | None) -> str | None:
    """The error text of a `sap-message` header whose severity is error, else None."""
    if not value:
        return None
    errors = [
        f"{m.get('code', '')}: {m.get('message', '')}".strip(": ")
        for m in _header_messages(value)
        if str(m.get("severity", "")).lower() == "error"
    ]
    return "; ".join(errors) if errors else None
