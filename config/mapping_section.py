"""`mapping:` — per source, how its codes and units become canonical ones.

Each dimension (material, site, warehouse, location, batch, status) has
normalisation `rules` applied in order and an optional `table`, written inline
or kept in a CSV/XLSX file (a relative path is read from the config file's
directory). `units` adds to the built-in unit vocabulary; `conversions` gives
material-specific factors, exact: "24", "0.6" or "3/5", never a YAML float.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
)

from stockbridge.config.errors import config_problem, describe_value
from stockbridge.config.fields import Code, Factor, UnitCode
from stockbridge.config.model_base import StrictModel
from stockbridge.config.tables import CodeTable, check_encoding, read_code_table
from stockbridge.mapping.model import StockStatus

__all__ = [
    "ARGUMENT_RULES",
    "CONFIG_DIR",
    "PLAIN_RULES",
    "CodeMapping",
    "CodeRule",
    "SourceMapping",
    "StatusMapping",
    "UnitConversion",
]

CONFIG_DIR = "config_dir"
"""Validation context key: the directory relative table paths are read from."""

PLAIN_RULES = ("trim", "upper", "lower", "strip_leading_zeros")
ARGUMENT_RULES = ("add_prefix", "remove_prefix", "add_suffix", "remove_suffix")
_RULE_WORDS = (
    "a rule: trim, upper, lower, strip_leading_zeros, or a mapping of "
    "add_prefix, remove_prefix, add_suffix or remove_suffix to its text, "
    'e.g. {add_prefix: "W-"}'
)


@dataclass(frozen=True, slots=True)
class CodeRule:
    """One normalisation step; `argument` is the text of prefix/suffix rules."""

    name: str
    argument: str = ""


def _code_rule(value: object) -> CodeRule:
    if isinstance(value, CodeRule):
        return value
    if isinstance(value, str) and value in PLAIN_RULES:
        return CodeRule(value)
    if isinstance(value, Mapping) and len(value) == 1:
        ((name, argument),) = value.items()
        if name in ARGUMENT_RULES and isinstance(argument, str) and argument:
            return CodeRule(str(name), argument)
    written = value if isinstance(value, str) else ""
    if isinstance(value, Mapping) and len(value) == 1:
        written = str(next(iter(value)))
    close = difflib.get_close_matches(written, PLAIN_RULES + ARGUMENT_RULES, n=1)
    hint = f"Did you mean {close[0]!r}?" if close and close[0] != written else ""
    raise config_problem(_RULE_WORDS, describe_value(value), hint)


def _render_rule(rule: CodeRule) -> str | dict[str, str]:
    return {rule.name: rule.argument} if rule.argument else rule.name


CodeRuleField = Annotated[
    CodeRule, BeforeValidator(_code_rule), PlainSerializer(_render_rule)
]


def _render_table(table: CodeTable) -> str | dict[str, str]:
    return str(table.file) if table.file is not None else dict(table.entries)


CodeTableField = Annotated[CodeTable, PlainSerializer(_render_table)]


class CodeMapping(StrictModel):
    """How one dimension's source codes become canonical codes."""

    rules: list[CodeRuleField] = Field(default_factory=list)
    sheet: str | None = None
    """The worksheet of an .xlsx table (default: the first)."""
    encoding: Annotated[str | None, BeforeValidator(check_encoding)] = None
    """The text encoding of a .csv table; detected (UTF-8 or GB18030) if not given."""
    table: CodeTableField | None = None

    @field_validator("table", mode="before")
    @classmethod
    def _read_table(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, CodeTable) or value is None:
            return value
        sheet = info.data.get("sheet")
        if isinstance(value, Mapping):
            if sheet is not None:
                raise config_problem(
                    "an .xlsx table file, as sheet is set", "an inline table"
                )
            return CodeTable(entries=_inline_entries(value))
        if not isinstance(value, str) or not value:
            raise config_problem(
                "an inline table (source code: canonical code) "
                "or the path of a .csv or .xlsx file",
                describe_value(value),
            )
        file = _resolve(Path(value), info)
        if sheet is not None and file.suffix.lower() != ".xlsx":
            raise config_problem("an .xlsx table file, as sheet is set", f"{value!r}")
        if "encoding" not in info.data:
            return CodeTable(file=file)
        return read_code_table(file, sheet=sheet, encoding=info.data["encoding"])


class StatusMapping(CodeMapping):
    """The status dimension: its table must name canonical stock statuses."""

    @field_validator("table")
    @classmethod
    def _canonical_statuses(cls, table: CodeTable | None) -> CodeTable | None:
        allowed = [status.value for status in StockStatus]
        for source, canonical in (table.entries if table else {}).items():
            if canonical not in allowed:
                close = difflib.get_close_matches(canonical, allowed, n=1)
                raise config_problem(
                    "stock statuses from " + ", ".join(allowed),
                    f"{source!r} mapped to {canonical!r}",
                    f"Did you mean {close[0]!r}?" if close else "",
                )
        return table


class UnitConversion(StrictModel):
    """1 `unit` of `material` is `factor` of the material's base unit."""

    material: Code
    unit: Code
    factor: Factor


class SourceMapping(StrictModel):
    """The mapping of one source, under `mapping.SOURCE_NAME`."""

    material: CodeMapping = Field(default_factory=CodeMapping)
    site: CodeMapping = Field(default_factory=CodeMapping)
    warehouse: CodeMapping = Field(default_factory=CodeMapping)
    location: CodeMapping = Field(default_factory=CodeMapping)
    batch: CodeMapping = Field(default_factory=CodeMapping)
    status: StatusMapping = Field(default_factory=StatusMapping)
    units: dict[Code, UnitCode] = Field(default_factory=dict)
    """Source unit (箱, KAR, ...) -> UN/ECE code, beyond the built-in vocabulary."""
    conversions: list[UnitConversion] = Field(default_factory=list)

    @field_validator("conversions")
    @classmethod
    def _one_factor_each(
        cls, conversions: list[UnitConversion]
    ) -> list[UnitConversion]:
        seen: dict[tuple[str, str], UnitConversion] = {}
        for conversion in conversions:
            key = (conversion.material, conversion.unit)
            if key in seen and seen[key].factor != conversion.factor:
                raise config_problem(
                    "one factor per material and unit",
                    f"material {key[0]!r} unit {key[1]!r} listed with two factors",
                )
            seen[key] = conversion
        return conversions


def _inline_entries(table: Mapping[object, object]) -> dict[str, str]:
    for source, canonical in table.items():
        if (
            not isinstance(source, str)
            or not isinstance(canonical, str)
            or not canonical
        ):
            raise config_problem(
                "source code: canonical code pairs written as text",
                f"{describe_value(source)}: {describe_value(canonical)}",
                'Quote codes, e.g. "000123": "123": unquoted, YAML reads them '
                "as numbers.",
            )
    return {str(source): str(canonical) for source, canonical in table.items()}


def _resolve(path: Path, info: ValidationInfo) -> Path:
    context = info.context if isinstance(info.context, Mapping) else {}
    base = context.get(CONFIG_DIR)
    directory = Path(base) if base is not None else Path.cwd()
    return path if path.is_absolute() else (directory / path).resolve()
