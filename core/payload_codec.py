"""Encryption of every Temporal payload (AES-GCM), so histories hold no guest data in clear.

Workflow inputs, results, heartbeats, queries and failure messages carry guest emails, names,
follow-up bodies and digest text; anyone who reads the Temporal database or its UI would see
them. Every client and worker of the product uses `data_converter(keys)`, which encrypts each
payload before it leaves the process (after the samples-python `encryption/` codec).

Keys are the product's Fernet-format keys (TEMPORAL_PAYLOAD_KEYS, by default ENCRYPTION_KEYS):
an AES-256 key is derived from each with HKDF, so the same secret is never used raw by two
algorithms. The first key encrypts and names itself in the payload's metadata by a key id (a
hash, never the key); any listed key decrypts. Payloads without our encoding (histories
recorded before encryption, runs started by older code) pass through untouched.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
_CONTEXT = b"lumabot/temporal-payloads/v1"
_NONCE_BYTES = 12


class PayloadKeyError(ValueError):
    """An encrypted payload cannot be read with the configured keys."""


def _derive(key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_CONTEXT).derive(key.encode())


def _key_id(derived: bytes) -> str:
    return hashlib.sha256(_CONTEXT + b"/key-id" + derived).hexdigest()[:16]


class EncryptionCodec(PayloadCodec):
    """AES-GCM over the whole serialized payload (its metadata included); the first key
    encrypts, every key decrypts."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("EncryptionCodec needs at least one key")
        derived = [_derive(key) for key in keys]
        self._ciphers = {_key_id(secret): AESGCM(secret) for secret in derived}
        self.key_id = _key_id(derived[0])

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        cipher = self._ciphers[self.key_id]
        encoded = []
        for payload in payloads:
            nonce = os.urandom(_NONCE_BYTES)
            # The key id is authenticated too: a payload cannot be relabelled.
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), self.key_id.encode())
            encoded.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID: self.key_id.encode()},
                    data=nonce + sealed,
                )
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decode_one(payload) for payload in payloads]

    def _decode_one(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # not ours: plaintext from before encryption, or another codec's
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadKeyError(
                f"A Temporal payload is encrypted with key id {key_id!r}, which none of the "
                "configured TEMPORAL_PAYLOAD_KEYS (or ENCRYPTION_KEYS) has; add the old key back."
            )
        nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, key_id.encode())
        except InvalidTag:
            raise PayloadKeyError(
                f"A Temporal payload under key id {key_id!r} does not authenticate."
            ) from None
        return Payload.FromString(plain)


def data_converter(keys: Sequence[str]) -> DataConverter:
    """The converter of every Temporal client, worker and replayer of the product: JSON as
    before, then encrypted; failure messages and stack traces are encrypted too (they can
    quote an email)."""
    return dataclasses.replace(
        DataConverter.default,
        payload_codec=EncryptionCodec(keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
