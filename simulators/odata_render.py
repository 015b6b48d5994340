"""OData v2 wire formats: verbose JSON, Atom XML and SAP Gateway error bodies.

Values leave the simulator the way SAP Gateway writes them (reference/sap.md §2):
Edm.Decimal as a JSON string, Edm.DateTime as `/Date(ms)/` (UTC midnight for
date-only fields), Edm.Time as `PT10H37M02S`; Atom carries the same values
in XML text with `m:type` attributes. Rows arrive from SQL in stored form
(decimals already as text, dates as 'YYYY-MM-DDTHH:MM:SS', times 'HH:MM:SS').
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import quote
from xml.sax.saxutils import escape

import orjson

from stockbridge.simulators.sap_edmx import EntityType, Prop

__all__ = [
    "Entity",
    "atom_entry",
    "atom_feed",
    "date_ms",
    "duration",
    "error_body",
    "json_entity",
    "key_predicate",
]

_M = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
_D = "http://schemas.microsoft.com/ado/2007/08/dataservices"
_REL = "http://schemas.microsoft.com/ado/2007/08/dataservices/related/"


@lru_cache(maxsize=65536)
def date_ms(stored: str) -> str:
    """'2024-03-11T00:00:00' -> '/Date(1710115200000)/'."""
    instant = datetime.fromisoformat(stored).replace(tzinfo=UTC)
    return f"/Date({int(instant.timestamp()) * 1000})/"


@lru_cache(maxsize=65536)
def duration(stored: str) -> str:
    """'10:37:02' -> 'PT10H37M02S'."""
    h, m, s = stored.split(":")
    return f"PT{h}H{m}M{s}S"


def _json_converter(edm: str) -> Callable[[object], object] | None:
    """How a stored value becomes JSON; None: it is text already (or NULL/number to text)."""
    if edm == "Edm.DateTime":
        return lambda v: None if v is None else date_ms(str(v))
    if edm == "Edm.Time":
        return lambda v: None if v is None else duration(str(v))
    if edm == "Edm.Boolean":
        return bool
    return None


@dataclass
class Entity:
    """One row ready to render, with its expanded navigations (if any)."""

    set_name: str
    etype: EntityType
    values: dict[str, object]
    expanded: dict[str, list[Entity] | Entity | None] = field(default_factory=dict)


@dataclass(frozen=True)
class _Plan:
    """What to write for one entity type and `$select`, worked out once."""

    keys: tuple[str, ...]
    props: tuple[tuple[str, Callable[[object], object] | None], ...]
    navs: tuple[str, ...]


_PLANS: dict[tuple[str, int, frozenset[str] | None], _Plan] = {}


def _plan(etype: EntityType, selected: set[str] | None) -> _Plan:
    chosen = None if selected is None else frozenset(selected)
    cache_key = (etype.name, len(etype.props), chosen)
    plan = _PLANS.get(cache_key)
    if plan is None:
        plan = _PLANS[cache_key] = _Plan(
            tuple(p.name for p in etype.keys),
            tuple(
                (p.name, _json_converter(p.edm))
                for p in etype.props
                if chosen is None or p.name in chosen
            ),
            tuple(n.name for n in etype.navs if chosen is None or n.name in chosen),
        )
    return plan


def _key_text(value: object) -> str:
    text = str(value)
    if text.isalnum():
        return text
    return quote(text.replace("'", "''"), safe="")


def key_predicate(etype: EntityType, values: dict[str, object]) -> str:
    keys = _plan(etype, None).keys
    return "(" + ",".join(f"{k}='{_key_text(values[k])}'" for k in keys) + ")"


def json_entity(
    entity: Entity, root: str, namespace: str, selected: set[str] | None
) -> dict[str, object]:
    plan = _plan(entity.etype, selected)
    values = entity.values
    uri = f"{root}{entity.set_name}{key_predicate(entity.etype, values)}"
    out: dict[str, object] = {
        "__metadata": {
            "id": uri,
            "uri": uri,
            "type": f"{namespace}.{entity.etype.name}",
        }
    }
    for name, convert in plan.props:
        value = values[name]
        if convert is not None:
            out[name] = convert(value)
        elif value.__class__ is str:
            out[name] = value
        else:
            out[name] = "" if value is None else str(value)
    for nav in entity.etype.navs:
        if nav.name in entity.expanded:
            target = entity.expanded[nav.name]
            if isinstance(target, list):
                out[nav.name] = {
                    "results": [json_entity(t, root, namespace, None) for t in target]
                }
            else:
                out[nav.name] = (
                    None
                    if target is None
                    else json_entity(target, root, namespace, None)
                )
        elif nav.name in plan.navs:
            out[nav.name] = {"__deferred": {"uri": f"{uri}/{nav.name}"}}
    return out


def _atom_value(prop: Prop, value: object) -> str:
    tag = f"d:{prop.name}"
    typed = "" if prop.edm == "Edm.String" else f' m:type="{prop.edm}"'
    if value is None:
        return f'<{tag}{typed} m:null="true"/>'
    if prop.edm == "Edm.Time":
        text = duration(str(value))
    elif prop.edm == "Edm.Boolean":
        text = "true" if value else "false"
    else:
        text = escape(str(value))
    return f"<{tag}{typed}>{text}</{tag}>"


def atom_entry(
    entity: Entity,
    root: str,
    namespace: str,
    selected: set[str] | None,
    *,
    top: bool = False,
) -> str:
    path = f"{entity.set_name}{key_predicate(entity.etype, entity.values)}"
    links = []
    for nav in entity.etype.navs:
        kind = "feed" if nav.to_many else "entry"
        inline = ""
        if nav.name in entity.expanded:
            target = entity.expanded[nav.name]
            if isinstance(target, list):
                entries = "".join(atom_entry(t, root, namespace, None) for t in target)
                inline = f"<m:inline><feed>{entries}</feed></m:inline>"
            elif target is not None:
                inline = (
                    f"<m:inline>{atom_entry(target, root, namespace, None)}</m:inline>"
                )
        links.append(
            f'<link href="{escape(path)}/{nav.name}" rel="{_REL}{nav.name}"'
            f' type="application/atom+xml;type={kind}" title="{nav.name}">{inline}</link>'
        )
    props = "".join(
        _atom_value(p, entity.values.get(p.name))
        for p in entity.etype.props
        if selected is None or p.name in selected
    )
    namespaces = f' xml:base="{escape(root)}" xmlns="http://www.w3.org/2005/Atom" xmlns:m="{_M}" xmlns:d="{_D}"'
    return (
        f"<entry{namespaces if top else ''}><id>{escape(root + path)}</id>"
        f'<title type="text">{escape(path)}</title><updated>{_now()}</updated>'
        f'<category term="{namespace}.{entity.etype.name}"'
        ' scheme="http://schemas.microsoft.com/ado/2007/08/dataservices/scheme"/>'
        f'<link href="{escape(path)}" rel="self" title="{entity.etype.name}"/>{"".join(links)}'
        f'<content type="application/xml"><m:properties>{props}</m:properties></content></entry>'
    )


def atom_feed(
    set_name: str,
    entities: Sequence[Entity],
    root: str,
    namespace: str,
    selected: set[str] | None,
    *,
    count: int | None,
    next_url: str | None,
) -> bytes:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xml:base="{escape(root)}" xmlns="http://www.w3.org/2005/Atom" xmlns:m="{_M}" xmlns:d="{_D}">',
        f'<id>{escape(root + set_name)}</id><title type="text">{set_name}</title>',
        f"<updated>{_now()}</updated><author><name/></author>",
        f'<link href="{set_name}" rel="self" title="{set_name}"/>',
    ]
    if count is not None:
        parts.append(f"<m:count>{count}</m:count>")
    parts.extend(atom_entry(e, root, namespace, selected) for e in entities)
    if next_url is not None:
        parts.append(f'<link href="{escape(next_url)}" rel="next"/>')
    parts.append("</feed>")
    return "".join(parts).encode("utf-8")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def error_body(
    code: str,
    message: str,
    *,
    service: str,
    as_json: bool,
    details: Sequence[tuple[str, str]] = (),
) -> tuple[bytes, str]:
    """An SAP Gateway error document and its content type."""
    transaction = uuid.uuid4().hex.upper()
    timestamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S.%f")[:-3]
    note = "See SAP Note 1797736 for error analysis (https://service.sap.com/sap/support/notes/1797736)"
    errordetails = [
        {
            "code": d_code,
            "message": d_message,
            "propertyref": "",
            "severity": "error",
            "target": "",
            "transition": False,
        }
        for d_code, d_message in details
    ]
    if as_json:
        payload = {
            "error": {
                "code": code,
                "message": {"lang": "en", "value": message},
                "innererror": {
                    "application": {
                        "component_id": "",
                        "service_namespace": "/SAP/",
                        "service_id": service,
                        "service_version": "0001",
                    },
                    "transactionid": transaction,
                    "timestamp": timestamp,
                    "Error_Resolution": {"SAP_Transaction": "", "SAP_Note": note},
                    "errordetails": errordetails,
                },
            }
        }
        return orjson.dumps(payload), "application/json; charset=utf-8"
    details_xml = "".join(
        f"<errordetail><code>{escape(c)}</code><message>{escape(m)}</message>"
        "<propertyref/><severity>error</severity><target/></errordetail>"
        for c, m in details
    )
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<error xmlns="{_M}"><code>{escape(code)}</code><message xml:lang="en">{escape(message)}</message>'
        "<innererror><application><component_id/><service_namespace>/SAP/</service_namespace>"
        f"<service_id>{escape(service)}</service_id><service_version>0001</service_version></application>"
        f"<transactionid>{transaction}</transactionid><timestamp>{timestamp}</timestamp>"
        f"<Error_Resolution><SAP_Transaction/><SAP_Note>{escape(note)}</SAP_Note></Error_Resolution>"
        f"<errordetails>{details_xml}</errordetails></innererror></error>"
    )
    return xml.encode("utf-8"), "application/xml; charset=utf-8"
