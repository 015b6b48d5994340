"""`${VAR}` and `${VAR:-default}` references in config string values.

Secrets live in the environment, not in the file, so every string value may
refer to variables. An unset variable with no default is an error naming the
key that refers to it: a silently empty password only fails later, far from
its cause. `$${` writes a literal `${`. Keys are never expanded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from stockbridge.config.errors import (
    ConfigError,
    ConfigProblem,
    KeyPath,
    LineIndex,
    line_of,
)

__all__ = ["expand_env"]

_TOKEN = re.compile(r"\$\$\{|\$\{(?P<body>[^}]*)\}|\$\{")
_BODY = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>.*))?", re.S)
_SYNTAX = "a reference written ${NAME} or ${NAME:-default}"


def expand_env(
    data: object,
    *,
    environ: Mapping[str, str],
    file: Path,
    lines: LineIndex | None = None,
) -> object:
    """A copy of `data` with every reference in string values replaced.

    `${NAME:-default}` takes the default when NAME is unset or empty, as the
    shell does. Raises `ConfigError` listing every bad or unset reference.
    """
    expander = _Expander(environ, file, lines)
    expanded = expander.walk(data, ())
    if expander.problems:
        raise ConfigError(expander.problems)
    return expanded


class _Expander:
    def __init__(
        self, environ: Mapping[str, str], file: Path, lines: LineIndex | None
    ) -> None:
        self.environ = environ
        self.file = file
        self.lines = lines
        self.problems: list[ConfigProblem] = []

    def walk(self, value: object, path: KeyPath) -> object:
        if isinstance(value, str):
            return _TOKEN.sub(lambda match: self.replace(match, path), value)
        if isinstance(value, dict):
            return {
                key: self.walk(item, (*path, str(key))) for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.walk(item, (*path, index)) for index, item in enumerate(value)]
        return value

    def replace(self, match: re.Match[str], path: KeyPath) -> str:
        reference = match.group(0)
        if reference == "$${":
            return "${"
        body = match.group("body")
        parsed = None if body is None else _BODY.fullmatch(body)
        if parsed is None:
            self.problem(path, _SYNTAX, f"{reference!r}", "Write $${ for a literal ${.")
            return ""
        name, default = parsed.group("name"), parsed.group("default")
        if default is not None and "${" in default:
            self.problem(
                path,
                _SYNTAX,
                f"{reference!r}",
                "A default cannot refer to another variable.",
            )
            return ""
        current = self.environ.get(name)
        if default is not None and not current:
            return default
        if current is None:
            self.problem(
                path,
                f"environment variable {name} to be set",
                "it unset",
                f"Set {name}, or give a default: ${{{name}:-value}}.",
            )
            return ""
        return current

    def problem(self, path: KeyPath, expected: str, found: str, hint: str) -> None:
        self.problems.append(
            ConfigProblem(
                file=self.file,
                key_path=path,
                expected=expected,
                found=found,
                hint=hint,
                line=line_of(self.lines, path),
            )
        )
