"""The movements cursor of `kind: mes_rest`: the last committed row per listing.

A position is the row's cursor-field value (as the MES wrote it, and as a
UTC instant so a change of `cursor_format` cannot misread it) and its key
(the document/line ids). A fan-out keeps one position per listing, so a
run stopped in the middle of factory 3000 resumes 1000 and 2000 where they
ended and 3000 where it stopped. Positions only move forward: the
look-back re-read never pulls a cursor back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from stockbridge.connectors.errors import SourceConfigError

__all__ = ["MovementCursor", "Position"]


@dataclass(frozen=True, slots=True)
class Position:
    """Where a listing was read up to: entry instant (UTC), then key."""

    at: datetime
    key: tuple[str, ...]
    value: str


@dataclass(frozen=True, slots=True)
class MovementCursor:
    """Positions by listing label ('' without a fan-out)."""

    positions: Mapping[str, Position]

    def advanced(self, label: str, position: Position) -> MovementCursor:
        """This cursor with `label` moved to `position`, if that is further on."""
        current = self.positions.get(label)
        if current is not None and (position.at, position.key) <= (
            current.at,
            current.key,
        ):
            return self
        return MovementCursor({**self.positions, label: position})

    def to_json(self) -> str:
        return json.dumps(
            {
                "positions": {
                    label: {
                        "value": position.value,
                        "key": list(position.key),
                        "at": position.at.isoformat(),
                    }
                    for label, position in sorted(self.positions.items())
                }
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str, *, source: str) -> MovementCursor:
        try:
            data = json.loads(text)
            positions = {
                str(label): Position(
                    at=_aware(datetime.fromisoformat(item["at"])),
                    key=tuple(str(part) for part in item["key"]),
                    value=str(item["value"]),
                )
                for label, item in data["positions"].items()
            }
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            msg = (
                f"the saved movements cursor {text[:200]!r} is not one this connector "
                f"wrote ({exc}); run a full sync to start over"
            )
            raise SourceConfigError(msg, source=source, stream="movements") from None
        return cls(positions)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        msg = f"{moment.isoformat()} has no offset"
        raise ValueError(msg)
    return moment
