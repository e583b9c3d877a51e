"""The Temporal payload codec: AES-GCM under the first key, any listed key decrypts."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from temporalio.api.common.v1 import Payload

from core.payload_codec import ENCODING, KEY_ID, EncryptionCodec, PayloadKeyError


def key() -> str:
    return Fernet.generate_key().decode()


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def test_round_trip_hides_data_and_metadata() -> None:
    codec = EncryptionCodec([key()])
    original = plain("ada@example.com")
    (sealed,) = await codec.encode([original])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID].decode() == codec.key_id
    assert b"ada@example.com" not in sealed.SerializeToString()
    assert b"json/plain" not in sealed.data  # the inner encoding is sealed too
    (opened,) = await codec.decode([sealed])
    assert opened == original
    (again,) = await codec.encode([original])
    assert again.data != sealed.data  # a fresh nonce every time


async def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    old, new = key(), key()
    (sealed_old,) = await EncryptionCodec([old]).encode([plain("x")])
    rotated = EncryptionCodec([new, old])
    assert rotated.key_id == EncryptionCodec([new]).key_id != EncryptionCodec([old]).key_id
    assert await rotated.decode([sealed_old]) == [plain("x")]
    with pytest.raises(PayloadKeyError, match="add the old key back"):
        await EncryptionCodec([new]).decode([sealed_old])


async def test_tampering_and_relabelling_are_refused() -> None:
    first, second = key(), key()
    codec = EncryptionCodec([first, second])
    (sealed,) = await codec.encode([plain("x")])
    flipped = Payload()
    flipped.CopyFrom(sealed)
    flipped.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(PayloadKeyError, match="does not authenticate"):
        await codec.decode([flipped])
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata[KEY_ID] = EncryptionCodec([second]).key_id.encode()
    with pytest.raises(PayloadKeyError, match="does not authenticate"):
        await codec.decode([relabelled])


async def test_payloads_without_our_encoding_pass_through() -> None:
    """Histories and runs from before encryption keep decoding."""
    codec = EncryptionCodec([key()])
    legacy = [plain("from before"), Payload(metadata={"encoding": b"binary/null"})]
    assert await codec.decode(legacy) == legacy


def test_a_codec_needs_a_key() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        EncryptionCodec([])
