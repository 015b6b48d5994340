"""Keeping secrets out of everything the config prints.

Secrets in the models we own are `Secret` (a pydantic `SecretStr` that also
serialises masked), so neither repr, str, a dump nor `config check` shows them;
code that needs the value asks for it with `.get_secret_value()`. Kind-specific
source and alert keys are only typed later by their own models, so until then
they are masked by name, and credentials embedded in URLs and ODBC connection
strings are masked by shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated

from pydantic import PlainSerializer, SecretStr

__all__ = ["MASK", "Secret", "is_secret_key", "mask_mapping", "redact_text"]

MASK = "********"

Secret = Annotated[SecretStr, PlainSerializer(lambda _value: MASK, return_type=str)]
"""A secret value: never shown, not even by `model_dump`."""

# "key" only as a word's end or part (api_key, appKey, key_file), not "keyword".
_SECRET_KEY = re.compile(
    r"password|passwd|pwd|secret|token|credential|cookie|key(?:$|[_-])", re.I
)
# user:password@ in a URL, also a mistyped one ("postgresql//u:pw@h").
_URL_PASSWORD = re.compile(r"([^/@:\s]*):[^@/\s]*@")
_ODBC_PASSWORD = re.compile(
    r"\b((?:pwd|password|passwd)\s*=\s*)(\{[^}]*\}|[^;]*)", re.I
)
_QUERY_SECRET = re.compile(
    r"([?&](?:[^=&#\s]*(?:token|secret|sign|password|pwd)[^=&#\s]*|[^=&#\s]*key)=)"
    r"[^&#\s]*",
    re.I,
)


def is_secret_key(name: str) -> bool:
    """Whether a key's name says its value is a secret (password, app_secret, ...)."""
    return bool(_SECRET_KEY.search(name))


def redact_text(text: str) -> str:
    """Mask credentials written inside a URL or an ODBC connection string."""
    text = _URL_PASSWORD.sub(rf"\1:{MASK}@", text)
    text = _ODBC_PASSWORD.sub(rf"\g<1>{MASK}", text)
    return _QUERY_SECRET.sub(rf"\g<1>{MASK}", text)


def mask_mapping(data: Mapping[str, object]) -> dict[str, object]:
    """A copy of kind-specific settings fit to print: secret keys masked."""
    return {key: _mask(value, is_secret_key(str(key))) for key, value in data.items()}


def _mask(value: object, secret: bool) -> object:
    if isinstance(value, Mapping):
        return {k: _mask(v, secret or is_secret_key(str(k))) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(item, secret) for item in value]
    if secret and value is not None:
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    return value
