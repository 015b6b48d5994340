"""One test per kind of config error, asserting the whole message."""

from __future__ import annotations

from pathlib import Path

import pytest

from stockbridge.config import ConfigError, load_config


def test_missing_file_suggests_init(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value) == (
        f"{path}: expected a YAML config file, found no file at {path}. "
        "Run 'stockbridge init' to write a commented starter config there, "
        "or point --config (or STOCKBRIDGE_CONFIG) at your config file."
    )


def test_yaml_syntax_error_names_line_and_column(write_config, problems_of) -> None:
    path = write_config(
        """\
        timezone: Asia/Shanghai
        sources:
          sap:
            kind: sap_odata
           batch_size: 10
        """
    )
    assert problems_of(path) == (
        f"{path}, line 5, column 4: expected valid YAML, found a syntax error: "
        "expected <block end>, but found '<block mapping start>' "
        "(while parsing a block mapping). "
        "Check the indentation and quoting on that line and the one before it."
    )


def test_unknown_key_suggests_the_nearest(write_config, problems_of) -> None:
    path = write_config(
        """\
        timezone: Asia/Shanghai
        reconcile:
          tolerance:
            absolut: "0.5"
        """
    )
    assert problems_of(path) == (
        f"{path}, line 4: reconcile.tolerance.absolut: expected one of the keys "
        "absolute, relative, found the unknown key 'absolut'. "
        "Did you mean 'absolute'?"
    )


def test_wrong_type_names_expected_and_found(write_config, problems_of) -> None:
    path = write_config(
        """\
        sources:
          sap_plant1000:
            kind: sap_odata
            batch_size: many
        """
    )
    assert problems_of(path) == (
        f"{path}, line 4: sources.sap_plant1000.batch_size: "
        "expected a whole number, found 'many' (text)."
    )


def test_unset_env_var_names_key_and_variable(write_config, problems_of) -> None:
    path = write_config(
        """\
        store: postgresql+psycopg://stockbridge:${DB_PASSWORD}@db/stock
        """
    )
    assert problems_of(path) == (
        f"{path}, line 1: store: expected environment variable DB_PASSWORD to be "
        "set, found it unset. Set DB_PASSWORD, or give a default: "
        "${DB_PASSWORD:-value}."
    )


def test_float_where_a_decimal_string_is_needed(write_config, problems_of) -> None:
    path = write_config(
        """\
        sources:
          sap: {kind: sap_odata}
        mapping:
          sap:
            conversions:
              - {material: "100023", unit: CT, factor: 0.1}
        """
    )
    assert problems_of(path) == (
        f"{path}, line 6: mapping.sap.conversions[0].factor: expected a positive "
        'number written as text, e.g. "24", "0.6" or "3/5", found 0.1 (a YAML '
        'float). Quote it, e.g. "0.5": unquoted, YAML reads it as a binary float, '
        "which cannot hold most decimals exactly."
    )


def test_bad_schedule_interval(write_config, problems_of) -> None:
    path = write_config(
        """\
        sources:
          sap:
            kind: sap_odata
            schedule: every 5 minutes
        """
    )
    assert problems_of(path) == (
        f"{path}, line 4: sources.sap.schedule.default: expected an interval such "
        'as 30s, 15m or 1h, or "cron: MIN HOUR DAY MONTH WEEKDAY", '
        "found 'every 5 minutes' (text)."
    )


def test_bad_cron_expression(write_config, problems_of) -> None:
    path = write_config(
        """\
        sources:
          sap:
            kind: sap_odata
            schedule: {movements: "cron: 61 * * * *"}
        """
    )
    assert problems_of(path) == (
        f"{path}, line 4: sources.sap.schedule.movements: expected a cron "
        "expression of five fields: minute hour day month weekday, found "
        "'61 * * * *' (Error validating expression '61': the last value (61) is "
        "higher than the maximum value (59))."
    )


def test_numeric_cron_weekday_is_refused(write_config, problems_of) -> None:
    path = write_config(
        """\
        sources:
          sap:
            kind: sap_odata
            schedule: "cron: 0 6 * * 1-5"
        """
    )
    assert problems_of(path) == (
        f"{path}, line 4: sources.sap.schedule.default: expected a day of week "
        "written as names (mon, tue, ..., sun, or a range mon-fri), found '1-5' "
        "in cron expression '0 6 * * 1-5'. Cron counts 0 as Sunday but "
        "APScheduler counts 0 as Monday; names mean the same to both."
    )


def test_bad_timezone_suggests_the_nearest(write_config, problems_of) -> None:
    path = write_config("timezone: Asia/Shangai\n")
    assert problems_of(path) == (
        f"{path}, line 1: timezone: expected an IANA time zone name such as "
        "Asia/Shanghai, found 'Asia/Shangai', which is not one. "
        "Did you mean 'Asia/Shanghai'?"
    )


def test_bad_duration(write_config, problems_of) -> None:
    path = write_config(
        """\
        sources:
          sap:
            kind: sap_odata
            lookback: 2 hours
        """
    )
    assert problems_of(path) == (
        f"{path}, line 4: sources.sap.lookback: expected a duration such as 30s, "
        "15m, 2h, 1d or 1h30m, found '2 hours' (text)."
    )


def test_code_written_as_number_asks_for_quotes(write_config, problems_of) -> None:
    path = write_config(
        """\
        sources:
          sap: {kind: sap_odata}
        reconcile:
          system_of_record:
            - {source: sap, warehouse: 0001}
        """
    )
    assert problems_of(path) == (
        f"{path}, line 5: reconcile.system_of_record[0].warehouse[0]: expected a "
        'code written as text, found 1 (a number). Quote codes, e.g. "000123": '
        "unquoted, YAML reads them as numbers and drops leading zeros."
    )


def test_missing_required_key(write_config, problems_of) -> None:
    path = write_config(
        """\
        sources:
          sap:
            enabled: false
        """
    )
    assert problems_of(path) == (
        f"{path}, line 2: sources.sap.kind: expected the required key 'kind', "
        "found no such key."
    )


def test_duplicate_key(write_config, problems_of) -> None:
    path = write_config(
        """\
        timezone: Asia/Shanghai
        timezone: UTC
        """
    )
    assert problems_of(path) == (
        f"{path}, line 2: timezone: expected each key once in a mapping, found it "
        "on lines 1 and 2. YAML would silently keep only the last one."
    )


def test_reference_to_undefined_source(write_config, problems_of) -> None:
    path = write_config(
        """\
        sources:
          sap_plant1000: {kind: sap_odata}
        reconcile:
          priority: [sap_plant100]
        """
    )
    assert problems_of(path) == (
        f"{path}, line 4: reconcile.priority[0]: expected a name defined under "
        "sources (sap_plant1000), found 'sap_plant100'. "
        "Did you mean 'sap_plant1000'?"
    )


def test_bad_code_table_names_the_table_file_and_row(
    write_config, problems_of, tmp_path: Path
) -> None:
    table = tmp_path / "materials.csv"
    table.write_text("source,canonical\n0001,A\n0002,\n", encoding="utf-8")
    path = write_config(
        """\
        sources:
          sap: {kind: sap_odata}
        mapping:
          sap:
            material: {table: materials.csv}
        """
    )
    assert problems_of(path) == (
        f"{table}, line 3: mapping.sap.material.table: expected a source and a "
        "canonical code in every row, found row 3 with source '0002' and "
        "canonical ''."
    )


def test_every_problem_of_a_file_is_reported_in_file_order(
    write_config, problems_of
) -> None:
    path = write_config(
        """\
        timezone: Mars/Olympus
        sources:
          sap:
            kind: sap_odata
            batch_size: 0
        reconcile:
          priority: [sapp]
          fallback: newest
        """
    )
    lines = problems_of(path).splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "timezone",
        "sources.sap.batch_size",
        "reconcile.priority[0]",
        "reconcile.fallback",
    ]
    assert lines[1].endswith("expected a number greater than 0, found 0 (a number).")
    assert lines[3].endswith(
        "expected one of 'priority' or 'freshest', found 'newest' (text)."
    )
