"""Rows out of the three shapes MES web services answer in (kingdee-yonyou-mes.md §5).

- `dataset`: a .NET `DataSet`, i.e. an inline `xs:schema` and a
  `diffgr:diffgram` whose DataSet element holds one element per row of each
  DataTable. Only the current rows are read (`diffgr:before` keeps old
  versions of changed rows); a column holding DBNull is absent from its row
  and reads as "".
- `xml_string`: an XML document inside a string element. Its declaration
  usually lies: a .NET StringWriter writes `encoding="utf-16"` and the text
  then travels as UTF-8 in the envelope, so the already-decoded text is
  parsed without its declaration. The document is parsed with DTDs refused
  (`xml_safety`): a string is where a hostile payload would hide.
- `json_string`: JSON inside a string element; numbers become `Decimal`.

Every row comes out as a dict of column name to text, exactly as sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from stockbridge.connectors.mes_soap_settings import MesOperation
from stockbridge.connectors.xml_safety import parse_untrusted_xml

__all__ = ["DIFFGRAM_NS", "ResultError", "ResultPage", "read_result"]

DIFFGRAM_NS = "urn:schemas-microsoft-com:xml-diffgram-v1"

Row = dict[str, str]


class ResultError(ValueError):
    """The result is not what the operation's description says, or the MES said no."""


@dataclass(frozen=True, slots=True)
class ResultPage:
    """The rows of one call and, when the result says it, the total row count."""

    rows: list[Row]
    total: int | None = None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _elements(element: etree._Element) -> list[etree._Element]:
    return list(element.iterchildren(etree.Element))


def read_result(response: etree._Element, operation: MesOperation) -> ResultPage:
    """The rows of `operation`'s response element (`<Name>Response`)."""
    children = _elements(response)
    if not children:
        msg = f"{operation.name}Response carries no result"
        raise ResultError(msg)
    result = children[0]
    if operation.result == "dataset":
        return ResultPage(_dataset_rows(result, operation.rows_path))
    text = result.text or ""
    if not text.strip():
        msg = f"{_local(result.tag)} is empty"
        raise ResultError(msg)
    if operation.result == "xml_string":
        return _xml_page(text, operation)
    return _json_page(text, operation)


def _dataset_rows(result: etree._Element, table: str) -> list[Row]:
    diffgram = result.find(f"{{{DIFFGRAM_NS}}}diffgram")
    if diffgram is None:
        msg = f"{_local(result.tag)} is not a DataSet: no diffgr:diffgram"
        raise ResultError(msg)
    datasets = [
        e for e in _elements(diffgram) if etree.QName(e).namespace != DIFFGRAM_NS
    ]
    if not datasets:
        return []  # an empty DataSet: .NET writes an empty DiffGram
    rows = _elements(datasets[0])
    name = table or (_local(rows[0].tag) if rows else "")
    return [
        {_local(column.tag): column.text or "" for column in _elements(row)}
        for row in rows
        if _local(row.tag) == name
    ]


def _xml_page(text: str, operation: MesOperation) -> ResultPage:
    try:
        root = parse_untrusted_xml(text)
    except ValueError as exc:
        msg = f"the XML in {operation.name}'s result: {exc}"
        raise ResultError(msg) from None

    def find(path: str | None) -> str | None:
        return None if path is None else root.findtext(path)

    _check_code(operation, find(operation.code_path), find(operation.message_path))
    elements = (
        root.findall(operation.rows_path) if operation.rows_path else _elements(root)
    )
    rows = [
        {**row.attrib, **{_local(c.tag): c.text or "" for c in _elements(row)}}
        for row in elements
    ]
    total_path = operation.paging.total_path if operation.paging else None
    return ResultPage(rows, _total(find(total_path), total_path))


def _json_page(text: str, operation: MesOperation) -> ResultPage:
    try:
        document = json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        msg = f"the JSON in {operation.name}'s result is not valid ({exc})"
        raise ResultError(msg) from None

    def find(path: str | None) -> Any:
        return None if path is None else _dotted(document, path)

    code, message = find(operation.code_path), find(operation.message_path)
    _check_code(
        operation,
        None if code is None else _text(code),
        None if message is None else _text(message),
    )
    found = find(operation.rows_path) if operation.rows_path else document
    if found is None:
        found = []  # an MES that sends "rows": null on an empty page
    if not isinstance(found, list):
        msg = f"{operation.rows_path or 'the document'} is not a list of rows"
        raise ResultError(msg)
    rows = []
    for item in found:
        if not isinstance(item, Mapping):
            msg = f"a row of {operation.rows_path or 'the document'} is not an object: {item!r}"
            raise ResultError(msg)
        rows.append({str(key): _text(value) for key, value in item.items()})
    total_path = operation.paging.total_path if operation.paging else None
    total = find(total_path)
    return ResultPage(rows, _total(None if total is None else _text(total), total_path))


def _dotted(document: Any, path: str) -> Any:
    value = document
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _text(value: object) -> str:
    """A JSON value as the text it was sent as (decimals keep their digits)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _check_code(operation: MesOperation, code: str | None, message: str | None) -> None:
    if operation.code_path is None:
        return
    if code is None:
        msg = f"the result has no {operation.code_path}"
        raise ResultError(msg)
    if code.strip() not in operation.ok_codes:
        said = f": {message}" if message else ""
        msg = f"{operation.name} answered {operation.code_path} {code.strip()}{said}"
        raise ResultError(msg)


def _total(text: str | None, path: str | None) -> int | None:
    if path is None:
        return None
    try:
        return int((text or "").strip())
    except ValueError:
        msg = f"{path} {text!r} is not a row count"
        raise ResultError(msg) from None
