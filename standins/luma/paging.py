"""Keyset pagination with opaque cursors.

A cursor holds the sort key of the last item served, not an offset, so a page boundary stays
put while guests change status between pages: every guest is returned exactly once even when a
filtered list shrinks under the caller.
"""

from __future__ import annotations

import base64
import json
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from standins.luma.model import ApiError

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    has_more: bool
    next_cursor: str | None


def encode_cursor(key: Sequence[Any]) -> str:
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, ...]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "Invalid pagination_cursor") from exc
    if not isinstance(key, list):
        raise ApiError(400, "Invalid pagination_cursor")
    return tuple(key)


def page_limit(raw: str | None) -> int:
    """Luma's default page size is 50; larger requests are capped rather than refused."""
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        number = float(raw)  # the spec's type is "number": "50.0" is a limit too
        limit = int(number)
    except (ValueError, OverflowError) as exc:
        raise ApiError(400, "pagination_limit must be a number") from exc
    if limit < 1:
        raise ApiError(400, "pagination_limit must be at least 1")
    return min(limit, MAX_LIMIT)


def paginate(
    keys: Sequence[tuple[Any, ...]],
    items: Sequence[T],
    cursor: str | None,
    limit: int,
    *,
    descending: bool = False,
) -> Page[T]:
    """One page of `items`, which are sorted ascending by the matching unique `keys`."""
    after = decode_cursor(cursor) if cursor else None
    try:
        if not descending:
            start = bisect_right(keys, after) if after is not None else 0
            end = min(start + limit, len(items))
            chosen = list(items[start:end])
            has_more = end < len(items)
            last = end - 1
        else:
            end = bisect_left(keys, after) if after is not None else len(items)
            start = max(end - limit, 0)
            chosen = list(reversed(items[start:end]))
            has_more = start > 0
            last = start
    except TypeError as exc:  # a cursor from another sort column
        raise ApiError(400, "pagination_cursor does not match this sort") from exc
    next_cursor = encode_cursor(keys[last]) if has_more else None
    return Page(items=chosen, has_more=has_more, next_cursor=next_cursor)
