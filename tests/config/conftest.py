from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from stockbridge.config import ConfigError, load_config

WriteConfig = Callable[[str], Path]
ProblemsOf = Callable[..., str]


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    """Write YAML (dedented) to a stockbridge.yaml in a fresh directory."""

    def write(text: str) -> Path:
        path = tmp_path / "stockbridge.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def problems_of() -> ProblemsOf:
    """The ConfigError message of loading `path` with exactly `environ`."""

    def problems(path: Path, **environ: str) -> str:
        with pytest.raises(ConfigError) as caught:
            load_config(path, environ=environ)
        return str(caught.value)

    return problems
