"""A .NET `DataSet` as an ASMX service returns it: inline XSD plus a DiffGram.

`DataSet.WriteXml(..., XmlWriteMode.DiffGram)` inside a web method's result
gives `<xs:schema id="NewDataSet">` (the table's columns and types) followed by
`<diffgr:diffgram><NewDataSet><Table diffgr:id="Table1" msdata:rowOrder="0">`.
Both parts undeclare the default namespace (`xmlns=""`) because the result
element sits in the service's namespace. Columns holding DBNull are left out
of their row, so a reader must treat a missing column as null.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lxml import etree  # type: ignore[import-untyped]

__all__ = ["DIFFGR_NS", "MSDATA_NS", "XS_NS", "append_dataset"]

XS_NS = "http://www.w3.org/2001/XMLSchema"
MSDATA_NS = "urn:schemas-microsoft-com:xml-msdata"
DIFFGR_NS = "urn:schemas-microsoft-com:xml-diffgram-v1"


def append_dataset(
    result: etree._Element,
    columns: tuple[tuple[str, str], ...],
    rows: Iterable[Mapping[str, str | None]],
) -> None:
    """Write schema and DiffGram of one table named `Table` into `result`.

    `columns` are (name, xs type) in schema order; a row's empty or missing
    value is DBNull and leaves its column out.
    """
    namespace = etree.QName(result).namespace or ""
    result.append(_undeclaring_default(_schema(columns), namespace))
    diffgram = etree.SubElement(
        result,
        f"{{{DIFFGR_NS}}}diffgram",
        nsmap={"msdata": MSDATA_NS, "diffgr": DIFFGR_NS},
    )
    dataset = _undeclaring_default(etree.Element("NewDataSet"), namespace)
    diffgram.append(dataset)
    for order, row in enumerate(rows):
        table = etree.SubElement(dataset, "Table")
        table.set(f"{{{DIFFGR_NS}}}id", f"Table{order + 1}")
        table.set(f"{{{MSDATA_NS}}}rowOrder", str(order))
        for column, _ in columns:
            value = row.get(column)
            if value:
                etree.SubElement(table, column).text = value


def _undeclaring_default(element: etree._Element, namespace: str) -> etree._Element:
    """`element` carrying `xmlns=""`, ready to sit under a `namespace` default.

    lxml drops the undeclaration when a no-namespace element is built under a
    default-namespace parent, which silently moves the element (and, for the
    inline schema, its unprefixed names) into that namespace; an element
    parsed with its own `xmlns=""` keeps it.
    """
    head, _, tail = etree.tostring(element, encoding="unicode").partition(">")
    empty = "/" if head.endswith("/") else ""
    text = f'{head.removesuffix("/")} xmlns=""{empty}>{tail}'
    holder = etree.fromstring(f'<holder xmlns="{namespace}">{text}</holder>')
    return holder[0]


def _schema(columns: tuple[tuple[str, str], ...]) -> etree._Element:
    """The inline XSD, as `DataSet.WriteXmlSchema` writes it."""
    schema = etree.Element(
        f"{{{XS_NS}}}schema", nsmap={"xs": XS_NS, "msdata": MSDATA_NS}, id="NewDataSet"
    )
    dataset = etree.SubElement(schema, f"{{{XS_NS}}}element", name="NewDataSet")
    dataset.set(f"{{{MSDATA_NS}}}IsDataSet", "true")
    dataset.set(f"{{{MSDATA_NS}}}UseCurrentLocale", "true")
    choice = etree.SubElement(
        etree.SubElement(dataset, f"{{{XS_NS}}}complexType"),
        f"{{{XS_NS}}}choice",
        minOccurs="0",
        maxOccurs="unbounded",
    )
    table = etree.SubElement(choice, f"{{{XS_NS}}}element", name="Table")
    sequence = etree.SubElement(
        etree.SubElement(table, f"{{{XS_NS}}}complexType"), f"{{{XS_NS}}}sequence"
    )
    for column, kind in columns:
        etree.SubElement(
            sequence, f"{{{XS_NS}}}element", name=column, type=kind, minOccurs="0"
        )
    return schema
