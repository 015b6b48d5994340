"""Saying what `explain` found: sentences for people, a JSON contract for tools.

A finding names the system that has a movement and the one that lacks it,
with the quantity as it was entered in the source (its own unit, "24 个"),
the base quantity beside it when they differ, and the posting time in the
plant's zone: "production issue MES-PI-000033 of 262.2 M posted in mes at
2026-03-25 13:15 (order 1000006), no matching production issue in sap".
JSON carries decimals as strings and times as ISO 8601 UTC.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from stockbridge.sync.explain import KeyReport, SourceFigure
from stockbridge.sync.matching import Comparison, Line, Pair, Suspicion, Unmatched

__all__ = [
    "comparison_summary",
    "describe",
    "kind_phrase",
    "line_label",
    "report_json",
]

_PHRASES = {
    "receipt": "receipt",
    "issue": "goods issue",
    "production_issue": "production issue",
    "production_receipt": "production receipt",
    "sales_issue": "sales issue",
    "adjustment": "stock adjustment",
    "scrap": "scrap",
    "return": "return",
    "reversal": "reversal",
}


def _number(value: Decimal) -> str:
    """A decimal without trailing zeros or exponent: 262.200000 -> 262.2."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat().replace("+00:00", "Z")


def kind_phrase(line: Line, warehouse: str) -> str:
    """What the line did, in words: a transfer says which way."""
    if line.kind == "transfer":
        return (
            f"transfer into {warehouse}"
            if line.quantity > 0
            else f"transfer out of {warehouse}"
        )
    return _PHRASES.get(line.kind, line.kind)


def line_label(line: Line) -> str:
    """The document as people quote it; the line number only if it is not the first."""
    first = line.line.lstrip("0") == "1"
    return line.document if first else f"{line.document} line {line.line}"


def _amount(line: Line) -> str:
    entered = f"{_number(abs(line.original_quantity))} {line.original_unit}"
    if abs(line.original_quantity) != abs(line.quantity):
        return f"{entered} (= {_number(abs(line.quantity))} {line.unit})"
    return entered


def _when(line: Line, zone: ZoneInfo) -> str:
    return line.posted_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def describe(finding: Unmatched, warehouse: str, zone: ZoneInfo) -> str:
    """One sentence naming the line, the system that has it and the one that lacks it."""
    line, other = finding.line, finding.related
    what = kind_phrase(line, warehouse)
    head = f"{what} {line_label(line)} of {_amount(line)} posted in {line.source} at {_when(line, zone)}"
    if line.order_ref:
        head += f" (order {line.order_ref})"
    if finding.suspicion is Suspicion.UNIT_SLIP and other is not None:
        bigger, smaller = sorted((abs(line.quantity), abs(other.quantity)))[::-1]
        factor = _number(bigger / smaller) if smaller else "?"
        return (
            f"{head}, while {other.source} has {kind_phrase(other, warehouse)} "
            f"{line_label(other)} of {_amount(other)}: {factor}x apart, "
            "likely a unit keyed wrong"
        )
    if finding.suspicion is Suspicion.DUPLICATE and other is not None:
        return (
            f"{head} repeats {line_label(other)} posted at {_when(other, zone)}: "
            f"{line.source} has it twice, {finding.lacking} once (a duplicate posting?)"
        )
    if finding.suspicion is Suspicion.NETS_OUT and other is not None:
        return (
            f"{head} and {kind_phrase(other, warehouse)} {line_label(other)} cancel "
            f"each other in {line.source}; {finding.lacking} has neither (nets out)"
        )
    return f"{head}, no matching {what} in {finding.lacking}"


def comparison_summary(report: KeyReport, comparison: Comparison) -> str:
    """How much of the two systems' difference the unmatched lines account for."""
    figures = {f.source: f for f in report.figures}
    first, second = figures.get(comparison.a), figures.get(comparison.b)
    explained = comparison.unmatched_net
    text = (
        f"unmatched movements make {comparison.a} {_number(abs(explained))} "
        f"{'more' if explained >= 0 else 'less'} than {comparison.b}"
        if explained
        else f"every movement of {comparison.a} and {comparison.b} is matched"
    )
    if (
        first is not None
        and second is not None
        and first.quantity is not None
        and second.quantity is not None
    ):
        gap = first.quantity - second.quantity
        text += (
            f"; their stock differs by {_number(gap)} "
            f"({comparison.a} {_number(first.quantity)}, "
            f"{comparison.b} {_number(second.quantity)})"
        )
    return text


def _line_json(line: Line) -> dict[str, Any]:
    return {
        "source": line.source,
        "document": line.document,
        "line": line.line,
        "year": line.year,
        "kind": line.kind,
        "quantity": str(line.quantity),
        "unit": line.unit,
        "original_quantity": str(line.original_quantity),
        "original_unit": line.original_unit,
        "posted_at": _iso(line.posted_at),
        "entered_at": _iso(line.entered_at),
        "reverses": line.reverses,
        "order_ref": line.order_ref,
    }


def _figure_json(figure: SourceFigure) -> dict[str, Any]:
    return {
        "source": figure.source,
        "quantity": None if figure.quantity is None else str(figure.quantity),
        "unit": figure.unit,
        "as_of": _iso(figure.as_of),
        "movements": figure.movements,
        "net_movements": str(figure.net),
        "compared": figure.compared,
    }


def _pair_json(pair: Pair) -> dict[str, Any]:
    return {
        "a": _line_json(pair.a),
        "b": _line_json(pair.b),
        "apart_seconds": int(pair.apart.total_seconds()),
    }


def _finding_json(finding: Unmatched, warehouse: str, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "shape": "unmatched" if finding.suspicion is None else finding.suspicion.value,
        "source": finding.line.source,
        "lacking": finding.lacking,
        "movement": _line_json(finding.line),
        "related": None if finding.related is None else _line_json(finding.related),
        "message": describe(finding, warehouse, zone),
    }


def report_json(report: KeyReport, zone: ZoneInfo) -> dict[str, Any]:
    """The JSON contract of `stockbridge explain --format json`, one key."""
    warehouse = report.key.warehouse
    return {
        "key": report.key._asdict(),
        "since": _iso(report.since),
        "until": _iso(report.until),
        "consolidated": None
        if report.consolidated is None
        else str(report.consolidated),
        "chosen_source": report.chosen_source,
        "conflict": None
        if report.conflict is None
        else {
            "difference": str(report.conflict.difference),
            "first_seen_at": _iso(report.conflict.first_seen_at),
        },
        "sources": [_figure_json(f) for f in report.figures],
        "findings": [_finding_json(f, warehouse, zone) for f in report.findings],
        "comparisons": [
            {
                "sources": [c.a, c.b],
                "unmatched_net": str(c.unmatched_net),
                "summary": comparison_summary(report, c),
                "matched": [_pair_json(p) for p in c.pairs],
            }
            for c in report.comparisons
        ],
        "movements": {
            source: [_line_json(line) for line in lines]
            for source, lines in sorted(report.lines.items())
        },
    }
