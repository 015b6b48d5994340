"""A tiny inline SVG line of daily consumption: no script, no library."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

__all__ = ["sparkline"]

WIDTH = 80
HEIGHT = 20


def sparkline(values: Sequence[Decimal]) -> str:
    """An SVG polyline scaled to the largest value (flat when all are zero)."""
    top = max(values, default=Decimal(0))
    step = WIDTH / max(len(values) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{HEIGHT - (float(v / top) * (HEIGHT - 2) if top > 0 else 0) - 1:.1f}"
        for i, v in enumerate(values)
    )
    return (
        f'<svg class="spark" width="{WIDTH}" height="{HEIGHT}" role="img" aria-hidden="true">'
        f'<polyline fill="none" stroke="#457b9d" stroke-width="1.5" points="{points}"/></svg>'
    )
