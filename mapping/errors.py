"""Mapping errors, grouped by how the runner reacts.

    MappingError            one record cannot be mapped: it is rejected, and the
    │                       message is the reason stored with the reject
    ├── UnknownUnitError        a unit spelling no vocabulary of the source knows
    ├── IncompatibleUnitsError  no exact way from one unit to the other
    ├── InexactQuantityError    rounding to the stored places would change the value
    ├── UnmappedCodeError       a code missing from a configured crosswalk table
    └── UnknownStatusError      a status that is neither canonical nor mapped
    MappingConfigError      the mapping set-up itself is wrong: reported before
    ├── CodeTableError          any record is mapped (bad table file, bad zone)
    └── UnknownTimeZoneError

Each error keeps its parts as attributes so callers can group rejects without
parsing the message.
"""

from __future__ import annotations

from fractions import Fraction

__all__ = [
    "CodeTableError",
    "IncompatibleUnitsError",
    "InexactQuantityError",
    "MappingConfigError",
    "MappingError",
    "UnknownStatusError",
    "UnknownTimeZoneError",
    "UnknownUnitError",
    "UnmappedCodeError",
]


# --- record level: the record is rejected with the message as its reason ------


class MappingError(ValueError):
    """A record cannot be mapped; `str(error)` is the reject reason."""


class UnknownUnitError(MappingError):
    """The unit is in none of the vocabularies the source uses."""

    def __init__(self, unit: str, vocabulary: str) -> None:
        self.unit = unit
        self.vocabulary = vocabulary
        super().__init__(
            f"unknown unit {unit!r}: not in the unit vocabulary {vocabulary!r} "
            "(add it to the source's unit table to map it to a UN/ECE Rec 20 code)"
        )


class IncompatibleUnitsError(MappingError):
    """No exact conversion exists between two units for this material."""

    def __init__(
        self,
        from_unit: str,
        from_dimension: str,
        to_unit: str,
        to_dimension: str,
        *,
        material: str | None,
        detail: str = "",
    ) -> None:
        self.from_unit = from_unit
        self.to_unit = to_unit
        self.material = material
        subject = f"material {material!r}" if material is not None else "no material"
        why = detail or "no material-specific conversion relates them"
        super().__init__(
            f"cannot convert {from_unit} ({from_dimension}) to {to_unit} "
            f"({to_dimension}) for {subject}: {why}"
        )


class InexactQuantityError(MappingError):
    """The exact quantity does not fit the stored number of decimal places."""

    def __init__(self, value: Fraction, places: int) -> None:
        self.value = value
        self.places = places
        super().__init__(
            f"quantity {value} is not exact at {places} decimal places "
            "and strict rounding is on"
        )


class UnmappedCodeError(MappingError):
    """A code is missing from the crosswalk table configured for its dimension."""

    def __init__(self, source: str, dimension: str, code: str, normalized: str) -> None:
        self.source = source
        self.dimension = dimension
        self.code = code
        self.normalized = normalized
        after = (
            f" (read as {normalized!r} after the rules)" if normalized != code else ""
        )
        super().__init__(
            f"{dimension} code {code!r}{after} from source {source!r} "
            f"is not in the source's {dimension} crosswalk table"
        )


class UnknownStatusError(MappingError):
    """A status is neither a canonical stock status nor in the status table."""

    def __init__(self, source: str, code: str, detail: str) -> None:
        self.source = source
        self.code = code
        super().__init__(
            f"unknown stock status {code!r} from source {source!r}: {detail}"
        )


# --- set-up level: reported before any record is mapped ------------------------


class MappingConfigError(ValueError):
    """The mapping configuration is unusable; the message says where and why."""


class CodeTableError(MappingConfigError):
    """A crosswalk table (file or config) cannot be used as it is."""


class UnknownTimeZoneError(MappingConfigError):
    """A source declared a time zone that is not an IANA zone name."""

    def __init__(self, zone: str) -> None:
        self.zone = zone
        super().__init__(
            f"unknown time zone {zone!r}: expected an IANA zone name "
            "such as 'Asia/Shanghai' or 'UTC'"
        )
