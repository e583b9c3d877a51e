"""The one intent model both parsers produce and the bot executes.

An `Intent` is data, never an action: write intents (`set_status`, `bulk_status`) only say
what the organizer asked for; the bot shows what would change and waits for an explicit
confirmation before anything is written to Luma. The model is strict (unknown fields are
refused) so that a model reply carrying, say, `"confirmed": true` fails validation instead of
being quietly accepted.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)


class IntentName(StrEnum):
    LIST_EVENTS = "list_events"
    EVENT_SUMMARY = "event_summary"
    COUNT_GUESTS = "count_guests"
    LIST_GUESTS = "list_guests"
    FIND_GUEST = "find_guest"
    SET_STATUS = "set_status"
    BULK_STATUS = "bulk_status"
    EXPORT = "export"
    REPEAT_GUESTS = "repeat_guests"
    VIP_GUESTS = "vip_guests"
    TRENDS = "trends"
    SYNC = "sync"
    DIGEST = "digest"
    HELP = "help"
    UNKNOWN = "unknown"


class GuestStatus(StrEnum):
    """Luma's six approval statuses, spelled as the API spells them."""

    APPROVED = "approved"
    SESSION = "session"
    PENDING_APPROVAL = "pending_approval"
    INVITED = "invited"
    DECLINED = "declined"
    WAITLIST = "waitlist"


class TargetStatus(StrEnum):
    """The only statuses an organizer may move guests to through the bot."""

    APPROVED = "approved"
    DECLINED = "declined"


WRITE_INTENTS = frozenset({IntentName.SET_STATUS, IntentName.BULK_STATUS})

# Words organizers use for each status, longest and negated forms first so that
# "not yet approved" is read as pending before "approved" gets a chance. Each entry is a
# regular expression over normalized (lowercase, contraction-expanded) text.
STATUS_SYNONYMS: tuple[tuple[str, GuestStatus], ...] = (
    (r"(?:not|never) (?:been )?(?:yet )?approved(?: yet)?", GuestStatus.PENDING_APPROVAL),
    (
        r"(?:still )?(?:awaiting|waiting for|needing|needs|need) (?:an )?approval",
        GuestStatus.PENDING_APPROVAL,
    ),
    (r"pending(?: approvals?| requests?| review)?", GuestStatus.PENDING_APPROVAL),
    (r"should (?:i|we) (?:approve|accept|let in)", GuestStatus.PENDING_APPROVAL),
    (r"unapproved|to review|in review|requested", GuestStatus.PENDING_APPROVAL),
    (
        r"(?:on|in) the (?:wait ?list|waiting list)|wait ?list(?:ed)?|waiting list",
        GuestStatus.WAITLIST,
    ),
    (r"approved|accepted|confirmed", GuestStatus.APPROVED),
    (
        r"(?:did|have|had) (?:i|we|you|they) (?:already )?(?:approve|accept|admit)",
        GuestStatus.APPROVED,
    ),
    (
        r"(?:did|have|had) (?:i|we|you|they) (?:already )?(?:decline|reject|deny|nix|veto"
        r"|axe|ditch|say no to|turn down|thumbs down)",
        GuestStatus.DECLINED,
    ),
    (
        r"(?:did|have|had) (?:i|we|you|they) (?:already )?(?:green light|say yes to|sign off on"
        r"|thumbs up|let through|wave through|ok)(?!\w)|okayed"
        r"|(?:got|get|given|gave|give) (?:the|a) (?:green light|thumbs up|nod)"
        r"|said yes to|green lit",
        GuestStatus.APPROVED,
    ),
    (
        r"(?:who is|who are|people|guests|folks|are|is) (?:coming|going|attending)(?! (?:up|on)\b)",
        GuestStatus.APPROVED,
    ),
    (
        r"(?:did|have|had) (?:i|we|you|they) (?:already )?(?:kick|turn|boot|throw)"
        r"(?: \S+){0,3}? (?:out|away)",
        GuestStatus.DECLINED,
    ),
    (r"(?:got|get|were|was|been) let in", GuestStatus.APPROVED),
    (
        r"declined|rejected|denied|refused|turned down|turned away|kicked out|booted"
        r"|thrown out|nixed|vetoed|axed|ditched|said no to",
        GuestStatus.DECLINED,
    ),
    (r"invit(?:ed|ees?|es|ations?)(?: (?:went out|sent))?", GuestStatus.INVITED),
    (r"sessions?", GuestStatus.SESSION),
    (
        r"(?:anything|anyone|anybody|people|guests|someone|who|how many|what)(?: \S+){0,4}? "
        r"(?:left |still |waiting )?to (?:approve|review|accept|let in)",
        GuestStatus.PENDING_APPROVAL,
    ),
)

_FILTERS = frozenset({"event", "city", "date_from", "date_to", "status", "domain"})
# The slots each intent uses; anything else a parser found is dropped, so the bot never
# filters a write by a date it did not show, nor answers "help" with a city attached.
SLOTS_BY_INTENT: dict[IntentName, frozenset[str]] = {
    IntentName.LIST_EVENTS: frozenset({"city", "date_from", "date_to", "limit"}),
    IntentName.EVENT_SUMMARY: frozenset({"event", "city", "date_from", "date_to"}),
    IntentName.COUNT_GUESTS: _FILTERS,
    IntentName.LIST_GUESTS: _FILTERS | {"limit"},
    IntentName.FIND_GUEST: frozenset({"event", "email", "guest"}),
    IntentName.SET_STATUS: frozenset({"event", "email", "guest", "target_status"}),
    IntentName.BULK_STATUS: frozenset(
        {"event", "status", "domain", "limit", "target_status", "tag"}
    ),
    IntentName.EXPORT: _FILTERS,
    IntentName.REPEAT_GUESTS: frozenset({"event", "city", "status", "limit"}),
    IntentName.VIP_GUESTS: frozenset({"event", "city", "status", "limit"}),
    IntentName.TRENDS: frozenset({"group_by", "limit"}),  # "top 3 companies by attendance"
    IntentName.SYNC: frozenset({"event"}),
    IntentName.DIGEST: frozenset({"date_from", "date_to"}),
    IntentName.HELP: frozenset(),
    IntentName.UNKNOWN: frozenset(),
}

_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
_Domain = Annotated[
    str,
    BeforeValidator(lambda value: value.strip().lstrip("@") if isinstance(value, str) else value),
    StringConstraints(to_lower=True, pattern=r"^[a-z0-9-]+(\.[a-z0-9-]+)+$"),
]
_Tag = Annotated[
    str,
    BeforeValidator(lambda value: value.strip().lstrip("#") if isinstance(value, str) else value),
    StringConstraints(to_lower=True, pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$"),
]
_Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]

PUBLIC_FIELDS = (
    "intent",
    "event",
    "city",
    "date_from",
    "date_to",
    "status",
    "email",
    "domain",
    "target_status",
    "limit",
)


class Intent(BaseModel):
    """What the organizer asked for, with the slots the bot needs to answer it.

    `event` is the canonical name of a known event when one matched, else the words naming
    it as written. `status` is the filter on guests (the status they have now); for write
    intents `target_status` is the status they should move to. `guest` carries a guest's
    name when one was named without an email, and `tag` one of our own tags a bulk write is
    limited to ("approve all pending tagged vip"); neither is part of the CLI output.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    intent: IntentName
    event: _Text | None = None
    city: _Text | None = None
    date_from: date | None = None
    date_to: date | None = None
    status: GuestStatus | None = None
    email: _Email | None = None
    domain: _Domain | None = None
    target_status: TargetStatus | None = None
    limit: Annotated[int, Field(ge=1, le=10_000)] | None = None
    guest: _Text | None = None
    tag: _Tag | None = None
    # trends: what to group by (intel.trends.Dimension); not part of the CLI output.
    group_by: Literal["event", "city", "month", "domain", "company"] | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Intent:
        """Every value was validated; now clear the slots this intent does not use."""
        for name in type(self).model_fields.keys() - SLOTS_BY_INTENT[self.intent] - {"intent"}:
            object.__setattr__(self, name, None)  # frozen model: set once, while validating
        if self.is_write and self.target_status is None:
            raise ValueError("set_status and bulk_status need a target_status")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from is after date_to")
        return self

    @property
    def is_write(self) -> bool:
        """Write intents change guests in Luma, so the bot must confirm them first."""
        return self.intent in WRITE_INTENTS

    def public_dict(self) -> dict[str, Any]:
        """The CLI contract: exactly the documented keys, ISO dates, null for empty slots."""
        return self.model_dump(mode="json", include=set(PUBLIC_FIELDS))


HELP_EXAMPLES = (
    "Show me events in Dubai next month",
    "How many guests are approved for 'Summer Mixer'?",
    "Who is pending approval for the Lisbon workshop?",
    "What's the attendance status for the main conference?",
    "Is jane@acme.com registered for the founders dinner?",
    "Approve everyone pending from @acme.com for the founders dinner",
    "Export the waitlist for the winter gala",
    "Who are the repeat guests for the Lisbon workshop?",
    "Show VIPs pending approval",
    "Approve all pending tagged vip for the founders dinner",
    "Sync with Luma",
    "Send me today's digest",
    "Which email domains attend most?",
)


def help_examples() -> list[str]:
    """Phrasings the bot shows under /help; each one parses to a useful intent offline."""
    return list(HELP_EXAMPLES)
