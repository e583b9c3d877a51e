"""What a parser needs to know besides the text: when and where "now" is, and the org's events.

Relative dates ("tomorrow", "next month") only make sense in the chat's time zone, and event
and city names are matched against the org's cached events instead of being guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from nlp.followup import PreviousTurn


class KnownEvent(NamedTuple):
    """One event from the org's cache: (name, city, start_at)."""

    name: str
    city: str | None = None
    start_at: datetime | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> KnownEvent:
        """Build from `{"name", "city", "start_at"}` as in the CLI's `--events-file`."""
        start_at = data.get("start_at")
        return cls(
            name=str(data["name"]),
            city=data.get("city") or None,
            start_at=datetime.fromisoformat(start_at) if start_at else None,
        )


@dataclass(frozen=True)
class ParseContext:
    """`now` must be timezone-aware; `timezone` is the chat's IANA zone name; `previous` is
    what the bot last answered this person in this chat, while remembered (`nlp.followup`)."""

    now: datetime
    timezone: str = "UTC"
    events: tuple[KnownEvent, ...] = field(default=())
    previous: PreviousTurn | None = None

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("ParseContext.now must be timezone-aware")
        ZoneInfo(self.timezone)  # fail early on a misspelled zone

    @classmethod
    def build(
        cls,
        now: datetime,
        timezone: str = "UTC",
        events: Iterable[KnownEvent] = (),
        previous: PreviousTurn | None = None,
    ) -> ParseContext:
        return cls(now=now, timezone=timezone, events=tuple(events), previous=previous)

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(ZoneInfo(self.timezone))

    @property
    def today(self) -> date:
        """Today in the chat's time zone, the base for every relative date."""
        return self.local_now.date()

    @property
    def cities(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(event.city for event in self.events if event.city))
