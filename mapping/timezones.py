"""Source times to UTC: most Chinese ERP databases store naive local time.

Each source declares its IANA zone; a naive time is read as wall-clock time
there, an aware time is simply converted. A wall-clock time that a DST change
makes ambiguous or skips is resolved by PEP 495's default (fold=0: the
earlier reading); China has had no DST since 1991.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stockbridge.mapping.errors import UnknownTimeZoneError

__all__ = ["load_zone", "to_utc"]


# Files in the system zone directory that are not zone names: "localtime"
# would silently mean whatever zone the server happens to run in.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


def load_zone(zone: str) -> ZoneInfo:
    """The zone for an IANA name, or `UnknownTimeZoneError`; check config with it."""
    if zone in _NOT_ZONES:
        raise UnknownTimeZoneError(zone)
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        # OSError: a directory such as "Asia" is found but is not a zone.
        raise UnknownTimeZoneError(zone) from exc


def to_utc(value: datetime, zone: str | ZoneInfo) -> datetime:
    """`value` as an aware UTC datetime; naive values are read in `zone`.

    Pass a `ZoneInfo` from `load_zone` on hot paths; a name is looked up
    (and checked) on every call.
    """
    tz = zone if isinstance(zone, ZoneInfo) else load_zone(zone)
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)
