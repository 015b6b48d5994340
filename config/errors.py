"""Config errors that say where, what was expected and what was found.

A user fixing a config file needs every problem at once, each pointing at a
file, a line when we know it, and a dotted key path they can search for. So
`ConfigError` carries a list of `ConfigProblem`s, one readable sentence each.
Pydantic's own messages are translated here, once, so every room that
validates a block of the config (the connectors validate `sources.NAME`
through `validate_section`) reports problems the same way, and never echoes a
value stored under a key that looks like a secret.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from stockbridge.config.masking import is_secret_key, redact_text

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "KeyPath",
    "LineIndex",
    "config_problem",
    "describe_value",
    "format_key_path",
    "line_of",
    "problems_from_validation_error",
    "validate_section",
]

KeyPath = tuple[str | int, ...]
"""Where a value sits in the YAML document: mapping keys and list indexes."""

LineIndex = Mapping[KeyPath, int]
"""The 1-based line of each key path, as read from the YAML file."""

PROBLEM_TYPE = "stockbridge_config"
"""Pydantic error type of problems raised by our own validators."""

_PLAIN_KEY = re.compile(r"[^.\s\[\]'\"]+")
_MAX_SHOWN = 60
_ModelT = TypeVar("_ModelT", bound=BaseModel)


def format_key_path(path: KeyPath) -> str:
    """`sources.sap.rules[0]`: the form users see and search for."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with the config, located as precisely as we can."""

    file: Path
    expected: str
    found: str
    key_path: KeyPath = ()
    hint: str = ""
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = str(self.file)
        if self.line is not None:
            where += f", line {self.line}"
            if self.column is not None:
                where += f", column {self.column}"
        if self.key_path:
            where += f": {format_key_path(self.key_path)}"
        sentence = f"{where}: expected {self.expected}, found {self.found}."
        return f"{sentence} {self.hint}" if self.hint else sentence


class ConfigError(Exception):
    """The config cannot be used; `problems` lists every reason found."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        if not problems:
            msg = "a ConfigError needs at least one problem"
            raise ValueError(msg)
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def config_problem(
    expected: str,
    found: str,
    hint: str = "",
    *,
    file: Path | None = None,
    line: int | None = None,
) -> PydanticCustomError:
    """The error our field validators raise, carrying expected/found/hint.

    `problems_from_validation_error` turns it into a `ConfigProblem` at the
    field's key path, so validators never format locations themselves.
    `file` and `line` name another file the value points to (a code table).
    """
    context: dict[str, object] = {"expected": expected, "found": found, "hint": hint}
    if file is not None:
        context["file"] = str(file)
    if line is not None:
        context["line"] = line
    return PydanticCustomError(
        PROBLEM_TYPE, "expected {expected}, found {found}", context
    )


def describe_value(value: object) -> str:
    """A short, safe description of a YAML value for the `found` part."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    if isinstance(value, int):
        return f"{value} (a number)"
    if isinstance(value, float):
        return f"{value!r} (a YAML float)"
    if isinstance(value, str):
        shown = redact_text(value)
        if len(shown) > _MAX_SHOWN:
            shown = shown[: _MAX_SHOWN - 3] + "..."
        return f"{shown!r} (text)"
    if isinstance(value, Mapping):
        return "a mapping (key: value pairs)"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def line_of(lines: LineIndex | None, path: KeyPath) -> int | None:
    """The line of `path`, or of its nearest ancestor the index knows."""
    if not lines:
        return None
    for end in range(len(path), -1, -1):
        prefix = path[:end]
        for candidate in (prefix, tuple(str(part) for part in prefix)):
            if candidate in lines:
                return lines[candidate]
    return None


def validate_section(
    model: type[_ModelT],
    data: object,
    *,
    file: Path,
    path: KeyPath = (),
    lines: LineIndex | None = None,
    also_valid: Collection[str] = (),
    context: Mapping[str, object] | None = None,
) -> _ModelT:
    """Validate one block of the config (e.g. `sources.NAME`) against `model`.

    Raises `ConfigError` with every problem, located under `path`.
    `also_valid` names keys accepted elsewhere at that level, so a typo of
    one of them is still matched to its nearest spelling.
    """
    try:
        return model.model_validate(data, context=dict(context or {}))
    except ValidationError as error:
        problems = problems_from_validation_error(
            error,
            file=file,
            model=model,
            base_path=path,
            lines=lines,
            also_valid=also_valid,
        )
    # Raised outside the except block so the pydantic error, which holds the
    # raw input (secrets included), is not chained to ours.
    raise ConfigError(problems)


def problems_from_validation_error(
    error: ValidationError,
    *,
    file: Path,
    model: type[BaseModel],
    base_path: KeyPath = (),
    lines: LineIndex | None = None,
    also_valid: Collection[str] = (),
) -> list[ConfigProblem]:
    """Translate pydantic's errors into located, readable problems."""
    problems = []
    for details in error.errors(include_url=False):
        loc: KeyPath = tuple(details["loc"])
        if loc and loc[-1] == "[key]":
            loc = loc[:-1]
        path = base_path + loc
        expected, found, hint = _explain(details, model, loc, also_valid)
        if _under_secret_key(path):
            found = "a value that is not shown (the key names a secret)"
        ctx = details.get("ctx") or {}
        if "file" in ctx:  # a problem inside a file the config points to
            problem_file = Path(ctx["file"])
            line = int(ctx["line"]) if "line" in ctx else None
        else:
            problem_file, line = file, line_of(lines, path)
        problems.append(
            ConfigProblem(
                file=problem_file,
                key_path=path,
                expected=expected,
                found=found,
                hint=hint,
                line=line,
            )
        )
    return problems


def _explain(
    details: ErrorDetails,
    model: type[BaseModel],
    loc: KeyPath,
    also_valid: Collection[str],
) -> tuple[str, str, str]:
    kind = details["type"]
    ctx = details.get("ctx") or {}
    value = details.get("input")
    if kind == PROBLEM_TYPE:
        return str(ctx["expected"]), str(ctx["found"]), str(ctx.get("hint", ""))
    if kind == "extra_forbidden":
        return _unknown_key(loc, _valid_keys(model, loc[:-1]) + list(also_valid))
    if kind == "missing":
        return f"the required key {loc[-1]!r}", "no such key", ""
    found = describe_value(value)
    hint = ""
    if kind == "string_type" and isinstance(value, int | float):
        hint = (
            "Put the value in quotes: unquoted, YAML reads it as a number "
            "(and drops leading zeros)."
        )
    return _EXPECTED.get(kind, _from_message(details["msg"])).format(**ctx), found, hint


_EXPECTED = {
    "string_type": "text",
    "string_too_short": "non-empty text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping (key: value pairs)",
    "model_type": "a mapping (key: value pairs)",
    "model_attributes_type": "a mapping (key: value pairs)",
    "list_type": "a list",
    "literal_error": "one of {expected}",
    "enum": "one of {expected}",
    "greater_than": "a number greater than {gt}",
    "greater_than_equal": "a number of at least {ge}",
    "less_than_equal": "a number of at most {le}",
}


def _from_message(message: str) -> str:
    text = message.removeprefix("Value error, ").removeprefix("Input should be ")
    return text.replace("{", "{{").replace("}", "}}")


def _unknown_key(loc: KeyPath, candidates: list[str]) -> tuple[str, str, str]:
    key = str(loc[-1]) if loc else ""
    valid = sorted(set(candidates))
    expected = "one of the keys " + ", ".join(valid) if valid else "no further keys"
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    hint = f"Did you mean {close[0]!r}?" if close else ""
    return expected, f"the unknown key {key!r}", hint


def _under_secret_key(path: KeyPath) -> bool:
    return any(isinstance(part, str) and is_secret_key(part) for part in path)


def _valid_keys(model: type[BaseModel], parent: KeyPath) -> list[str]:
    """The keys the model accepts at `parent`, found by walking its types."""
    current: Any = model
    for part in parent:
        current = _child_type(current, part)
        if current is None:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _child_type(annotation: Any, part: str | int) -> Any:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(part))
        return None if field is None else field.annotation
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin in (dict, Mapping) and len(args) == 2:
        return args[1]
    if origin in (list, tuple, Sequence) and args:
        return args[0]
    return None


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            models = [
                arg
                for arg in members
                if isinstance(arg, type) and issubclass(arg, BaseModel)
            ]
            annotation = (models or members)[0]
        else:
            return annotation
