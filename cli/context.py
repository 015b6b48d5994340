"""What the global options hand to every command."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

__all__ = ["CliState", "state"]


@dataclass(frozen=True)
class CliState:
    config_path: Path


def state(ctx: typer.Context) -> CliState:
    """The global options of this invocation."""
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):
        msg = "stockbridge CLI state missing: commands must run under the main app"
        raise TypeError(msg)
    return obj
