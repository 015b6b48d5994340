"""What every config model shares: typos are errors, secrets stay hidden.

`OpenModel` is for blocks whose kind-specific keys belong to someone else
(a connector's settings, an alert channel's): it validates the common keys
and keeps the rest in `options`, for their owner to validate, masking keys
that look like secrets whenever the model is printed or dumped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from stockbridge.config.masking import mask_mapping

__all__ = ["OpenModel", "StrictModel"]


class StrictModel(BaseModel):
    """Frozen; unknown keys are errors; inputs never echoed by pydantic itself."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,
        arbitrary_types_allowed=True,
    )


class OpenModel(StrictModel):
    """Declared keys validated here; every other key kept in `options`."""

    options: dict[str, Any] = Field(default_factory=dict, repr=False)
    """Kind-specific keys, as written (after `${VAR}` expansion)."""

    @model_validator(mode="before")
    @classmethod
    def _gather_options(cls, data: object) -> object:
        if not isinstance(data, Mapping):
            return data
        declared = set(cls.model_fields) - {"options"}
        return {
            **{key: value for key, value in data.items() if key in declared},
            "options": {
                str(key): value for key, value in data.items() if key not in declared
            },
        }

    @model_serializer(mode="wrap")
    def _flatten_options(self, handler: SerializerFunctionWrapHandler) -> object:
        data = handler(self)
        options = data.pop("options")
        return {**data, **mask_mapping(options)}

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield from super().__repr_args__()
        yield "options", mask_mapping(self.options)
