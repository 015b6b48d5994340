"""What a valid config turns into: tables, schedules, exact factors, defaults."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import openpyxl
import pytest

from stockbridge.config import ConfigError, load_config, render_masked, starter_config
from stockbridge.config.schedule import STREAM_NAMES, Schedule
from stockbridge.connectors.base import ConnectorSettings, Stream


def test_relative_table_paths_resolve_against_the_config_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = tmp_path / "etc"
    (config_dir / "tables").mkdir(parents=True)
    (config_dir / "tables" / "materials.csv").write_text(
        "canonical,note,source\n100023,screws,000000000000100023\n", encoding="utf-8"
    )
    workbook = openpyxl.Workbook()
    workbook.active.title = "ignored"
    sheet = workbook.create_sheet("warehouses")
    sheet.append(["source", "canonical"])
    sheet.append([1, "RM01"])
    sheet.append(["0002", "FG01"])
    workbook.save(config_dir / "tables" / "codes.xlsx")
    workbook.close()
    # A decoy where a cwd-relative reading would look.
    elsewhere = tmp_path / "cwd"
    (elsewhere / "tables").mkdir(parents=True)
    (elsewhere / "tables" / "materials.csv").write_text(
        "source,canonical\nwrong,wrong\n", encoding="utf-8"
    )
    (config_dir / "stockbridge.yaml").write_text(
        "sources: {sap: {kind: sap_odata}}\n"
        "mapping:\n"
        "  sap:\n"
        "    material: {table: tables/materials.csv}\n"
        "    warehouse: {table: tables/codes.xlsx, sheet: warehouses}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(elsewhere)

    settings = load_config(Path("../etc/stockbridge.yaml"), environ={})

    mapping = settings.mapping["sap"]
    assert mapping.material.table is not None
    assert mapping.material.table.entries == {"000000000000100023": "100023"}
    assert mapping.material.table.file == config_dir / "tables" / "materials.csv"
    assert mapping.warehouse.table is not None
    assert mapping.warehouse.table.entries == {"1": "RM01", "0002": "FG01"}
    assert f"table: {config_dir / 'tables' / 'codes.xlsx'}" in render_masked(settings)


def test_csv_table_in_another_encoding(write_config, tmp_path: Path) -> None:
    (tmp_path / "status.csv").write_bytes(
        "source,canonical\n冻结,blocked\n".encode("gb18030")
    )
    path = write_config(
        """\
        sources: {u8: {kind: u8_odbc}}
        mapping:
          u8:
            status: {table: status.csv, encoding: gb18030}
        """
    )
    table = load_config(path, environ={}).mapping["u8"].status.table
    assert table is not None
    assert table.entries == {"冻结": "blocked"}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encoding_is_detected_and_chinese_headers_are_understood(
    write_config, tmp_path: Path, encoding: str
) -> None:
    (tmp_path / "wh.csv").write_bytes(
        "源编码,目标编码,说明\n原材料仓,RM01,原料\n".encode(encoding)
    )
    path = write_config(
        """\
        sources: {u8: {kind: u8}}
        mapping:
          u8:
            warehouse: {table: wh.csv}
        """
    )
    table = load_config(path, environ={}).mapping["u8"].warehouse.table
    assert table is not None
    assert table.entries == {"原材料仓": "RM01"}


def test_factors_and_tolerances_are_exact(write_config) -> None:
    path = write_config(
        """\
        sources: {k3: {kind: k3cloud}}
        mapping:
          k3:
            units: {箱: CT}
            conversions:
              - {material: "A-1", unit: 箱, factor: "24"}
              - {material: "A-2", unit: 包, factor: "0.1"}
              - {material: "A-3", unit: 盒, factor: "1/3"}
        reconcile:
          tolerance: {absolute: "0.001", relative: "0.005"}
        """
    )
    settings = load_config(path, environ={})
    factors = [c.factor for c in settings.mapping["k3"].conversions]
    assert factors == [Fraction(24), Fraction(1, 10), Fraction(1, 3)]
    assert settings.reconcile.tolerance.absolute == Decimal("0.001")
    assert settings.reconcile.tolerance.relative == Decimal("0.005")
    rendered = render_masked(settings)
    assert "factor: 1/3" in rendered
    assert "factor: '0.1'" in rendered


def test_schedules_per_stream_with_a_default(write_config) -> None:
    path = write_config(
        """\
        sources:
          sap: {kind: sap_odata, schedule: {default: 1h, movements: 1m30s}}
          mes: {kind: mes_rest, schedule: "cron: */5 6-22 * * mon-sat"}
          u8: {kind: u8_odbc}
          k3: {kind: k3cloud, schedule: {stock: 30m}}
        """
    )
    sources = load_config(path, environ={}).sources
    assert sources["sap"].schedule.for_stream("movements") == Schedule(
        every=timedelta(seconds=90)
    )
    assert sources["sap"].schedule.for_stream("stock") == Schedule(
        every=timedelta(hours=1)
    )
    assert sources["mes"].schedule.for_stream("stock") == Schedule(
        cron="*/5 6-22 * * mon-sat"
    )
    assert sources["u8"].schedule.for_stream("units") == Schedule(
        every=timedelta(minutes=15)
    )
    assert sources["k3"].schedule.for_stream("movements") is None
    assert sources["u8"].lookback == timedelta(hours=2)
    assert sources["u8"].batch_size == 5000


def test_stream_names_match_the_connector_contract() -> None:
    assert set(STREAM_NAMES) == {stream.value for stream in Stream}


def test_default_store_is_stockbridge_db_in_the_working_directory(
    write_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config("timezone: UTC\n")
    monkeypatch.chdir(tmp_path)
    settings = load_config(path, environ={})
    assert settings.store.drivername == "sqlite"
    assert settings.store.database == str(tmp_path / "stockbridge.db")


def test_masked_render_loads_back_to_the_same_settings(write_config) -> None:
    path = write_config(
        """\
        store: sqlite:///var/stock.db
        timezone: Europe/Berlin
        sources:
          sap:
            kind: sap_odata
            timezone: Asia/Shanghai
            schedule: {default: 2h, stock: "cron: 0 6 * * mon-fri"}
            lookback: 1d
            client: "100"
        mapping:
          sap:
            material: {rules: [trim, {remove_prefix: "00"}], table: {"0001": A}}
        reconcile:
          system_of_record: [{source: sap, site: "1000", status: [blocked]}]
          priority: [sap]
          fallback: freshest
        alerts:
          channels: {ops: {kind: slack, url: "${SLACK_URL}"}}
          rules: [{kind: stale_source, channels: [ops], after: 2h}]
        """
    )
    settings = load_config(path, environ={"SLACK_URL": "https://hooks.slack.com/x"})
    again = path.with_name("again.yaml")
    again.write_text(render_masked(settings), encoding="utf-8")
    reloaded = load_config(again, environ={})
    assert reloaded.model_dump() == settings.model_dump()
    assert reloaded.sources["sap"].options == {"client": "100"}


def test_connector_settings_get_the_zone_and_typo_suggestions(write_config) -> None:
    class MesSettings(ConnectorSettings):
        base_url: str
        page_size: int = 500

    path = write_config(
        """\
        timezone: Asia/Shanghai
        sources:
          mes: {kind: mes_rest, base_url: "http://127.0.0.1:8080", page_size: 200}
          mes2:
            kind: mes_rest
            base_url: "http://127.0.0.1:8081"
            timezone: Europe/Berlin
            enabeld: false
            page_sise: 10
        """
    )
    settings = load_config(path, environ={})
    mes = settings.source_settings("mes", MesSettings)
    assert (mes.base_url, mes.page_size, mes.timezone) == (
        "http://127.0.0.1:8080",
        200,
        "Asia/Shanghai",
    )
    with pytest.raises(ConfigError) as caught:
        settings.source_settings("mes2", MesSettings)
    first, second = str(caught.value).splitlines()
    assert first.startswith(
        f"{path}, line 8: sources.mes2.enabeld: expected one of the keys base_url, "
        "batch_size, "
    )
    assert first.endswith("found the unknown key 'enabeld'. Did you mean 'enabled'?")
    assert second.startswith(f"{path}, line 9: sources.mes2.page_sise: ")
    assert second.endswith(
        "found the unknown key 'page_sise'. Did you mean 'page_size'?"
    )


def test_starter_config_examples_are_valid_when_uncommented(tmp_path: Path) -> None:
    starter = starter_config()
    examples = re.sub(r"(?m)^# ", "", starter)
    assert examples.count("\nsources:") == 1
    path = tmp_path / "stockbridge.yaml"
    path.write_text(examples, encoding="utf-8")
    settings = load_config(
        path,
        environ={
            "STOCKBRIDGE_DB_PASSWORD": "pw",
            "DINGTALK_WEBHOOK_URL": "https://oapi.dingtalk.com/robot/send?access_token=t",
            "DINGTALK_SECRET": "SECx",
        },
    )
    assert set(settings.sources) == {"sap_plant1000", "mes_line"}
    assert settings.store.drivername == "postgresql+psycopg"
    assert settings.mapping["sap_plant1000"].conversions[1].factor == Fraction(3, 5)
    assert settings.alerts.rules[0].channels == ["planners"]
