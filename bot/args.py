"""Reading command arguments: statuses, @domains, emails, times and time zones.

Each reader either returns a clean value or raises `UserError` with the sentence to show,
so every command answers bad input the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import UserError
from bot.texts import q, status_label
from catalog.status_words import status_word
from luma import InvalidEmailError, normalize_email
from store.profiles import BadTag, clean_tag

TARGETS = {"approve": "approved", "decline": "declined"}
_DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass
class Filters:
    """Words naming an event, followed by the guest filters written after them."""

    words: str
    statuses: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # ours, written #vip

    @property
    def empty(self) -> bool:
        return not (self.statuses or self.domains or self.emails or self.tags)

    def describe(self) -> str:
        parts = [status_label(s) for s in self.statuses]
        parts += [f"@{q(d, 60)}" for d in self.domains]
        parts += [q(e, 64) for e in self.emails]
        parts += [f"tagged {q(t, 32)}" for t in self.tags]
        return " · ".join(parts)


def email(raw: str) -> str:
    try:
        return normalize_email(raw)
    except InvalidEmailError as exc:
        raise UserError(q(exc.user_message, 300)) from None


def domain(raw: str) -> str:
    cleaned = raw.strip().lstrip("@").lower()
    if not _DOMAIN.match(cleaned):
        raise UserError(f"“{q(raw, 60)}” is not an email domain; write it like @acme.com.")
    return cleaned


def tag(raw: str) -> str:
    try:
        return clean_tag(raw)
    except BadTag:
        raise UserError(
            f"“{q(raw, 40)}” is not a tag I can use: one short word of lowercase letters, digits, "
            "- or _ that starts with a letter, e.g. <code>vip</code>, <code>early-bird</code>."
        ) from None


def status(word: str) -> str | None:
    return status_word(word)


def split_filters(text: str) -> Filters:
    """`Founders Dinner pending, waitlist @acme.com` → event words and the trailing filters.

    Filters may be separated by commas as well as spaces (`pending, waitlist`,
    `pending,waitlist`); a comma inside an event's name stays part of the name.
    """
    tokens = text.split()
    found = Filters(words="")
    while tokens:
        parts = [part for part in tokens[-1].split(",") if part]
        if not parts:  # a lone comma between filters
            if found.empty:
                break
            tokens.pop()
            continue
        read = _filters(parts)
        if read is None:
            break
        for kind, value in reversed(read):
            getattr(found, kind).insert(0, value)
        tokens.pop()
    found.words = " ".join(tokens)
    if not found.empty:
        found.words = found.words.rstrip(", ")
    return found


def _filters(parts: list[str]) -> list[tuple[str, str]] | None:
    """Every part of a comma-joined word read as a filter, or None if one is a name word."""
    read = []
    for part in parts:
        one = _filter(part)
        if one is None:
            return None
        read.append(one)
    return read


def _filter(token: str) -> tuple[str, str] | None:
    """Which list of `Filters` one word belongs to and its clean value; None for a name word."""
    if (known := status(token)) is not None:
        return "statuses", known
    if token.startswith("@"):
        return "domains", domain(token)
    if token.startswith("#") and token[1:2].isalpha():  # "#12" stays in a name
        return "tags", tag(token)
    if "@" in token:
        return "emails", email(token)
    return None


def target(word: str) -> str:
    chosen = TARGETS.get(word.strip().lower())
    if chosen is None:
        raise UserError(
            "Say <b>approve</b> or <b>decline</b> first, e.g. "
            "<code>/bulk approve Founders Dinner pending @acme.com</code>."
        )
    return chosen


def clock_time(raw: str) -> str:
    match = _HHMM.match(raw.strip())
    if match is None:
        raise UserError(f"“{q(raw, 20)}” is not a time of day; write it like 09:00.")
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def timezone(raw: str) -> str:
    name = raw.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UserError(
            f"“{q(name, 40)}” is not a time zone I know; use a name like Europe/Lisbon."
        ) from None
    return name
