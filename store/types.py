"""Column types that keep quantities exact and times in UTC on every back-end.

Quantities are stored as BIGINT counts of micro-units (10^-6 of the base
unit) on SQLite and PostgreSQL alike. SQLite has no exact decimal type: a
NUMERIC column stores a REAL (binary floating point), so `SUM()` of
quantities such as 0.1 drifts, and the drift differs from PostgreSQL's exact
NUMERIC. Integers are exact on both, and a SQL `SUM()` of integers is exactly
the Decimal sum scaled by 10^6, up to about ±9.2e12 base units per value.
Six decimals are the store's resolution. Some sources declare more (SAP
stock quantities have scale 14, K3 WISE `FQty` is decimal(28,10)), and a
rational unit factor can yield endless decimals, so a value that needs more
than six, or that does not fit in 64 bits, is refused rather than rounded:
a silent rounding is a silent wrong stock figure. Mapping rounds once, by a
declared rule, before a quantity reaches the store.

Times are stored in UTC: TIMESTAMP WITH TIME ZONE on PostgreSQL, and on
SQLite the fixed-width text `YYYY-MM-DD HH:MM:SS.ffffff` (SQLAlchemy's SQLite
DATETIME format), which is exact to the microsecond, compares and sorts as
time does, and reads naturally in the sqlite3 shell. Naive datetimes are
refused: they say nothing about which zone they were in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = [
    "MICRO_PER_UNIT",
    "Quantity",
    "QuantityError",
    "UtcDateTime",
    "quantity_from_micro",
    "quantity_to_micro",
]

MICRO_PER_UNIT = 10**6
"""Micro-units per base unit: stored integer = quantity x 10^6."""

_SCALE = 6
_BIGINT_MIN = -(2**63)
_BIGINT_MAX = 2**63 - 1


class QuantityError(ValueError):
    """A quantity cannot be stored exactly (too many decimals, too large, NaN)."""


def quantity_to_micro(value: Decimal | int) -> int:
    """The exact micro-unit count of `value`, refusing anything inexact.

    Raises:
        TypeError: `value` is a float, a bool or not a number at all.
        QuantityError: `value` has more than 6 significant decimal places,
            is not finite, or does not fit in a signed 64-bit integer.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        msg = f"a quantity must be a Decimal, got {type(value).__name__}: {value!r}"
        raise TypeError(msg)
    if isinstance(value, int):
        micro = value * MICRO_PER_UNIT
    else:
        micro = _decimal_to_micro(value)
    if not _BIGINT_MIN <= micro <= _BIGINT_MAX:
        msg = f"quantity {value} is out of range (at most about ±9.2e12 base units)"
        raise QuantityError(msg)
    return micro


def _decimal_to_micro(value: Decimal) -> int:
    # Integer arithmetic on the digits: Decimal arithmetic would round
    # silently to the context precision (28 digits) instead of failing.
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # "n", "N", "F": NaN, sNaN, Infinity
        msg = f"a quantity must be a finite number, got {value}"
        raise QuantityError(msg)
    coefficient = int("".join(map(str, digits)) or "0")
    shift = exponent + _SCALE
    if shift >= 0:
        scale: int = 10**shift
        micro = coefficient * scale
    else:
        divisor: int = 10 ** (-shift)
        micro, remainder = divmod(coefficient, divisor)
        if remainder:
            msg = (
                f"quantity {value} has more than {_SCALE} decimal places; "
                "round it by a declared rule before storing it"
            )
            raise QuantityError(msg)
    return -micro if sign else micro


def quantity_from_micro(micro: int | Decimal) -> Decimal:
    """The Decimal quantity for a stored micro-unit count, exactly.

    Use it on results of SQL aggregates written as raw SQL: SQLite returns
    `SUM()` of a BIGINT column as int, PostgreSQL as NUMERIC (a Decimal, which
    cannot overflow). Through SQLAlchemy, `func.sum(table.c.quantity)` keeps
    the `Quantity` type and converts by itself.
    """
    if isinstance(micro, bool) or not isinstance(micro, int | Decimal):
        msg = f"a stored quantity is an integer, got {type(micro).__name__}"
        raise TypeError(msg)
    if isinstance(micro, Decimal) and micro != micro.to_integral_value():
        msg = f"a stored quantity is an integer number of micro-units, got {micro}"
        raise QuantityError(msg)
    # Built from text: the Decimal constructor is exact, arithmetic is not.
    # Trailing zeros go (a planner reads 1661.222, not 1661.222000), but never
    # into an exponent: 100 stays "100", not "1E+2".
    whole, fraction = divmod(abs(int(micro)), MICRO_PER_UNIT)
    digits = f"{fraction:0{_SCALE}d}".rstrip("0")
    sign = "-" if int(micro) < 0 else ""
    return Decimal(f"{sign}{whole}.{digits}" if digits else f"{sign}{whole}")


class Quantity(TypeDecorator[Decimal]):
    """An exact quantity: Decimal in Python, BIGINT micro-units in the database."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(
        self,
        value: Decimal | None,
        dialect: Dialect,  # noqa: ARG002 - the TypeDecorator hook's signature
    ) -> int | None:
        return None if value is None else quantity_to_micro(value)

    def process_result_value(
        self,
        value: int | Decimal | None,
        dialect: Dialect,  # noqa: ARG002 - the TypeDecorator hook's signature
    ) -> Decimal | None:
        return None if value is None else quantity_from_micro(value)

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime, stored exactly to the microsecond."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: object, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            msg = f"a time must be a datetime, got {type(value).__name__}: {value!r}"
            raise TypeError(msg)
        if value.tzinfo is None or value.utcoffset() is None:
            msg = f"a time must be timezone-aware, got the naive {value!r}"
            raise ValueError(msg)
        utc = value.astimezone(UTC)
        # SQLite's DATETIME text has no zone: every stored value is UTC.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 - the TypeDecorator hook's signature
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @property
    def python_type(self) -> type[datetime]:
        return datetime
