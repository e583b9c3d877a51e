"""Request and response bodies (Base / Create / Update / Public), all timestamps aware UTC.

Inputs are bounded (lengths, counts, ranges) so that anything a client sends either fits the
database and Temporal or is refused here with a 422 naming the field.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from catalog.events import When
from catalog.guest_query import SortKey
from catalog.status_words import STATUS_WORDS, status_word
from core import defaults
from luma import ApprovalStatus


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{name!r} is not an IANA time zone such as Europe/Lisbon") from None
    return name


def _sane_day(day: date) -> date:
    if not 2000 <= day.year <= 2100:
        raise ValueError("dates must be within the years 2000 to 2100")
    return day


def _status_word(value: object) -> object:
    """The bot's words (`pending`, `waitlisted`…) name Luma's statuses here too."""
    if isinstance(value, str):
        return status_word(value) or value
    return value


TimeZone = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_known_zone)]
Day = Annotated[date, AfterValidator(_sane_day)]
ClockTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["09:00"])]
# Telegram chat ids fit in 52 bits; the bound keeps them inside the BIGINT column.
ChatId = Annotated[int, Field(ge=-(10**15), le=10**15)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
# A guest status as Luma names it or as the bot reads it (`pending` is `pending_approval`).
StatusWord = Annotated[
    ApprovalStatus,
    BeforeValidator(
        _status_word,
        json_schema_input_type=Literal.__getitem__(tuple(sorted(STATUS_WORDS))),
    ),
]
TargetStatus = Literal["approved", "declined"]
# Flags that decide whether Luma is written to must be real JSON booleans, never 0 or "no".
Flag = Annotated[bool, Field(strict=True)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- events ------------------------------------------------------------------------------


class EventQuery(_Input):
    when: When | None = Field(
        None, description="upcoming (from now on) or past (most recent first)"
    )
    city: ShortText | None = None
    date_from: Day | None = Field(None, alias="from", description="first day, inclusive")
    date_to: Day | None = Field(None, alias="to", description="last day, inclusive")
    timezone: TimeZone = Field("UTC", description="the zone `from` and `to` days are in")
    limit: int = Field(50, ge=1, le=200)


class EventPublic(BaseModel):
    id: str
    name: str
    start_at: datetime | None
    end_at: datetime | None
    timezone: str | None
    city: str | None
    country: str | None
    url: str | None
    guests_synced_at: datetime | None


class EventList(BaseModel):
    events: list[EventPublic]


class GuestCounts(BaseModel):
    by_status: dict[str, int]
    registered: int
    approved: int
    pending: int
    checked_in: int
    attendance_rate: float | None


class EventSummaryPublic(EventPublic):
    counts: GuestCounts


# --- guests ------------------------------------------------------------------------------


class GuestQueryBase(_Input):
    status: StatusWord | None = None
    domain: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    search: ShortText | None = Field(None, description="part of a name, an email or a company")
    sort: SortKey = "name"


class GuestListQuery(GuestQueryBase):
    limit: int = Field(50, ge=1, le=200)
    cursor: Annotated[str, Field(max_length=1000)] | None = Field(
        None, description="`next_cursor` of the previous page"
    )


class GuestPublic(BaseModel):
    id: str
    email: str
    name: str
    approval_status: str
    company: str | None
    job_title: str | None
    is_paid: bool
    registered_at: datetime | None
    checked_in_at: datetime | None


class GuestPagePublic(BaseModel):
    guests: list[GuestPublic]
    next_cursor: str | None
    total: int


class GuestStatusUpdate(_Input):
    status: TargetStatus
    should_refund: Flag | None = Field(
        None, description="required when declining a guest with a paid ticket"
    )


class GuestStatusPublic(BaseModel):
    email: str
    name: str
    before: str
    after: str
    changed: bool


# --- bulk --------------------------------------------------------------------------------


class BulkFilterBase(_Input):
    """Which guests; every given part must match, empty lists mean any."""

    statuses: list[StatusWord] = Field(default_factory=list, max_length=6)
    domains: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(
        default_factory=list, max_length=50
    )
    emails: list[Annotated[str, Field(min_length=1, max_length=320)]] = Field(
        default_factory=list, max_length=1000
    )
    answer_label: ShortText | None = Field(None, description="part of a registration question")
    answer_value: ShortText | None = Field(None, description="part of the answer to it")

    @model_validator(mode="after")
    def _value_needs_label(self) -> BulkFilterBase:
        if self.answer_label is not None and not self.answer_label.strip():
            raise ValueError("answer_label is blank: name the registration question to look at")
        if self.answer_value is not None and self.answer_label is None:
            raise ValueError("answer_value needs answer_label (which question to look at)")
        return self

    @property
    def empty(self) -> bool:
        return not (self.statuses or self.domains or self.emails or self.answer_label)


class BulkStatusCreate(_Input):
    target_status: TargetStatus
    filter: BulkFilterBase = Field(default_factory=BulkFilterBase)
    all: Flag = Field(
        False, description="every guest of the event: required, and only allowed, without a filter"
    )
    should_refund: Flag | None = Field(
        None, description="for declines: refund paid tickets (true) or not (false)"
    )
    dry_run: Flag = Field(False, description="only count and sample, from the cache")

    @model_validator(mode="after")
    def _filter_or_all(self) -> BulkStatusCreate:
        # As in the bot: a forgotten filter must not change a whole guest list.
        if self.filter.empty and not self.all:
            raise ValueError(
                "say which guests: give a filter (statuses, domains, emails or answer_label), "
                'or "all": true for every guest of the event'
            )
        if self.all and not self.filter.empty:
            raise ValueError('"all": true means every guest: leave the filter out, or drop "all"')
        return self


class BulkPreviewPublic(BaseModel):
    dry_run: Literal[True] = True
    matched: int
    to_change: int
    already: int
    needs_refund_choice: int
    unknown_emails: list[str]
    sample: list[GuestPublic]
    cache_synced_at: datetime | None


class BulkStarted(BaseModel):
    workflow_id: str
    already_running: bool
    web_url: str = Field(description="the job's page in the web portal")


# --- jobs and automations -----------------------------------------------------------------


class BulkProgressPublic(BaseModel):
    phase: str
    total: int
    done: int
    skipped: int
    failed: int
    eta_seconds: float | None


class JobPublic(BaseModel):
    workflow_id: str = Field(description="a workflow id, or a schedule id for schedules")
    kind: str
    action: str = Field(description='what the job does, in words ("Bulk status change")')
    status: str
    started_at: datetime | None
    event_id: str | None = None
    event_name: str | None = None
    requested_by: int | None = Field(default=None, description="Telegram user id")
    requested_by_name: str | None = None
    web_url: str = Field(description="the job's page in the web portal")


class JobDetail(JobPublic):
    progress: BulkProgressPublic | None = None


class JobList(BaseModel):
    jobs: list[JobPublic]


class WorkflowStarted(BaseModel):
    workflow_id: str
    web_url: str = Field(description="the job's page in the web portal")


class DigestBase(BaseModel):
    chat_id: ChatId
    enabled: Flag
    time: ClockTime = defaults.DIGEST_TIME
    timezone: TimeZone = "UTC"


class DigestUpdate(DigestBase, _Input):
    pass


class DigestPublic(DigestBase):
    chat_title: str


class DigestList(BaseModel):
    chats: list[DigestPublic]


# --- webhooks and health -----------------------------------------------------------------


class LumaWebhook(BaseModel):
    """Luma's payload, read leniently: unknown fields and types are ignored."""

    type: Annotated[str, Field(max_length=100)]
    data: dict[str, object] = Field(default_factory=dict)


class WebhookAccepted(BaseModel):
    accepted: bool
    workflow_id: str | None = None


class TelegramAccepted(BaseModel):
    ok: Literal[True] = True


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "down"]
    temporal: Literal["ok", "down"]
