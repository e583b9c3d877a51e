"""Comparing secrets in constant time, whatever characters a caller sends."""

from __future__ import annotations

import hmac


def same_secret(given: str | None, expected: str) -> bool:
    """`hmac.compare_digest` on UTF-8 bytes: on `str` it raises for non-ASCII text, and a
    header, a form field or a link can hold anything, which must answer 403, never 500."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())
