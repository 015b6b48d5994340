"""Secrets never print: not in repr, str, errors, dumps or `config check`."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from stockbridge.cli.app import app
from stockbridge.config import ConfigError, load_config, render_masked
from stockbridge.config.masking import redact_text
from stockbridge.connectors.base import ConnectorSettings

DB_PASSWORD = "Db-s3cr3t-Pa55"
SAP_PASSWORD = "Sap-Geheim-Пароль-42"
APP_SECRET = "k3-app-secret-9f8e7d"
WEBHOOK_TOKEN = "ding-token-0a1b2c3d4e"
SIGNING_SECRET = "SECsigning5ecret77"
ODBC_PASSWORD = "odbc-pw-31337"
ALL_SECRETS = (
    DB_PASSWORD,
    SAP_PASSWORD,
    APP_SECRET,
    WEBHOOK_TOKEN,
    SIGNING_SECRET,
    ODBC_PASSWORD,
)
ENVIRON = {
    "DB_PASSWORD": DB_PASSWORD,
    "SAP_PASSWORD": SAP_PASSWORD,
    "K3_APP_SECRET": APP_SECRET,
    "DING_URL": f"https://oapi.dingtalk.com/robot/send?access_token={WEBHOOK_TOKEN}",
    "DING_SECRET": SIGNING_SECRET,
}
CONFIG = f"""\
store: postgresql+psycopg://stockbridge:${{DB_PASSWORD}}@db.example.com/stock
sources:
  sap:
    kind: sap_odata
    url: https://s4.example.com/sap/opu/odata/sap
    client: "100"
    username: STOCKBRIDGE
    password: ${{SAP_PASSWORD}}
  k3:
    kind: k3cloud
    url: https://k3.example.com/k3cloud/
    acct_id: "65f0c2a1d3e4b5"
    username: api
    app_id: "308642_1sbq2eDvzqbZ2vHvwYfoSx1k5I6Y2N0p"
    app_secret: "${{K3_APP_SECRET}}"
  u8:
    kind: u8
    site: "2000"
    odbc: "DRIVER={{SQLite3}};Database=u8.db;UID=sa;PWD={ODBC_PASSWORD};"
alerts:
  channels:
    planners: {{kind: dingtalk, url: "${{DING_URL}}", secret: "${{DING_SECRET}}"}}
"""


def assert_no_secret(text: str) -> None:
    for secret in ALL_SECRETS:
        assert secret not in text


@pytest.fixture
def config_path(write_config) -> Path:
    return write_config(CONFIG)


def test_loaded_values_are_usable_but_repr_and_str_hide_them(config_path) -> None:
    settings = load_config(config_path, environ=ENVIRON)
    assert settings.store.password == DB_PASSWORD
    assert settings.sources["sap"].options["password"] == SAP_PASSWORD
    channel = settings.alerts.channels["planners"]
    assert channel.secret is not None
    assert channel.secret.get_secret_value() == SIGNING_SECRET
    assert_no_secret(repr(settings))
    assert_no_secret(str(settings))
    assert_no_secret(repr(settings.sources["u8"]))
    assert_no_secret(str(settings.model_dump()))
    assert_no_secret(render_masked(settings))


def test_masked_render_shows_what_is_not_secret(config_path) -> None:
    rendered = render_masked(load_config(config_path, environ=ENVIRON))
    assert (
        "store: postgresql+psycopg://stockbridge:********@db.example.com/stock"
        in rendered
    )
    assert "username: STOCKBRIDGE" in rendered
    assert "app_id: 308642_1sbq2eDvzqbZ2vHvwYfoSx1k5I6Y2N0p" in rendered
    assert "PWD=********;" in rendered


def test_logging_the_settings_leaks_nothing(config_path, caplog) -> None:
    settings = load_config(config_path, environ=ENVIRON)
    with caplog.at_level(logging.INFO):
        logging.getLogger("stockbridge.test").info("loaded %s", settings)
    assert "loaded store=postgresql+psycopg://stockbridge:***@db" in caplog.text
    assert_no_secret(caplog.text)


def test_errors_never_echo_secret_values(write_config) -> None:
    path = write_config(
        f"""\
        store: "postgresql+psycopg//u:{DB_PASSWORD}@db/x"
        sources:
          sap: {{kind: sap_odata, password: {{nested: "{SAP_PASSWORD}"}}}}
        alerts:
          channels:
            planners: {{kind: dingtalk, secret: ["{SIGNING_SECRET}"]}}
        """
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    message = str(caught.value)
    assert "store: expected a SQLAlchemy database URL" in message
    assert "alerts.channels.planners.secret: expected text" in message
    assert_no_secret(message)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_connector_settings_errors_hide_secrets(config_path) -> None:
    class SapSettings(ConnectorSettings):
        url: str
        client: str
        username: str
        password: SecretStr

    settings = load_config(config_path, environ=ENVIRON)
    parsed = settings.source_settings("sap", SapSettings)
    assert parsed.password.get_secret_value() == SAP_PASSWORD
    assert_no_secret(repr(parsed))

    class StrictSap(ConnectorSettings):
        url: str
        client: int
        username: str

    with pytest.raises(ConfigError) as caught:
        settings.source_settings("sap", StrictSap)
    message = str(caught.value)
    assert "sources.sap.password: expected one of the keys" in message
    assert_no_secret(message)


def test_config_check_output_masks_every_secret(config_path) -> None:
    result = CliRunner().invoke(
        app, ["--config", str(config_path), "config", "check"], env=ENVIRON
    )
    assert result.exit_code == 0, result.output
    assert "planners:" in result.stdout
    assert result.stdout.count("********") >= len(ALL_SECRETS)
    assert_no_secret(result.output)


def test_redact_text_masks_credentials_inside_urls_and_connection_strings() -> None:
    assert redact_text("postgresql://me:pw@h/db") == "postgresql://me:********@h/db"
    assert redact_text("mysql//me:pw@h/db") == "mysql//me:********@h/db"
    assert redact_text("DSN=u8;Pwd={a;b};UID=x") == "DSN=u8;Pwd=********;UID=x"
    assert (
        redact_text("https://h/send?access_token=abc&keyword=x&key=k")
        == "https://h/send?access_token=********&keyword=x&key=********"
    )
