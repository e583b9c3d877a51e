"""Logging with redaction of secrets, applied to every record of every logger.

Redaction happens in the log record factory, so the message, its arguments, the exception
text and the stack text are cleaned before any handler (file, console, pytest's capture)
sees them. Known secrets (settings, decrypted Luma keys) are removed by value; anything that
merely looks like a token is removed by pattern.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
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


# -- what a line is about ----------------------------------------------------------------

# The org and chat an update or a request works for, set by the bot's tenant middleware (and
# the API's token check); a workflow's ids come from Temporal's activity and workflow context.
_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "lumabot_log_context", default=None
)
CONTEXT_FIELDS = ("org", "chat", "workflow_id", "run_id")


def bind_log_context(**fields: Any) -> contextvars.Token[dict[str, Any] | None]:
    """Add `fields` (org=, chat=) to every line logged from this task on; None values are
    left out. Returns the token for `reset_log_context`."""
    current = _context.get() or {}
    return _context.set({**current, **{k: v for k, v in fields.items() if v is not None}})


def reset_log_context(token: contextvars.Token[dict[str, Any] | None]) -> None:
    _context.reset(token)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    token = bind_log_context(**fields)
    try:
        yield
    finally:
        reset_log_context(token)


def current_log_context() -> dict[str, Any]:
    """The fields a line logged here would carry: bound ones, then Temporal's."""
    fields = dict(_context.get() or {})
    from temporalio import activity  # not at import time: core stays light

    if activity.in_activity():
        info = activity.info()
        fields.setdefault("workflow_id", info.workflow_id)
        fields.setdefault("run_id", info.workflow_run_id)
    return fields


class ContextFilter(logging.Filter):
    """Stamps each record with the context fields (run where the line is logged, in its task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = current_log_context()
        # A workflow's own logger (`workflow.logger`) hands its ids in `extra`.
        temporal = getattr(record, "temporal_workflow", None)
        if isinstance(temporal, dict):
            fields.setdefault("workflow_id", temporal.get("workflow_id"))
            fields.setdefault("run_id", temporal.get("run_id"))
        record.lumabot_context = {k: v for k, v in fields.items() if v is not None}
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the context fields, and the
    exception's text. Everything in it was redacted when the record was made."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        context = getattr(record, "lumabot_context", None)
        if context is None:  # a handler without the filter: read the context here
            context = current_log_context()
        for name in CONTEXT_FIELDS:
            if context.get(name) is not None:
                line[name] = context[name]
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The console format, with the context fields appended when there are any."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        context = getattr(record, "lumabot_context", None) or {}
        extra = " ".join(f"{k}={context[k]}" for k in CONTEXT_FIELDS if k in context)
        return f"{text} [{extra}]" if extra else text


def configure_logging(
    level: str = "INFO", extra_secrets: Iterable[str] = (), log_format: str = "text"
) -> None:
    """Console logging for our processes, with redaction installed first; `log_format` is
    "text" or "json" (one object a line)."""
    install_redaction(extra_secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in ("httpx", "httpcore", "aiosqlite", "temporalio.activity", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.WARNING))
