"""Reading the YAML config file, remembering the line of every key.

Errors found later, by validation, can then point at a line. YAML's own
silent traps are made loud here: a key written twice (YAML keeps the last
one without a word), a file that is not there, a syntax error (with line and
column, but never the offending text, which may hold a password).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from stockbridge.config.errors import ConfigError, ConfigProblem, KeyPath

__all__ = ["read_yaml"]

_INIT_HINT = (
    "Run 'stockbridge init' to write a commented starter config there, "
    "or point --config (or STOCKBRIDGE_CONFIG) at your config file."
)


def read_yaml(file: Path) -> tuple[object, dict[KeyPath, int]]:
    """The document in `file` and the 1-based line of each key path in it.

    An empty file is an empty mapping. Raises `ConfigError`.
    """
    text = _read_text(file)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return {}, {}
        indexer = _Indexer(file)
        indexer.index(node, ())
        if indexer.duplicates:
            raise ConfigError(indexer.duplicates)
        data: object = loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        raise ConfigError([_syntax_problem(file, error)]) from None
    except yaml.YAMLError as error:
        problem = ConfigProblem(
            file=file, expected="valid YAML", found=f"an error: {error}"
        )
        raise ConfigError([problem]) from None
    finally:
        loader.dispose()
    return data, indexer.lines


def _read_text(file: Path) -> str:
    def fail(found: str, hint: str = "") -> ConfigError:
        return ConfigError(
            [
                ConfigProblem(
                    file=file, expected="a YAML config file", found=found, hint=hint
                )
            ]
        )

    try:
        return file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise fail(f"no file at {file.absolute()}", _INIT_HINT) from None
    except IsADirectoryError:
        raise fail("a directory") from None
    except PermissionError:
        raise fail("a file this user may not read") from None
    except UnicodeDecodeError as error:
        raise fail(
            f"bytes that are not UTF-8 at offset {error.start}",
            "Save the file as UTF-8.",
        ) from None


def _syntax_problem(file: Path, error: yaml.MarkedYAMLError) -> ConfigProblem:
    mark = error.problem_mark or error.context_mark
    what = error.problem or "a syntax error"
    if error.context:
        what = f"{what} ({error.context})"
    return ConfigProblem(
        file=file,
        expected="valid YAML",
        found=f"a syntax error: {what}",
        line=None if mark is None else mark.line + 1,
        column=None if mark is None else mark.column + 1,
        hint="Check the indentation and quoting on that line and the one before it.",
    )


class _Indexer:
    """Walks the node tree once, noting lines and duplicate keys."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.lines: dict[KeyPath, int] = {}
        self.duplicates: list[ConfigProblem] = []
        # An alias repeats a node already indexed; visiting it again could loop
        # (recursive anchors) or explode (nested aliases), and adds no lines.
        self.visited: set[int] = set()

    def index(self, node: yaml.Node, path: KeyPath) -> None:
        if id(node) in self.visited:
            return
        self.visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            self.index_mapping(node, path)
        elif isinstance(node, yaml.SequenceNode):
            for position, item in enumerate(node.value):
                self.lines[(*path, position)] = item.start_mark.line + 1
                self.index(item, (*path, position))

    def index_mapping(self, node: yaml.MappingNode, path: KeyPath) -> None:
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(
                ":merge"
            ):
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                self.duplicates.append(
                    ConfigProblem(
                        file=self.file,
                        key_path=(*path, key),
                        expected="each key once in a mapping",
                        found=f"it on lines {seen[key]} and {line}",
                        hint="YAML would silently keep only the last one.",
                        line=line,
                    )
                )
            seen[key] = line
            self.lines[(*path, key)] = line
            self.index(value_node, (*path, key))
