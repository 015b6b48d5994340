"""Loading the config file: read, expand `${VAR}`, validate, cross-check.

Each phase reports every problem it finds before stopping, and a later phase
never runs on the output of a failed one (an unset variable would otherwise
show up again as a confusing type error). Validation and the cross-checks
of names run side by side, so they are reported together.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from stockbridge.config.env import expand_env
from stockbridge.config.errors import (
    ConfigError,
    ConfigProblem,
    problems_from_validation_error,
)
from stockbridge.config.mapping_section import CONFIG_DIR
from stockbridge.config.models import Settings
from stockbridge.config.references import reference_problems
from stockbridge.config.yaml_file import read_yaml

__all__ = ["load_config", "render_masked", "starter_config"]


def load_config(path: Path, *, environ: Mapping[str, str] | None = None) -> Settings:
    """The validated settings in the YAML file at `path`.

    `environ` (default: the process environment) resolves `${VAR}`
    references. Relative table paths are read from the file's directory.
    Raises `ConfigError` naming the file, key paths and lines.
    """
    data, lines = read_yaml(path)
    expanded = expand_env(
        data,
        environ=os.environ if environ is None else environ,
        file=path,
        lines=lines,
    )
    problems = reference_problems(expanded, file=path, lines=lines)
    try:
        settings = Settings.model_validate(
            expanded, context={CONFIG_DIR: path.absolute().parent}
        )
    except ValidationError as error:
        problems += problems_from_validation_error(
            error, file=path, model=Settings, lines=lines
        )
        # `from None`: a pydantic error holds the raw input, secrets included.
        raise ConfigError(_in_file_order(problems)) from None
    if problems:
        raise ConfigError(problems)
    settings.located(path, lines)
    return settings


def _in_file_order(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    return sorted(problems, key=lambda problem: problem.line or 0)


def render_masked(settings: Settings) -> str:
    """The resolved config as YAML, defaults filled in, secrets masked.

    Under `mapping` only what was configured is shown: six dimensions of
    defaults per source would bury it.
    """
    data = settings.model_dump(mode="json")
    configured = settings.model_dump(
        mode="json", include={"mapping"}, exclude_defaults=True
    )
    data["mapping"] = configured.get("mapping", {})
    return yaml.safe_dump(
        data,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
    )


def starter_config() -> str:
    """The commented starter config that `stockbridge init` writes."""
    return (
        resources.files("stockbridge.config")
        .joinpath("starter.yaml")
        .read_text(encoding="utf-8")
    )
