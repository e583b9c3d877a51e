"""Encryption of Luma keys at rest (Fernet, several keys for rotation).

The first configured key encrypts; every configured key decrypts. Rotation re-encrypts a
token with the first key, so an old key can be retired once `lumabot rotate-keys` has run.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core.logs import secrets


class UnreadableKeyError(RuntimeError):
    """A stored key cannot be decrypted with any configured encryption key."""

    def __init__(self) -> None:
        super().__init__(
            "A stored Luma key cannot be decrypted with the configured ENCRYPTION_KEYS; "
            "the key it was encrypted with is missing from the list."
        )


def fingerprint(secret: str) -> str:
    """What we ever show of a secret: its last four characters."""
    return "…" + secret[-4:]


class KeyBox:
    """Encrypts and decrypts secrets with the configured encryption keys."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("KeyBox needs at least one encryption key")
        self._primary = Fernet(keys[0].encode())
        self._all = MultiFernet([Fernet(key.encode()) for key in keys])

    def encrypt(self, plaintext: str) -> bytes:
        return self._primary.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            plaintext = self._all.decrypt(token).decode()
        except InvalidToken as exc:
            raise UnreadableKeyError() from exc
        secrets.add(plaintext)  # from now on, this process never logs it
        return plaintext

    def is_current(self, token: bytes) -> bool:
        """True when the token is already encrypted with the first (current) key."""
        try:
            self._primary.decrypt(token)
        except InvalidToken:
            return False
        return True

    def rotate(self, token: bytes) -> bytes:
        try:
            return self._all.rotate(token)
        except InvalidToken as exc:
            raise UnreadableKeyError() from exc
