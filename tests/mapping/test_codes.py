from __future__ import annotations

import pytest

from stockbridge.mapping.codes import (
    CodeCrosswalk,
    CodeDimension,
    CodeRule,
    CrosswalkSpec,
    RuleKind,
    SourceCrosswalks,
    StatusResolver,
)
from stockbridge.mapping.errors import (
    CodeTableError,
    MappingConfigError,
    MappingError,
    UnknownStatusError,
    UnmappedCodeError,
)
from stockbridge.mapping.model import StockStatus

MATERIAL = CodeDimension.MATERIAL


def crosswalk(*rules: CodeRule, table: dict[str, str] | None = None) -> CodeCrosswalk:
    return CodeCrosswalk("sap-prod", MATERIAL, CrosswalkSpec(rules, table))


@pytest.mark.parametrize(
    ("rule", "code", "expected"),
    [
        (CodeRule(RuleKind.STRIP_LEADING_ZEROS), "000000000000100141", "100141"),
        (CodeRule(RuleKind.STRIP_LEADING_ZEROS), "0000", "0"),
        (CodeRule(RuleKind.STRIP_LEADING_ZEROS), "0", "0"),
        (CodeRule(RuleKind.STRIP_LEADING_ZEROS), "00A1", "00A1"),  # SAP ALPHA: as typed
        (CodeRule(RuleKind.STRIP_LEADING_ZEROS), "", ""),
        (CodeRule(RuleKind.TRIM), "  FG29 \t", "FG29"),
        (CodeRule(RuleKind.UPPER), "fg29", "FG29"),
        (CodeRule(RuleKind.LOWER), "FG29", "fg29"),
        (CodeRule(RuleKind.ADD_PREFIX, "SAP-"), "FG29", "SAP-FG29"),
        (CodeRule(RuleKind.ADD_PREFIX, "SAP-"), "", ""),  # empty = not applicable
        (CodeRule(RuleKind.REMOVE_PREFIX, "CK"), "CK001", "001"),
        (CodeRule(RuleKind.REMOVE_PREFIX, "CK"), "WH001", "WH001"),
        (CodeRule(RuleKind.ADD_SUFFIX, "-A"), "B1", "B1-A"),
        (CodeRule(RuleKind.REMOVE_SUFFIX, "-A"), "B1-A", "B1"),
    ],
)
def test_each_rule(rule: CodeRule, code: str, expected: str) -> None:
    assert crosswalk(rule).translate(code) == expected


def test_rules_apply_in_order() -> None:
    trim_then_strip = crosswalk(
        CodeRule(RuleKind.TRIM), CodeRule(RuleKind.STRIP_LEADING_ZEROS)
    )
    strip_then_trim = crosswalk(
        CodeRule(RuleKind.STRIP_LEADING_ZEROS), CodeRule(RuleKind.TRIM)
    )
    assert trim_then_strip.translate(" 0042 ") == "42"
    assert strip_then_trim.translate(" 0042 ") == "0042"


def test_no_table_passes_codes_through() -> None:
    assert crosswalk().translate("FG29") == "FG29"
    assert SourceCrosswalks.build("u8").warehouse.translate("01") == "01"


def test_table_after_rules() -> None:
    xw = crosswalk(
        CodeRule(RuleKind.STRIP_LEADING_ZEROS),
        table={"100141": "MAT-100141", "FG29": "MAT-FG29"},
    )
    assert xw.translate("000000000000100141") == "MAT-100141"
    assert xw.translate("FG29") == "MAT-FG29"
    assert xw.translate("") == ""


def test_unmapped_code_names_source_dimension_and_code() -> None:
    xw = crosswalk(CodeRule(RuleKind.STRIP_LEADING_ZEROS), table={"100141": "M1"})
    with pytest.raises(UnmappedCodeError) as caught:
        xw.translate("000000000000999")
    error = caught.value
    assert isinstance(error, MappingError)
    assert (error.source, error.dimension, error.code) == (
        "sap-prod",
        "material",
        "000000000000999",
    )
    message = str(error)
    for part in (
        "material code '000000000000999'",
        "read as '999'",
        "'sap-prod'",
        "crosswalk table",
    ):
        assert part in message


def test_empty_table_rejects_everything_but_empty_codes() -> None:
    xw = CodeCrosswalk("k3", CodeDimension.BATCH, CrosswalkSpec(table={}))
    assert xw.translate("") == ""
    with pytest.raises(UnmappedCodeError, match="batch code 'L1'"):
        xw.translate("L1")


def test_rule_values_are_checked() -> None:
    with pytest.raises(
        MappingConfigError, match="'add_prefix' needs a non-empty value"
    ):
        CodeRule(RuleKind.ADD_PREFIX)
    with pytest.raises(MappingConfigError, match="'upper' takes no value"):
        CodeRule(RuleKind.UPPER, "x")
    with pytest.raises(MappingConfigError, match="unknown code rule 'strip_zeros'"):
        CodeRule("strip_zeros")  # type: ignore[arg-type]
    rule = CodeRule("add_prefix", "W-")  # type: ignore[arg-type]
    assert rule.kind is RuleKind.ADD_PREFIX
    assert crosswalk(rule).translate("01") == "W-01"


# --- status -------------------------------------------------------------------


def test_canonical_status_names_always_resolve() -> None:
    resolver = StatusResolver("mes")
    assert resolver.resolve("blocked") is StockStatus.BLOCKED
    assert resolver.resolve("QUALITY_INSPECTION") is StockStatus.QUALITY_INSPECTION
    assert resolver.resolve(" In_Transit ") is StockStatus.IN_TRANSIT


def test_status_table_maps_source_codes() -> None:
    spec = CrosswalkSpec(
        (CodeRule(RuleKind.TRIM),),
        {
            "01": "unrestricted",
            "02": "quality_inspection",
            "07": "BLOCKED",
            "08": "restricted",
        },
    )
    crosswalks = SourceCrosswalks.build("sap", {CodeDimension.STATUS: spec})
    assert crosswalks.status.resolve("01") is StockStatus.UNRESTRICTED
    assert crosswalks.status.resolve(" 07") is StockStatus.BLOCKED
    assert crosswalks.status.resolve("restricted") is StockStatus.RESTRICTED
    with pytest.raises(UnknownStatusError) as caught:
        crosswalks.status.resolve("09")
    message = str(caught.value)
    for part in (
        "'09'",
        "'sap'",
        "unrestricted, quality_inspection",
        "not in the source's status table",
    ):
        assert part in message


def test_unknown_status_without_table_says_so() -> None:
    with pytest.raises(UnknownStatusError, match="no status table is configured"):
        StatusResolver("u8").resolve("冻结")


def test_status_table_targets_must_be_statuses() -> None:
    with pytest.raises(
        CodeTableError, match="'Z' maps to 'frozen', which is not a stock status"
    ):
        StatusResolver("k3", CrosswalkSpec(table={"Z": "frozen"}))


def test_source_crosswalks_map_a_stock_records_codes() -> None:
    strip = (CodeRule(RuleKind.STRIP_LEADING_ZEROS),)
    crosswalks = SourceCrosswalks.build(
        "sap",
        {
            CodeDimension.MATERIAL: CrosswalkSpec(strip),
            CodeDimension.SITE: CrosswalkSpec(table={"1710": "PLANT-A"}),
            CodeDimension.STATUS: CrosswalkSpec(table={"01": "unrestricted"}),
        },
    )
    assert crosswalks.material.translate("000000000000100141") == "100141"
    assert crosswalks.site.translate("1710") == "PLANT-A"
    assert crosswalks.warehouse.translate("171A") == "171A"
    assert crosswalks.location.translate("") == ""
    assert (
        crosswalks.batch.translate("0000000109") == "0000000109"
    )  # batches keep zeros
    assert crosswalks.status.resolve("01") is StockStatus.UNRESTRICTED
    with pytest.raises(UnmappedCodeError, match="site code '1010'"):
        crosswalks.site.translate("1010")
