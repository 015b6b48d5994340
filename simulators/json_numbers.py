"""JSON bodies whose `Decimal` values travel as exact JSON numbers.

Many real APIs send quantities as bare JSON numbers (`"qty": 1433.000`). The
standard library can only write a number through `float`, which would change
digits the ground truth fixed; orjson's `Fragment` puts the Decimal's own text
in the body instead.
"""

from __future__ import annotations

from decimal import Decimal

import orjson

__all__ = ["json_body"]


def _number(value: object) -> orjson.Fragment:
    if isinstance(value, Decimal) and value.is_finite():
        return orjson.Fragment(f"{value:f}")
    msg = f"{value!r} has no JSON form"
    raise TypeError(msg)


def json_body(payload: object) -> bytes:
    """UTF-8 JSON of `payload`, each `Decimal` written as its exact number text."""
    return orjson.dumps(payload, default=_number)
