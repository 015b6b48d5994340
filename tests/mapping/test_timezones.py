from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from stockbridge.mapping.errors import MappingConfigError, UnknownTimeZoneError
from stockbridge.mapping.timezones import load_zone, to_utc


def test_naive_time_is_read_in_the_source_zone() -> None:
    result = to_utc(datetime(2026, 3, 1, 8, 0), "Asia/Shanghai")  # noqa: DTZ001
    assert result == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    assert result.utcoffset() == timedelta(0)
    assert result.tzinfo is UTC


def test_aware_time_is_converted_not_reinterpreted() -> None:
    tokyo = datetime(2026, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=9)))
    assert to_utc(tokyo, "Asia/Shanghai") == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def test_prepared_zone_and_dst() -> None:
    berlin = load_zone("Europe/Berlin")
    assert to_utc(datetime(2026, 7, 1, 12, 0), berlin).hour == 10  # noqa: DTZ001
    assert to_utc(datetime(2026, 1, 1, 12, 0), berlin).hour == 11  # noqa: DTZ001


@pytest.mark.parametrize(
    "zone", ["Asia/Beijing", "", "Asia", "localtime", "../etc/passwd", "+08:00"]
)
def test_unknown_zone_is_a_clear_error(zone: str) -> None:
    with pytest.raises(UnknownTimeZoneError) as caught:
        to_utc(datetime(2026, 3, 1, 8, 0), zone)  # noqa: DTZ001
    assert isinstance(caught.value, MappingConfigError)
    assert f"unknown time zone {zone!r}" in str(caught.value)
    assert "IANA" in str(caught.value)
