"""Code crosswalks: a source's material, site, warehouse, location, batch and
status codes onto canonical codes.

Per source and dimension: rules first (in the order given), then an optional
explicit table. Without a table a code passes through after the rules, so a
new user's first sync works with no mapping work; once a table is configured,
a code missing from it is rejected (`UnmappedCodeError`), never guessed.
Table keys are codes as they read *after* the rules.

An empty code means "not applicable" (no batch, no bin) and stays empty
unless the table maps "" explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from stockbridge.mapping.errors import (
    CodeTableError,
    MappingConfigError,
    UnknownStatusError,
    UnmappedCodeError,
)
from stockbridge.mapping.model import StockStatus

__all__ = [
    "CodeCrosswalk",
    "CodeDimension",
    "CodeRule",
    "CrosswalkSpec",
    "RuleKind",
    "SourceCrosswalks",
    "StatusResolver",
]


class CodeDimension(StrEnum):
    """The kinds of code a source record carries."""

    MATERIAL = "material"
    SITE = "site"
    WAREHOUSE = "warehouse"
    LOCATION = "location"
    BATCH = "batch"
    STATUS = "status"


class RuleKind(StrEnum):
    """A normalising rule; the values are the names used in config."""

    STRIP_LEADING_ZEROS = "strip_leading_zeros"
    TRIM = "trim"
    UPPER = "upper"
    LOWER = "lower"
    ADD_PREFIX = "add_prefix"
    REMOVE_PREFIX = "remove_prefix"
    ADD_SUFFIX = "add_suffix"
    REMOVE_SUFFIX = "remove_suffix"


_AFFIX_RULES = frozenset(
    {
        RuleKind.ADD_PREFIX,
        RuleKind.REMOVE_PREFIX,
        RuleKind.ADD_SUFFIX,
        RuleKind.REMOVE_SUFFIX,
    }
)


def _strip_leading_zeros(code: str) -> str:
    # As SAP's ALPHA conversion exit: only purely numeric codes are
    # zero-padded, so only they lose zeros; "00A1" is a real code as typed.
    if code.isascii() and code.isdigit():
        return code.lstrip("0") or "0"
    return code


@dataclass(frozen=True, slots=True)
class CodeRule:
    """One rule; `value` is the affix for the prefix/suffix rules, else ""."""

    kind: RuleKind
    value: str = ""

    def __post_init__(self) -> None:
        # Config may hand over the rule's name as plain text.
        try:
            object.__setattr__(self, "kind", RuleKind(self.kind))
        except ValueError:
            names = ", ".join(kind.value for kind in RuleKind)
            msg = f"unknown code rule {self.kind!r}: expected one of {names}"
            raise MappingConfigError(msg) from None
        if (self.kind in _AFFIX_RULES) != bool(self.value):
            need = (
                "needs a non-empty value"
                if self.kind in _AFFIX_RULES
                else "takes no value"
            )
            msg = f"code rule {self.kind.value!r} {need}, got {self.value!r}"
            raise MappingConfigError(msg)

    def compile(self) -> Callable[[str], str]:
        """The rule as a plain function of one code."""
        value = self.value
        match self.kind:
            case RuleKind.STRIP_LEADING_ZEROS:
                return _strip_leading_zeros
            case RuleKind.TRIM:
                return str.strip
            case RuleKind.UPPER:
                return str.upper
            case RuleKind.LOWER:
                return str.lower
            case RuleKind.ADD_PREFIX:
                return lambda code: value + code if code else code
            case RuleKind.REMOVE_PREFIX:
                return lambda code: code.removeprefix(value)
            case RuleKind.ADD_SUFFIX:
                return lambda code: code + value if code else code
            case RuleKind.REMOVE_SUFFIX:
                return lambda code: code.removesuffix(value)


@dataclass(frozen=True, slots=True)
class CrosswalkSpec:
    """The configured crosswalk of one dimension: rules, then maybe a table."""

    rules: Sequence[CodeRule] = ()
    table: Mapping[str, str] | None = None


class CodeCrosswalk:
    """Translates one source's codes of one dimension; build once per run."""

    __slots__ = ("_rules", "_table", "dimension", "source")

    def __init__(
        self, source: str, dimension: CodeDimension, spec: CrosswalkSpec | None = None
    ) -> None:
        spec = spec or CrosswalkSpec()
        self.source = source
        self.dimension = dimension
        self._rules = tuple(rule.compile() for rule in spec.rules)
        self._table = None if spec.table is None else dict(spec.table)

    def normalize(self, code: str) -> str:
        """The code after the rules, before any table."""
        for rule in self._rules:
            code = rule(code)
        return code

    def translate(self, code: str) -> str:
        """The canonical code, or `UnmappedCodeError` if a table lacks it."""
        normalized = code
        for rule in self._rules:
            normalized = rule(normalized)
        table = self._table
        if table is None:
            return normalized
        canonical = table.get(normalized)
        if canonical is not None:
            return canonical
        if not normalized:
            return normalized
        raise UnmappedCodeError(self.source, self.dimension.value, code, normalized)


_STATUS_NAMES = ", ".join(s.value for s in StockStatus)


class StatusResolver:
    """Resolves a source's status codes to `StockStatus`; build once per run.

    Canonical names ("blocked", any case) are always accepted; other codes go
    through the status crosswalk (rules, then table), whose targets must be
    canonical names. With no table, only canonical names resolve.
    """

    __slots__ = ("_canonical", "_crosswalk", "_table", "source")

    def __init__(self, source: str, spec: CrosswalkSpec | None = None) -> None:
        spec = spec or CrosswalkSpec()
        self.source = source
        self._crosswalk = CodeCrosswalk(
            source, CodeDimension.STATUS, CrosswalkSpec(spec.rules)
        )
        self._canonical: dict[str, StockStatus] = {}
        for status in StockStatus:
            for spelling in (status.value, status.value.upper(), status.name.title()):
                self._canonical[spelling] = status
        self._table: dict[str, StockStatus] | None = None
        if spec.table is not None:
            self._table = {}
            for code, target in spec.table.items():
                mapped = self._canonical.get(target.strip().lower())
                if mapped is None:
                    msg = (
                        f"status table of source {source!r}: {code!r} maps to "
                        f"{target!r}, which is not a stock status ({_STATUS_NAMES})"
                    )
                    raise CodeTableError(msg)
                self._table[code] = mapped

    def resolve(self, code: str) -> StockStatus:
        """The stock status, or `UnknownStatusError` saying why not."""
        status = self._canonical.get(code)
        if status is not None:
            return status
        normalized = self._crosswalk.normalize(code)
        if self._table is not None:
            status = self._table.get(normalized)
            if status is not None:
                return status
        status = self._canonical.get(normalized.strip().lower())
        if status is not None:
            return status
        read_as = (
            f" (read as {normalized!r} after the rules)" if normalized != code else ""
        )
        where = (
            "no status table is configured for this source"
            if self._table is None
            else "it is not in the source's status table"
        )
        raise UnknownStatusError(
            self.source,
            code,
            f"expected one of {_STATUS_NAMES}, or a mapped source code; {where}{read_as}",
        )


@dataclass(frozen=True, slots=True)
class SourceCrosswalks:
    """All code crosswalks of one source, as the record mapper uses them."""

    source: str
    material: CodeCrosswalk
    site: CodeCrosswalk
    warehouse: CodeCrosswalk
    location: CodeCrosswalk
    batch: CodeCrosswalk
    status: StatusResolver

    @classmethod
    def build(
        cls, source: str, specs: Mapping[CodeDimension, CrosswalkSpec] | None = None
    ) -> SourceCrosswalks:
        """Compile a source's configured crosswalks; a missing dimension passes codes through."""
        specs = specs or {}

        def crosswalk(dimension: CodeDimension) -> CodeCrosswalk:
            return CodeCrosswalk(source, dimension, specs.get(dimension))

        return cls(
            source=source,
            material=crosswalk(CodeDimension.MATERIAL),
            site=crosswalk(CodeDimension.SITE),
            warehouse=crosswalk(CodeDimension.WAREHOUSE),
            location=crosswalk(CodeDimension.LOCATION),
            batch=crosswalk(CodeDimension.BATCH),
            status=StatusResolver(source, specs.get(CodeDimension.STATUS)),
        )
