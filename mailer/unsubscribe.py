"""Signed unsubscribe tokens: the link in every follow-up names the org and the person.

The token is `<payload>.<mac>`, both url-safe base64: the payload is `org_id:normalized email`
and the MAC an HMAC-SHA256 under a key derived from the first of ENCRYPTION_KEYS (any of them
verifies, so rotating keys keeps old links working). Nothing is stored per link, and a link
cannot be forged for another person or another org.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

from core.settings import Settings

_CONTEXT = b"lumabot/unsubscribe/v1"
_MAC_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Unsubscriber:
    org_id: int
    normalized_email: str


class UnsubscribeSigner:
    """Signs and checks unsubscribe tokens; the keys are read only when first needed."""

    def __init__(self, keys: Callable[[], Sequence[str]]) -> None:
        self._keys = keys

    @classmethod
    def from_settings(cls, settings: Settings) -> UnsubscribeSigner:
        return cls(settings.resolved_encryption_keys)

    @cached_property
    def _macs(self) -> list[bytes]:
        return [hashlib.sha256(_CONTEXT + key.encode()).digest() for key in self._keys()]

    def _mac(self, key: bytes, payload: bytes) -> bytes:
        return hmac.new(key, _CONTEXT + payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def sign(self, org_id: int, normalized_email: str) -> str:
        payload = f"{org_id}:{normalized_email}".encode()
        return f"{_b64(payload)}.{_b64(self._mac(self._macs[0], payload))}"

    def verify(self, token: str) -> Unsubscriber | None:
        """Who the token unsubscribes, or None for anything forged, cut or garbled."""
        encoded, _, mac_text = token.partition(".")
        try:
            payload, mac = _unb64(encoded), _unb64(mac_text)
        except (binascii.Error, ValueError):
            return None
        if not any(hmac.compare_digest(mac, self._mac(key, payload)) for key in self._macs):
            return None
        org_text, _, email = payload.decode(errors="replace").partition(":")
        if not org_text.isdigit() or "@" not in email:
            return None
        return Unsubscriber(int(org_text), email)
