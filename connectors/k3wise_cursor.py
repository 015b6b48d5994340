"""The movements cursor of `kind: k3wise`: an FInterID watermark and an audit time.

ICStockBill has no rowversion or modify time, but FInterID only grows. The
cursor is the highest FInterID whose entries are all committed, plus the
latest audit time (FCheckDate) a completed pull saw: the anchor of the
re-scan that catches old bills audited, or saved and moved, since. Saved as
JSON in the store, so it survives restarts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from stockbridge.connectors.errors import SourceConfigError

__all__ = ["MovementCursor"]


@dataclass(frozen=True, slots=True)
class MovementCursor:
    """Where a movements pull stands.

    `inter_id`: every bill up to this FInterID is committed. `checked_at`:
    the latest audit time (FCheckDate, naive local) of a completed pull, the
    anchor of the re-scan that catches old bills audited since; None until a
    pull has seen an audited bill.
    """

    inter_id: int
    checked_at: datetime | None

    def to_json(self) -> str:
        return json.dumps(
            {
                "inter_id": self.inter_id,
                "checked_at": None
                if self.checked_at is None
                else self.checked_at.isoformat(),
            }
        )

    @classmethod
    def from_json(cls, text: str, *, source: str) -> MovementCursor:
        try:
            inter_id, checked_at = _cursor_fields(text)
        except (ValueError, KeyError, TypeError) as exc:
            msg = (
                f"the saved movements cursor {text!r} is not one this connector "
                f"wrote ({exc}); run a full sync to start over"
            )
            raise SourceConfigError(msg, source=source, stream="movements") from None
        return cls(inter_id, checked_at)


def _cursor_fields(text: str) -> tuple[int, datetime | None]:
    data = json.loads(text)
    inter_id, checked = data["inter_id"], data["checked_at"]
    if type(inter_id) is not int:
        msg = f"inter_id {inter_id!r} is not an integer"
        raise ValueError(msg)
    return inter_id, None if checked is None else datetime.fromisoformat(str(checked))
