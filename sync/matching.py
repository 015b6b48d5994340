"""Lining up two systems' movements of one stock key: which are the same event.

An ERP and an MES record the same physical event (a transfer into the
line-side warehouse, an issue to a work order) as their own lines, with
their own numbers and clocks. Two lines are taken for one event when they
move the same signed quantity (base unit, within a tiny tolerance), their
kinds are compatible and their posting times are close (an ERP posts a
date where the MES stamps a minute, so the default tolerance is days, not
minutes). Among the candidates, equal order references win, then the
nearest in time: a greedy best match, which is enough when every candidate
already agrees on quantity and kind.

What is left unmatched is the usual root cause of a discrepancy. Some of it
has a recognisable shape, and is said so: the same event keyed in another
unit (quantities a thousand times apart), one system posting an event twice
where the other has it once, and a line cancelled by its own reversal in
one system (which nets out and explains nothing). No I/O here.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

__all__ = [
    "Comparison",
    "Line",
    "MatchRules",
    "Pair",
    "Suspicion",
    "Unmatched",
    "compare",
    "kinds_compatible",
]

# Kinds that different systems use for the same event. An MES may call a
# receipt at the line side a transfer in, an ERP may post consumption as an
# other issue, and a cancellation is a reversal in one system and a return
# in another; the sign of the quantity already says the direction.
_FAMILIES: dict[str, frozenset[str]] = {
    "receipt": frozenset({"logistics"}),
    "transfer": frozenset({"logistics"}),
    "production_receipt": frozenset({"logistics"}),
    "sales_issue": frozenset({"logistics"}),
    "issue": frozenset({"logistics", "consumption", "count"}),
    "production_issue": frozenset({"consumption"}),
    "scrap": frozenset({"consumption", "count"}),
    "adjustment": frozenset({"count"}),
    "return": frozenset({"logistics", "consumption", "cancel"}),
    "reversal": frozenset({"cancel"}),
}


def kinds_compatible(first: str, second: str) -> bool:
    """Whether two canonical kinds can record the same event."""
    return first == second or bool(
        _FAMILIES.get(first, frozenset()) & _FAMILIES.get(second, frozenset())
    )


@dataclass(frozen=True, slots=True)
class Line:
    """One loaded movement line, as the matching sees it."""

    source: str
    document: str
    line: str
    year: str
    kind: str
    quantity: Decimal
    unit: str
    original_quantity: Decimal
    original_unit: str
    posted_at: datetime
    entered_at: datetime | None = None
    reverses: str = ""
    order_ref: str = ""

    @property
    def ref(self) -> str:
        """The line's key in its source: document/line[/year]."""
        base = f"{self.document}/{self.line}"
        return f"{base}/{self.year}" if self.year else base

    def is_named_by(self, reference: str) -> bool:
        """Whether a `reverses` reference names this line (with or without year)."""
        return reference in (self.ref, f"{self.document}/{self.line}")


@dataclass(frozen=True, slots=True)
class MatchRules:
    """How close two lines must be to be one event."""

    time_tolerance: timedelta = timedelta(days=2)
    quantity_tolerance: Decimal = Decimal("0.001")
    slip_factors: tuple[Decimal, ...] = (Decimal(1000),)


@dataclass(frozen=True, slots=True)
class Pair:
    """Two systems' lines taken for the same event."""

    a: Line
    b: Line

    @property
    def apart(self) -> timedelta:
        return abs(self.a.posted_at - self.b.posted_at)


class Suspicion(StrEnum):
    """A recognised shape of an unmatched line."""

    UNIT_SLIP = "unit_slip"
    DUPLICATE = "duplicate"
    NETS_OUT = "nets_out"


@dataclass(frozen=True, slots=True)
class Unmatched:
    """A line one system has and `lacking` has not, with its shape if recognised."""

    line: Line
    lacking: str
    suspicion: Suspicion | None = None
    related: Line | None = None


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two systems' lines of one key, matched; unmatched ones named first."""

    a: str
    b: str
    pairs: tuple[Pair, ...]
    unmatched: tuple[Unmatched, ...]

    @property
    def unmatched_net(self) -> Decimal:
        """How much more `a`'s unmatched lines move than `b`'s (nets-outs left out).

        With equal opening stock, this is what the unmatched lines add to
        stock(a) - stock(b).
        """
        total = Decimal(0)
        for u in self.unmatched:
            if u.suspicion is not Suspicion.NETS_OUT:
                total += (
                    u.line.quantity if u.line.source == self.a else -u.line.quantity
                )
        return total


def _order_key(reference: str) -> str:
    """Order numbers compare without case, blanks or leading zeros (SAP pads them)."""
    return reference.strip().upper().lstrip("0")


def _reference_rank(x: Line, y: Line) -> int:
    """0: both carry the same order, 1: one or both carry none, 2: they differ."""
    first, second = _order_key(x.order_ref), _order_key(y.order_ref)
    if not first or not second:
        return 1
    return 0 if first == second else 2


def _same_sign(x: Decimal, y: Decimal) -> bool:
    return (x > 0) == (y > 0) and (x < 0) == (y < 0)


def _close(x: Line, y: Line, rules: MatchRules) -> bool:
    return abs(x.posted_at - y.posted_at) <= rules.time_tolerance


def _candidates(
    a_lines: Sequence[Line], b_lines: Sequence[Line], rules: MatchRules
) -> list[tuple[tuple[int, float, int], int, int]]:
    """Every matchable (a, b) with its rank, found by bisecting b's quantities."""
    order = sorted(range(len(b_lines)), key=lambda j: b_lines[j].quantity)
    quantities = [b_lines[j].quantity for j in order]
    tolerance = rules.quantity_tolerance
    found = []
    for i, x in enumerate(a_lines):
        low = bisect.bisect_left(quantities, x.quantity - tolerance)
        high = bisect.bisect_right(quantities, x.quantity + tolerance)
        for j in order[low:high]:
            y = b_lines[j]
            if (
                _same_sign(x.quantity, y.quantity)
                and _close(x, y, rules)
                and kinds_compatible(x.kind, y.kind)
            ):
                rank = (
                    _reference_rank(x, y),
                    abs(x.posted_at - y.posted_at).total_seconds(),
                    0 if x.kind == y.kind else 1,
                )
                found.append((rank, i, j))
    found.sort()
    return found


def _slip(x: Line, y: Line, rules: MatchRules) -> bool:
    """Whether x and y look like one event keyed in units a factor apart."""
    if not (
        _same_sign(x.quantity, y.quantity)
        and _close(x, y, rules)
        and kinds_compatible(x.kind, y.kind)
    ):
        return False
    tolerance = rules.quantity_tolerance
    return any(
        abs(x.quantity - y.quantity * f) <= tolerance * f
        or abs(y.quantity - x.quantity * f) <= tolerance * f
        for f in rules.slip_factors
    )


def _twin(line: Line, matched: Iterable[Line], rules: MatchRules) -> Line | None:
    """The nearest matched line of the same system that this one repeats."""
    twins = [
        m
        for m in matched
        if m is not line
        and m.kind == line.kind
        and abs(m.quantity - line.quantity) <= rules.quantity_tolerance
        and _close(m, line, rules)
    ]
    return min(twins, key=lambda m: abs(m.posted_at - line.posted_at), default=None)


def _recognise(
    loose: list[Unmatched], pairs: Sequence[Pair], rules: MatchRules
) -> list[Unmatched]:
    """Give unmatched lines their shape where one is recognised."""
    shaped: dict[int, Unmatched] = {}
    for n, u in enumerate(loose):  # a line and its own reversal, both unmatched
        if u.line.reverses:
            for m, v in enumerate(loose):
                if v.line.source == u.line.source and v.line.is_named_by(
                    u.line.reverses
                ):
                    shaped[n] = Unmatched(u.line, u.lacking, Suspicion.NETS_OUT, v.line)
                    shaped[m] = Unmatched(v.line, v.lacking, Suspicion.NETS_OUT, u.line)
    slips = sorted(
        (abs(u.line.posted_at - v.line.posted_at), n, m)
        for n, u in enumerate(loose)
        for m, v in enumerate(loose)
        if u.line.source < v.line.source and _slip(u.line, v.line, rules)
    )
    for _, n, m in slips:
        if n not in shaped and m not in shaped:
            u, v = loose[n], loose[m]
            shaped[n] = Unmatched(u.line, u.lacking, Suspicion.UNIT_SLIP, v.line)
            shaped[m] = Unmatched(v.line, v.lacking, Suspicion.UNIT_SLIP, u.line)
    for n, u in enumerate(loose):
        if n not in shaped:
            side = [p.a if p.a.source == u.line.source else p.b for p in pairs]
            twin = _twin(u.line, side, rules)
            if twin is not None:
                shaped[n] = Unmatched(u.line, u.lacking, Suspicion.DUPLICATE, twin)
    return [shaped.get(n, u) for n, u in enumerate(loose)]


_SHAPE_ORDER = {None: 0, Suspicion.UNIT_SLIP: 1, Suspicion.DUPLICATE: 2}


def compare(
    a: str,
    a_lines: Sequence[Line],
    b: str,
    b_lines: Sequence[Line],
    rules: MatchRules | None = None,
) -> Comparison:
    """Match `a`'s lines of one key with `b`'s; unmatched ones come first, plain before shaped."""
    rules = rules or MatchRules()
    used_a: set[int] = set()
    used_b: set[int] = set()
    pairs: list[Pair] = []
    for _, i, j in _candidates(a_lines, b_lines, rules):
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append(Pair(a_lines[i], b_lines[j]))
    loose = [Unmatched(x, b) for i, x in enumerate(a_lines) if i not in used_a] + [
        Unmatched(y, a) for j, y in enumerate(b_lines) if j not in used_b
    ]
    shaped = _recognise(loose, pairs, rules)
    shaped.sort(key=lambda u: (_SHAPE_ORDER.get(u.suspicion, 3), u.line.posted_at))
    pairs.sort(key=lambda p: min(p.a.posted_at, p.b.posted_at))
    return Comparison(a, b, tuple(pairs), tuple(shaped))
