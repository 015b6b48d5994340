"""Fitting a message into a chat tool's size limit without breaking it.

Limits are in UTF-8 bytes (WeCom: 4096 for markdown, Feishu: 20 KB a
request); a Chinese character is three bytes, so cutting by characters
overshoots and cutting bytes blindly splits a character, which the tool
then rejects or shows as garbage. A digest drops whole items first and says
how many it left out; only a single oversized item is cut, at a character
boundary, with a visible marker.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["fit_item_count", "truncate_utf8"]

ELLIPSIS = "…"


def truncate_utf8(text: str, max_bytes: int, marker: str = ELLIPSIS) -> str:
    """`text` cut to at most `max_bytes` UTF-8 bytes on a character boundary."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    room = max(0, max_bytes - len(marker.encode("utf-8")))
    # A prefix of valid UTF-8 can only end in a partial character: "ignore"
    # drops exactly that tail and nothing else.
    return data[:room].decode("utf-8", errors="ignore") + marker


def fit_item_count(size_of: Callable[[int], int], total: int, max_bytes: int) -> int:
    """How many of `total` items fit: the largest n with size_of(n) <= max_bytes.

    `size_of(n)` is the size of the message showing the first n items (and,
    when n < total, a line saying how many are left out). At least one item
    is always shown; the caller truncates it if even that is too big.
    """
    shown = total
    while shown > 1 and size_of(shown) > max_bytes:
        shown -= 1
    return shown
