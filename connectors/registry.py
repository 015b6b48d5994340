"""Which module implements each `kind`, imported only when a source uses it.

Lazy imports keep zeep, pyodbc and friends out of a process that does not
need them. Third parties add kinds through the `stockbridge.connectors`
entry-point group (`mykind = "mypkg.module:MyConnector"`).
"""

from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points

from stockbridge.connectors.base import Connector
from stockbridge.connectors.errors import SourceConfigError

__all__ = ["BUILTIN_KINDS", "connector_class", "known_kinds"]

BUILTIN_KINDS: dict[str, str] = {
    "sap_odata": "stockbridge.connectors.sap_odata:SapODataConnector",
    "sap_soap": "stockbridge.connectors.sap_soap:SapSoapConnector",
    "k3cloud": "stockbridge.connectors.k3cloud:K3CloudConnector",
    "k3wise": "stockbridge.connectors.k3wise:K3WiseConnector",
    "u8": "stockbridge.connectors.u8:U8Connector",
    "mes_rest": "stockbridge.connectors.mes_rest:MesRestConnector",
    "jiandaoyun": "stockbridge.connectors.jiandaoyun:JiandaoyunConnector",
    "mes_soap": "stockbridge.connectors.mes_soap:MesSoapConnector",
    "sql": "stockbridge.connectors.sql:SqlConnector",
    "file": "stockbridge.connectors.file_drop:FileDropConnector",
}

ENTRY_POINT_GROUP = "stockbridge.connectors"


def _plugin_kinds() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def known_kinds() -> list[str]:
    """Every kind a source may name: built-in and installed plugins."""
    return sorted({*BUILTIN_KINDS, *_plugin_kinds()})


def connector_class(kind: str) -> type[Connector]:
    """The connector class for `kind`, importing its module now."""
    target = BUILTIN_KINDS.get(kind) or _plugin_kinds().get(kind)
    if target is None:
        close = difflib.get_close_matches(kind, known_kinds(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        msg = f"unknown source kind {kind!r}: expected one of {', '.join(known_kinds())}{hint}"
        raise SourceConfigError(msg)
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        msg = f"source kind {kind!r} cannot be loaded: {error}"
        raise SourceConfigError(msg) from error
    cls = getattr(module, class_name)
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        msg = f"{target} (kind {kind!r}) is not a stockbridge Connector"
        raise SourceConfigError(msg)
    return cls
