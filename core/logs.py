"""Logging with redaction of secrets, applied to every record of every logger.

Redaction happens in the log record factory, so the message, its arguments, the exception
text and the stack text are cleaned before any handler (file, console, pytest's capture)
sees them. Known secrets (settings, decrypted Luma keys) are removed by value; anything that
merely looks like a token is removed by pattern.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, cast

REDACTED = "[REDACTED]"

# Shapes of secrets we may meet without knowing their value in advance.
SECRET_PATTERNS = [
    re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}\b"),  # Telegram bot token
    re.compile(r"\bAIza[0-9A-Za-z_-]{30,}\b"),  # Google / Gemini API key
    re.compile(r"\bsecret-[A-Za-z0-9_-]{8,}\b"),  # Luma API key
    re.compile(r"(?i)(x-luma-api-key['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"),
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?bearer\s+)[^\s'\",}]+"),
]
_MIN_SECRET_LENGTH = 8


class SecretRegistry:
    """Process-wide secret values to scrub from logs (thread-safe), kept bounded.

    Settings' secrets are pinned. Values met at run time (keys people send, decrypted keys,
    API tokens in use) are kept most-recently-seen first up to `capacity`: junk sent to /link
    or /enrich would otherwise grow the set, and every log record's cost with it, forever. A
    value seen again moves to the front, so keys in use stay; one forgotten still meets the
    shape patterns. The values are matched with one compiled pattern, rebuilt on change.
    """

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._pinned: set[str] = set()
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._pattern: re.Pattern[str] | None = None
        self._dirty = False

    def __len__(self) -> int:
        return len(self._pinned) + len(self._recent)

    def pin(self, *values: str | None) -> None:
        """Secrets that never leave the set (the settings')."""
        fresh = {value for value in values if value and len(value) >= _MIN_SECRET_LENGTH}
        with self._lock:
            if fresh - self._pinned:
                self._pinned |= fresh
                self._dirty = True

    def add(self, *values: str | None) -> None:
        with self._lock:
            for value in values:
                if not value or len(value) < _MIN_SECRET_LENGTH or value in self._pinned:
                    continue
                if value in self._recent:
                    self._recent.move_to_end(value)
                    continue
                self._recent[value] = None
                self._dirty = True
                while len(self._recent) > self.capacity:
                    self._recent.popitem(last=False)

    def _compiled(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._dirty:
                values = sorted({*self._pinned, *self._recent}, key=len, reverse=True)
                # Longest first, so a secret that contains another is removed whole.
                self._pattern = re.compile("|".join(map(re.escape, values))) if values else None
                self._dirty = False
            return self._pattern

    def redact(self, text: str) -> str:
        known = self._compiled()
        if known is not None:
            text = known.sub(REDACTED, text)
        for pattern in SECRET_PATTERNS:
            text = pattern.sub(
                lambda match: (match.group(1) if match.groups() else "") + REDACTED, text
            )
        return text


secrets = SecretRegistry()


def redact(text: str) -> str:
    """Scrub every known and every look-alike secret from `text`."""
    return secrets.redact(text)


class _RedactingFactory:
    """The record factory `base`, redacting what it makes; `_lumabot_redacting` marks it."""

    _lumabot_redacting = True

    def __init__(self, base: Callable[..., logging.LogRecord]) -> None:
        self._base = base

    def __call__(self, *args: object, **kwargs: object) -> logging.LogRecord:
        record = self._base(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)))
            # The formatter only renders exc_info when exc_text is empty; keep the type for
            # filters but drop the live exception so no handler can re-render its raw text.
            # (typeshed allows only a whole `sys.exc_info()` triple here, hence the cast.)
            record.exc_info = cast(Any, (record.exc_info[0], None, None))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record


def install_redaction(extra_secrets: Iterable[str] = ()) -> None:
    """Make every log record redacted from now on; safe to call more than once."""
    secrets.pin(*extra_secrets)
    current = logging.getLogRecordFactory()
    if not getattr(current, "_lumabot_redacting", False):
        logging.setLogRecordFactory(_RedactingFactory(current))


def configure_logging(level: str = "INFO", extra_secrets: Iterable[str] = ()) -> None:
    """Console logging for our processes, with redaction installed first."""
    install_redaction(extra_secrets)
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        force=True,
    )
    for noisy in ("httpx", "httpcore", "aiosqlite", "temporalio.activity", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.WARNING))
