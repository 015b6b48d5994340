from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import StatementError

from stockbridge.store.schema import audit_log, materials
from stockbridge.store.types import (
    QuantityError,
    quantity_from_micro,
    quantity_to_micro,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("quantity", "micro"),
    [
        (Decimal("1"), 1_000_000),
        (Decimal("-0.000001"), -1),
        (Decimal("0.1"), 100_000),
        (Decimal("1.2300000000"), 1_230_000),  # trailing zeros are not decimals
        (Decimal("1E+3"), 1_000_000_000),
        (Decimal("-0"), 0),
        (Decimal("9223372036854.775807"), 2**63 - 1),
        (Decimal("-9223372036854.775808"), -(2**63)),
        (7, 7_000_000),
    ],
)
def test_quantities_convert_to_micro_units_exactly(
    quantity: Decimal | int, micro: int
) -> None:
    assert quantity_to_micro(quantity) == micro
    assert quantity_from_micro(micro) == quantity


@pytest.mark.parametrize(
    "quantity",
    [
        Decimal("0.0000001"),
        Decimal("1.0000005"),
        Decimal("-12345.1234567"),
        Decimal("9223372036854.775808"),
        Decimal("-9223372036854.775809"),
        Decimal("1E+13"),
        Decimal("NaN"),
        Decimal("Infinity"),
    ],
)
def test_inexact_or_out_of_range_quantities_are_refused(quantity: Decimal) -> None:
    with pytest.raises(QuantityError):
        quantity_to_micro(quantity)


@pytest.mark.parametrize("quantity", [0.5, 1.0, True, "1.5", None])
def test_only_decimals_and_integers_are_quantities(quantity: object) -> None:
    with pytest.raises(TypeError):
        quantity_to_micro(quantity)  # type: ignore[arg-type]


def test_sql_sums_convert_back_from_int_and_from_numeric() -> None:
    assert quantity_from_micro(1_500_000) == Decimal("1.5")
    assert quantity_from_micro(Decimal("18446744073709551614")) == Decimal(
        "18446744073709.551614"
    )
    with pytest.raises(QuantityError):
        quantity_from_micro(Decimal("1.5"))


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
@settings(max_examples=50)
def test_micro_units_round_trip(micro: int) -> None:
    assert quantity_to_micro(quantity_from_micro(micro)) == micro


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (Decimal("0.0000001"), QuantityError),
        (0.1, TypeError),
        (Decimal("1E+20"), QuantityError),
    ],
)
def test_the_store_refuses_inexact_quantities(
    conn: Connection, source: str, bad: object, error: type[Exception]
) -> None:
    row = {
        "source": source,
        "material": "M1",
        "base_unit": "KGM",
        "safety_stock": bad,
        "updated_at": datetime(2024, 1, 1, tzinfo=UTC),
    }
    with pytest.raises(StatementError) as raised:
        conn.execute(materials.insert().values(**row))
    assert isinstance(raised.value.orig, error)


def test_the_store_refuses_naive_times(conn: Connection) -> None:
    naive = datetime(2024, 1, 1, 8, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(StatementError) as raised:
        conn.execute(audit_log.insert().values(at=naive, actor="a", action="b"))
    assert isinstance(raised.value.orig, ValueError)


aware_times = st.datetimes(
    min_value=datetime(1900, 1, 1),  # noqa: DTZ001 - bounds of naive draws
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.sampled_from(
        [
            UTC,
            SHANGHAI,
            ZoneInfo("America/Sao_Paulo"),
            timezone(-timedelta(hours=9, minutes=30)),
        ]
    ),
    allow_imaginary=False,
)


@given(times=st.lists(aware_times, min_size=1, max_size=20))
@settings(max_examples=50, deadline=None)
def test_times_round_trip_exactly_in_utc_and_sort_as_time(
    store: Engine, times: list[datetime]
) -> None:
    with store.connect() as connection, connection.begin() as transaction:
        connection.execute(
            audit_log.insert(),
            [
                {"at": at, "actor": str(i), "action": "probe"}
                for i, at in enumerate(times)
            ],
        )
        rows = connection.execute(
            select(audit_log.c.at, audit_log.c.actor).order_by(
                audit_log.c.at, audit_log.c.id
            )
        ).all()
        transaction.rollback()
    # Compared as UTC instants: Python never calls an ambiguous local time
    # equal to a time in another zone.
    in_utc = [at.astimezone(UTC) for at in times]
    loaded = {int(actor): at for at, actor in rows}
    for i, original in enumerate(in_utc):
        assert loaded[i] == original
        assert loaded[i].tzinfo is UTC
    assert [at for at, _ in rows] == sorted(in_utc)


def test_a_local_time_is_stored_as_its_utc_instant(conn: Connection) -> None:
    local = datetime(2024, 6, 30, 23, 59, 59, 999_999, tzinfo=SHANGHAI)
    conn.execute(audit_log.insert().values(at=local, actor="a", action="b"))
    stored = conn.execute(select(audit_log.c.at)).scalar_one()
    assert stored == datetime(2024, 6, 30, 15, 59, 59, 999_999, tzinfo=UTC)
    assert stored.tzinfo is UTC
