"""The one entry point the bot uses: Gemini when configured and within quota, else offline.

The offline parser is always there to answer, so a missing key, an outage, a slow reply, a
429, an invalid or unsafe reply and a spent daily quota all end in a usable intent. The
same message from the same org within a minute is answered from a small in-process cache
(people resend; Gemini calls cost quota). A message is then read against the previous turn
(`ParseContext.previous`, `nlp.followup`), whichever parser answered: Gemini sees that turn in
its prompt, and the offline parser's reading of "and the waitlisted ones?" is completed here.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Generic, Literal, TypeVar

from core.metrics import gemini_called, gemini_skipped
from nlp.context import ParseContext
from nlp.followup import FollowUp, follow_up
from nlp.gemini import FallbackReason, GeminiFailure, GeminiParser
from nlp.intent import Intent
from nlp.offline import OfflineParser
from nlp.quota import CallQuota, quota_day
from nlp.translation import Answer

log = logging.getLogger(__name__)

Source = Literal["gemini", "offline", "cache"]
V = TypeVar("V")


@dataclass(frozen=True)
class ParseResult:
    """`intent` is read against the previous turn; `followup` says what it took from it."""

    intent: Intent
    source: Source
    fallback_reason: FallbackReason | None = None
    followup: FollowUp | None = None
    language: str | None = None  # answer in it (Gemini read it); None is English


class ResponseCache(Generic[V]):
    """A bounded LRU of recent results that expire after `ttl` seconds."""

    def __init__(
        self,
        *,
        ttl: float = 60.0,
        max_entries: int = 512,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl, self._max, self._clock = ttl, max_entries, clock
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()

    def get(self, key: Hashable) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored_at, value = entry
        if self._clock() - stored_at > self._ttl:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: Hashable, value: V) -> None:
        self._entries[key] = (self._clock(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)


@dataclass(frozen=True)
class _Translated:
    """A cached translation outcome: None is "keep the English" (it was unfaithful)."""

    translated: Answer | None


class IntentParser:
    """Parses organizer messages into intents; never performs or confirms a write itself."""

    def __init__(
        self,
        gemini: GeminiParser | None = None,
        quota: CallQuota | None = None,
        *,
        offline: OfflineParser | None = None,
        cache: ResponseCache[tuple[Intent, str | None]] | None = None,
    ) -> None:
        self._gemini = gemini
        self._quota = quota
        self._offline = offline or OfflineParser()
        self._cache = cache or ResponseCache()
        self._translations: ResponseCache[_Translated] = ResponseCache(ttl=3600.0)

    @property
    def calls_out(self) -> bool:
        """Whether reading a message may wait on Gemini (seconds, at worst)."""
        return self._gemini is not None

    async def parse(
        self, text: str, ctx: ParseContext, *, org_id: int | None = None
    ) -> ParseResult:
        """The intent in `text`. Without `org_id` no quota is counted (CLI, tests)."""
        key = _cache_key(text, ctx, org_id)
        if (cached := self._cache.get(key)) is not None:
            intent, language = cached
            return _followed(text, ctx, ParseResult(intent, "cache", language=language))
        result = await self._parse(text, ctx, org_id)
        self._cache.put(key, (result.intent, result.language))
        return _followed(text, ctx, result)

    async def translate(
        self,
        answer: Answer,
        language: str,
        *,
        org_id: int | None = None,
        names: Sequence[str] = (),
    ) -> Answer | None:
        """`answer` in `language`, or None (send it in English): no Gemini, quota spent, or
        no faithful translation. Outcomes are cached an hour per process, whichever org asked
        (one call for the same answer in the same language; an unfaithful one is not asked
        for again); each call counts against the asking org's quota."""
        if self._gemini is None:
            return None
        key = ("translation", language, answer, tuple(names))
        if (cached := self._translations.get(key)) is not None:
            return cached.translated
        if not await self._allowed(org_id):
            gemini_skipped(FallbackReason.QUOTA)
            return None
        translated: Answer | None = None
        try:
            translated = await self._gemini.translate(answer, language, names=names)
        except GeminiFailure as failure:
            gemini_called("translate", failure.reason)
            log.info("Answer left in English: %s", failure)
            if failure.reason not in (FallbackReason.UNFAITHFUL, FallbackReason.INVALID):
                return None  # an outage or a 429 may pass: ask again next time
        else:
            gemini_called("translate")
        self._translations.put(key, _Translated(translated))
        return translated

    async def aclose(self) -> None:
        """Release Gemini's HTTP connections."""
        if self._gemini is not None:
            await self._gemini.aclose()

    async def _parse(self, text: str, ctx: ParseContext, org_id: int | None) -> ParseResult:
        if self._gemini is None:
            return ParseResult(self._offline.parse(text, ctx), "offline")
        if not await self._allowed(org_id):
            gemini_skipped(FallbackReason.QUOTA)
            return self._fallback(text, ctx, FallbackReason.QUOTA)
        try:
            reading = await self._gemini.parse(text, ctx)
        except GeminiFailure as failure:
            gemini_called("parse", failure.reason)
            log.info("Gemini parse fell back to offline: %s", failure)
            return self._fallback(text, ctx, failure.reason)
        gemini_called("parse")
        return ParseResult(reading.intent, "gemini", language=reading.language)

    async def _allowed(self, org_id: int | None) -> bool:
        if self._quota is None or org_id is None:
            return True
        return await self._quota.try_consume(org_id, day=quota_day())

    def _fallback(self, text: str, ctx: ParseContext, reason: FallbackReason) -> ParseResult:
        return ParseResult(self._offline.parse(text, ctx), "offline", reason)


def _followed(text: str, ctx: ParseContext, result: ParseResult) -> ParseResult:
    followup = follow_up(text, result.intent, ctx)
    return replace(result, intent=followup.intent, followup=followup)


def _cache_key(text: str, ctx: ParseContext, org_id: int | None) -> Hashable:
    """Same org, same words (ignoring case and spacing), same local day, zone and events, and
    the same previous turn (Gemini reads "approve them" with it)."""
    normalized = " ".join(text.casefold().split())
    return (org_id, normalized, ctx.today, ctx.timezone, ctx.events, ctx.previous)
