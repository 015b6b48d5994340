"""`${VAR}` and `${VAR:-default}` expansion in string values."""

from __future__ import annotations

from pathlib import Path

import pytest

from stockbridge.config import ConfigError, load_config
from stockbridge.config.env import expand_env

FILE = Path("stockbridge.yaml")


def test_set_variables_replace_references_anywhere_in_a_string() -> None:
    data = {"sources": {"mes": {"url": "https://${HOST}:${PORT}/api", "n": 3}}}
    expanded = expand_env(
        data, environ={"HOST": "mes.local", "PORT": "8443"}, file=FILE
    )
    assert expanded == {
        "sources": {"mes": {"url": "https://mes.local:8443/api", "n": 3}}
    }


def test_default_applies_when_unset_or_empty() -> None:
    data = ["${A:-one}", "${B:-two}", "${C:-}", "${D:-x}"]
    expanded = expand_env(data, environ={"B": "", "D": "set"}, file=FILE)
    assert expanded == ["one", "two", "", "set"]


def test_empty_variable_without_default_is_empty_not_an_error() -> None:
    assert expand_env("[${EMPTY}]", environ={"EMPTY": ""}, file=FILE) == "[]"


def test_double_dollar_writes_a_literal_reference() -> None:
    assert expand_env("pa$${X}ss", environ={}, file=FILE) == "pa${X}ss"


def test_keys_and_non_strings_are_left_alone() -> None:
    data = {"${KEY}": 5, "flag": True, "none": None}
    assert expand_env(data, environ={"KEY": "k"}, file=FILE) == data


def test_every_unset_or_malformed_reference_is_reported() -> None:
    data = {"a": ["${ONE}"], "b": {"c": "${TWO} and ${3BAD}", "d": "${E:-${F}}"}}
    with pytest.raises(ConfigError) as caught:
        expand_env(data, environ={}, file=FILE, lines={("a", 0): 2, ("b", "c"): 4})
    assert str(caught.value).splitlines() == [
        "stockbridge.yaml, line 2: a[0]: expected environment variable ONE to be "
        "set, found it unset. Set ONE, or give a default: ${ONE:-value}.",
        "stockbridge.yaml, line 4: b.c: expected environment variable TWO to be "
        "set, found it unset. Set TWO, or give a default: ${TWO:-value}.",
        "stockbridge.yaml, line 4: b.c: expected a reference written ${NAME} or "
        "${NAME:-default}, found '${3BAD}'. Write $${ for a literal ${.",
        "stockbridge.yaml: b.d: expected a reference written ${NAME} or "
        "${NAME:-default}, found '${E:-${F}'. A default cannot refer to another "
        "variable.",
    ]


def test_expanded_values_reach_the_settings(write_config) -> None:
    path = write_config(
        """\
        timezone: ${TZ_NAME:-Asia/Shanghai}
        sources:
          sap:
            kind: sap_odata
            batch_size: ${SAP_BATCH:-250}
            enabled: ${SAP_ON}
        """
    )
    settings = load_config(path, environ={"SAP_ON": "false"})
    assert settings.timezone == "Asia/Shanghai"
    assert settings.sources["sap"].batch_size == 250
    assert settings.sources["sap"].enabled is False
