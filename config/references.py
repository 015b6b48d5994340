"""Names in the config that must refer to something defined elsewhere in it.

Checked on the document as read (after `${VAR}` expansion), alongside model
validation, so a misspelt source name in `reconcile.priority` is reported
together with every other problem of the file. Values of the wrong type are
skipped here: validation reports those.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path

from stockbridge.config.errors import ConfigProblem, KeyPath, LineIndex, line_of

__all__ = ["reference_problems"]


def reference_problems(
    data: object, *, file: Path, lines: LineIndex | None
) -> list[ConfigProblem]:
    """Every reference to an undefined source or channel, and repeated priorities."""
    check = _Checker(file, lines)
    sources = _keys(_at(data, "sources"))
    for mapped in _keys(_at(data, "mapping")):
        check.defined(("mapping", mapped), mapped, sources, "sources")
    for index, owner in _items(_at(data, "reconcile", "system_of_record")):
        path: KeyPath = ("reconcile", "system_of_record", index, "source")
        check.defined(path, _at(owner, "source"), sources, "sources")
    priority = _items(_at(data, "reconcile", "priority"))
    for index, name in priority:
        check.defined(("reconcile", "priority", index), name, sources, "sources")
        if name in [earlier for position, earlier in priority if position < index]:
            check.repeated(("reconcile", "priority", index), name)
    channels = _keys(_at(data, "alerts", "channels"))
    for index, rule in _items(_at(data, "alerts", "rules")):
        for position, channel in _items(_at(rule, "channels")):
            path = ("alerts", "rules", index, "channels", position)
            check.defined(path, channel, channels, "alerts.channels")
    return check.problems


class _Checker:
    def __init__(self, file: Path, lines: LineIndex | None) -> None:
        self.file = file
        self.lines = lines
        self.problems: list[ConfigProblem] = []

    def defined(
        self, path: KeyPath, name: object, defined: list[str], where: str
    ) -> None:
        if not isinstance(name, str) or name in defined:
            return
        close = difflib.get_close_matches(name, defined, n=1)
        listed = ", ".join(sorted(defined)) if defined else "none defined yet"
        self.add(
            path,
            expected=f"a name defined under {where} ({listed})",
            found=f"{name!r}",
            hint=f"Did you mean {close[0]!r}?" if close else "",
        )

    def repeated(self, path: KeyPath, name: object) -> None:
        self.add(path, expected="each source once", found=f"{name!r} again")

    def add(self, path: KeyPath, *, expected: str, found: str, hint: str = "") -> None:
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


def _at(data: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _keys(value: object) -> list[str]:
    return [str(key) for key in value] if isinstance(value, Mapping) else []


def _items(value: object) -> list[tuple[int, object]]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(enumerate(value))
    return []
