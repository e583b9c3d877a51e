"""Checking a Luma webhook's signature.

Luma publishes no scheme; the one several independent integrations verify (see
`luma-api.md`) is `webhook-signature: t=<unix>,v1=<hex>` where `v1` is the hex
HMAC-SHA256 of `"<t>.<raw body>"` keyed with the webhook's `whsec_…` secret string as is (not
Standard Webhooks, which signs `id.ts.body` in base64 with a decoded key). A signature is
good within `TOLERANCE_SECONDS` of its `t`, either way, and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "webhook-signature"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
TOLERANCE_SECONDS = 300
MAX_HEADER = 1024


class BadSignature(ValueError):
    """The signature is malformed, wrong, or outside the tolerance; the message says which
    (never anything secret)."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value Luma would send for `body` at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, now: float) -> int:
    """The signed timestamp when `header` signs `body` with `secret` and is fresh at `now`;
    raises `BadSignature` otherwise. Several `v1=` values (a secret being rolled) are each
    tried."""
    if len(header) > MAX_HEADER:
        raise BadSignature("the signature header is too long")
    timestamp: int | None = None
    candidates: list[bytes] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value.lower().encode())
    if timestamp is None or not candidates:
        raise BadSignature("the signature header is not t=<unix>,v1=<hex>")
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise BadSignature("the signature is too old (or from the future)")
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected.encode(), candidate)
    if not matched:
        raise BadSignature("the signature does not match")
    return timestamp
