"""SQL sums of quantities equal Python's Decimal sums, exactly, on both back-ends."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import DBAPIError

from stockbridge.store.schema import movements, sources, stock_lines, stock_snapshots
from stockbridge.store.types import quantity_from_micro

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
# 100 rows of at most 10^10 stay below the BIGINT sum limit (9.2e12 units).
LARGEST = Decimal(10**10)


def quantities() -> st.SearchStrategy[Decimal]:
    """Signed quantities with 0 to 6 decimal places, tiny to large."""
    return st.integers(min_value=0, max_value=6).flatmap(
        lambda places: st.decimals(
            min_value=-LARGEST,
            max_value=LARGEST,
            places=places,
            allow_nan=False,
            allow_infinity=False,
        )
    )


def _movement(i: int, quantity: Decimal) -> dict[str, object]:
    return {
        "source": "sap",
        "document": f"49000{i:05d}",
        "line": "1",
        "year": "2024",
        "kind": "receipt" if quantity >= 0 else "issue",
        "material": "M1",
        "site": "1000",
        "warehouse": "0001",
        "status": "unrestricted",
        "quantity": quantity,
        "unit": "KGM",
        "original_quantity": quantity,
        "original_unit": "KGM",
        "posted_at": T0,
        "loaded_at": T0,
    }


def _sums(connection: Connection, column_sum: str) -> tuple[Decimal, Decimal]:
    """The sum through SQLAlchemy's typed `func.sum`, and through raw SQL."""
    table = movements if column_sum == "movements" else stock_lines
    typed = connection.execute(select(func.sum(table.c.quantity))).scalar_one()
    raw = connection.exec_driver_sql(
        f"SELECT SUM(quantity) FROM {column_sum}"
    ).scalar_one()
    return typed, quantity_from_micro(raw)


@given(st.lists(quantities(), min_size=1, max_size=100))
@settings(max_examples=50, deadline=None)
def test_movement_sums_are_exact(store: Engine, values: list[Decimal]) -> None:
    with store.connect() as connection, connection.begin() as transaction:
        connection.execute(
            sources.insert().values(name="sap", kind="sap_odata", first_seen_at=T0)
        )
        connection.execute(
            movements.insert(), [_movement(i, q) for i, q in enumerate(values)]
        )
        typed, raw = _sums(connection, "movements")
        stored = connection.execute(
            select(movements.c.quantity).order_by(movements.c.document)
        ).scalars()
        assert list(stored) == values
        transaction.rollback()
    assert typed == raw == sum(values)


@given(st.lists(quantities(), min_size=1, max_size=100))
@settings(max_examples=50, deadline=None)
def test_stock_line_sums_are_exact(store: Engine, values: list[Decimal]) -> None:
    with store.connect() as connection, connection.begin() as transaction:
        connection.execute(
            sources.insert().values(name="sap", kind="sap_odata", first_seen_at=T0)
        )
        snapshot_id = connection.execute(
            stock_snapshots.insert()
            .values(source="sap", started_at=T0)
            .returning(stock_snapshots.c.id)
        ).scalar_one()
        connection.execute(
            stock_lines.insert(),
            [
                {
                    "snapshot_id": snapshot_id,
                    "material": f"M{i}",
                    "site": "1000",
                    "warehouse": "0001",
                    "status": "unrestricted",
                    "quantity": quantity,
                    "unit": "KGM",
                    "as_of": T0,
                }
                for i, quantity in enumerate(values)
            ],
        )
        typed, raw = _sums(connection, "stock_lines")
        transaction.rollback()
    assert typed == raw == sum(values)


def test_a_sum_beyond_bigint_is_exact_or_an_error_never_wrong(
    conn: Connection, source: str
) -> None:
    big = Decimal("9000000000000.000001")  # close to the largest storable
    conn.execute(movements.insert(), [_movement(1, big), _movement(2, big)])
    if conn.dialect.name == "postgresql":
        # SUM(bigint) is NUMERIC on PostgreSQL: exact, whatever the size.
        assert conn.execute(select(func.sum(movements.c.quantity))).scalar_one() == (
            2 * big
        )
    else:
        # SQLite's SUM raises on integer overflow rather than wrapping.
        with pytest.raises(DBAPIError, match="overflow"), conn.begin_nested():
            conn.execute(select(func.sum(movements.c.quantity))).scalar_one()
