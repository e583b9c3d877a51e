"""Secrets never reach a log line, whether in the message, its arguments or a traceback."""

from __future__ import annotations

import logging

import pytest

from core.logs import REDACTED, SecretRegistry, install_redaction, secrets

LUMA_KEY = "secret-4fK9dQ2LmZpX7Wc1"
BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
GEMINI_KEY = "AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI"
UNLISTED = "plain-secret-value-42"


@pytest.fixture(autouse=True)
def _known_secret() -> None:
    install_redaction([UNLISTED])


def test_message_and_args_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.redaction")
    with caplog.at_level(logging.INFO):
        logger.info("linking with %s and %s", LUMA_KEY, BOT_TOKEN)
        logger.info("gemini=%s value=%s", GEMINI_KEY, UNLISTED)
        logger.info("headers %s", {"x-luma-api-key": "whatever-shape-it-has"})
    text = caplog.text
    for secret in (LUMA_KEY, BOT_TOKEN, GEMINI_KEY, UNLISTED, "whatever-shape-it-has"):
        assert secret not in text
    assert text.count(REDACTED) >= 5


def test_exception_text_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.redaction")
    with caplog.at_level(logging.ERROR):
        try:
            raise ValueError(f"Luma refused key {LUMA_KEY} for token {BOT_TOKEN}")
        except ValueError:
            logger.exception("call failed")
    formatted = "\n".join(
        logging.Formatter("%(message)s").format(record) for record in caplog.records
    )
    assert "ValueError" in formatted and "Luma refused key" in formatted
    assert LUMA_KEY not in formatted and BOT_TOKEN not in formatted
    assert LUMA_KEY not in caplog.text and BOT_TOKEN not in caplog.text


def test_decrypted_keys_are_registered(keybox, caplog: pytest.LogCaptureFixture) -> None:
    odd_key = "k3y-without-any-known-shape-9981"
    keybox.decrypt(keybox.encrypt(odd_key))
    with caplog.at_level(logging.INFO):
        logging.getLogger("tests.redaction").info("using %s", odd_key)
    assert odd_key not in caplog.text
    assert secrets.redact(f"x{odd_key}y") == f"x{REDACTED}y"


def test_junk_keys_do_not_grow_the_redaction_set_forever() -> None:
    """50,000 junk values (as a flood of /link attempts would add) keep the set at its
    capacity; the settings' secrets stay, and a value in use stays by being seen again."""
    registry = SecretRegistry(capacity=1000)
    registry.pin("settings-secret-value")
    registry.add("in-use-key-0000")
    for n in range(50_000):
        registry.add(f"junk-value-{n:06d}")
        if n % 500 == 0:
            registry.add("in-use-key-0000")  # decrypted again by the next activity
    assert len(registry) == 1 + 1000
    said = registry.redact("settings-secret-value in-use-key-0000 junk-value-049999")
    assert said == f"{REDACTED} {REDACTED} {REDACTED}"
    assert registry.redact("junk-value-000001") == "junk-value-000001"  # forgotten
