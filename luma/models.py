"""Typed views of Luma's responses: the published spec's shapes first, older ones tolerated.

Luma's published OpenAPI spec is the contract (`tests/contract/luma-openapi.json`). Each model
reads its fields by hand (`_pick`), spec name first: an older spelling (`api_id`, `email`, a
generation-1 wrapper such as `{"api_id", "event": {...}}`, a guest-level `checked_in_at`) is
looked up only when the spec's own field is absent. So a spec-shaped answer is never read
beyond what the spec defines — the contract tests record every key read and hold it to that —
while a legacy answer still parses. Unknown fields are ignored, and approval statuses Luma adds
later are kept as plain strings, so a new value on Luma's side never breaks a sync.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)

from luma.emails import email_domain


class ApprovalStatus(StrEnum):
    """The statuses Luma documents; guests may still carry others (kept as strings)."""

    APPROVED = "approved"
    SESSION = "session"
    PENDING_APPROVAL = "pending_approval"
    INVITED = "invited"
    DECLINED = "declined"
    WAITLIST = "waitlist"


# Guests who registered (invited rows, which can outnumber them many times, are not), and
# those let in: summaries and profiles count people by these two groups.
REGISTERED_STATUSES = (
    ApprovalStatus.APPROVED,
    ApprovalStatus.SESSION,
    ApprovalStatus.PENDING_APPROVAL,
    ApprovalStatus.WAITLIST,
    ApprovalStatus.DECLINED,
)
APPROVED_STATUSES = (ApprovalStatus.APPROVED, ApprovalStatus.SESSION)

# Validation context for `/v1/events/get` and `/v1/organizations/events/list`, whose events
# carry no `tags` (the entries of a calendar's list do).
SINGLE_EVENT = {"event_tags": False}

_MISSING: Any = object()
Layers = Sequence[Mapping[str, Any]]


def _pick(layers: Layers, *names: str, default: Any = None) -> Any:
    """The value of the first of `names` present in any layer (present even if null).

    The first name is the spec's; the others are older spellings, looked up only when the
    spec's field is absent."""
    for name in names:
        for layer in layers:
            if name in layer:
                return layer[name]
    return default


def _layers(data: Mapping[str, Any], wrapper: str) -> Layers:
    """The object itself, or a generation-1 `{"api_id", wrapper: {...}}` entry's inner object
    followed by the entry (only looked for when the flat `id` is absent)."""
    if "id" in data or wrapper not in data:
        return (data,)
    inner = data[wrapper]
    return (inner, data) if isinstance(inner, Mapping) else (data,)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _blank_is_none(value: Any) -> Any:
    return None if value == "" else value


def _utc(value: datetime | None) -> datetime | None:
    """Aware UTC always: naive timestamps are taken as UTC, offsets are converted."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Timestamp = Annotated[datetime | None, BeforeValidator(_blank_is_none), AfterValidator(_utc)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class LumaUser(_Model):
    """The owner of an API key (get-self)."""

    id: str
    email: str | None = None
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    avatar_url: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        layers = _layers(data, "user")
        fields = ("email", "name", "first_name", "last_name", "avatar_url")
        return {"id": _pick(layers, "id", "api_id"), **{f: _pick(layers, f) for f in fields}}


class LumaCalendar(_Model):
    """The calendar an API key belongs to (`/v1/calendars/get`): the tenant's identity."""

    id: str
    name: str = ""
    slug: str | None = None
    url: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        layers = (data,)
        return {"id": _pick(layers, "id", "api_id"), **_present(layers, "name", "slug", "url")}


class LumaWebhook(_Model):
    """A webhook endpoint of the key's calendar (`/v2/webhooks/create`, `/v1/webhooks/list`);
    `secret` is the `whsec_…` string that signs its deliveries."""

    id: str
    url: str
    event_types: tuple[str, ...] = ()
    status: str = "active"  # active | paused
    secret: str | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"


class LumaContactTag(_Model):
    """A tag on the calendar's contacts (`/v1/calendars/contact-tags/list`), not an event's."""

    id: str
    name: str
    color: str = ""


class LumaContactTags(_Model):
    """The contact-tag list: the spec gives it `has_more` but no cursor and no paging
    parameters, so it is read as one page (`LumaClient.list_contact_tags`)."""

    entries: list[LumaContactTag] = Field(default_factory=list)
    has_more: bool = False


class LumaCreated(_Model):
    """The answer to a create that names only the new object (`{"id": ...}`)."""

    id: str


class LumaTagApplied(_Model):
    """What applying a contact tag did: emails that are not the calendar's contacts are
    skipped (Luma never creates a contact here)."""

    applied_count: int
    skipped_count: int


def _present(layers: Layers, *names: str) -> dict[str, Any]:
    """The named fields that are there and not null, so model defaults apply to the rest."""
    found = {name: _pick(layers, name) for name in names}
    return {name: value for name, value in found.items() if value is not None}


class LumaTag(_Model):
    id: str | None = None
    name: str

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        layers = (data,)
        return {"id": _pick(layers, "id", "api_id"), "name": _pick(layers, "name")}


class LumaEvent(_Model):
    """One event; address parts come from `geo_address_json` when Luma has one.

    `raw` keeps the whole answer as Luma sent it (stored with the cached event)."""

    id: str
    name: str = ""
    start_at: Timestamp = None
    end_at: Timestamp = None
    created_at: Timestamp = None
    timezone: str | None = None
    url: str | None = None
    description: str | None = None
    cover_url: str | None = None
    meeting_url: str | None = None
    calendar_id: str | None = None
    visibility: str | None = None
    platform: str | None = None
    location_type: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    full_address: str | None = None
    tags: list[LumaTag] = Field(default_factory=list)
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, Mapping):
            return data
        layers = _layers(data, "event")
        platform = _pick(layers, "platform")
        fields: dict[str, Any] = {
            "id": _pick(layers, "id", "api_id"),
            "calendar_id": _pick(layers, "calendar_id", "calendar_api_id"),
            "platform": platform,
            **_present(layers, "name", "start_at", "end_at", "created_at", "timezone", "url"),
            "raw": data,
        }
        if platform != "external":  # events of other platforms carry only the fields above
            fields |= _present(
                layers, "description", "cover_url", "meeting_url", "visibility", "location_type"
            )
        geo = _pick(layers, "geo_address_json")
        if isinstance(geo, Mapping):
            fields |= _address((geo,))
        if (info.context or {}).get("event_tags", True):
            fields["tags"] = _pick(layers, "tags") or []
        return fields

    @property
    def tag_names(self) -> list[str]:
        return [tag.name for tag in self.tags]


def _address(geo: Layers) -> dict[str, Any]:
    address = {
        "city": _text(_pick(geo, "city")) or _text(_pick(geo, "city_state")),
        "region": _text(_pick(geo, "region")),
        "country": _text(_pick(geo, "country")),
        "full_address": _text(_pick(geo, "full_address")) or _text(_pick(geo, "address")),
    }
    return {name: value for name, value in address.items() if value}


class LumaTicket(_Model):
    """One ticket of a guest; `amount` is in the currency's minor unit (cents)."""

    id: str | None = None
    name: str | None = None
    amount: int = 0
    amount_discount: int = 0
    amount_tax: int = 0
    currency: str | None = None
    checked_in_at: Timestamp = None
    ticket_type_id: str | None = None
    is_captured: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        layers = (data,)
        # Luma sends null for free tickets' discounts and taxes: those keep the default 0.
        amounts = _present(layers, "amount", "amount_discount", "amount_tax")
        return {
            "id": _pick(layers, "id", "api_id"),
            "ticket_type_id": _pick(layers, "event_ticket_type_id", "event_ticket_type_api_id"),
            **{name: _pick(layers, name) for name in ("name", "currency", "checked_in_at")},
            "is_captured": _pick(layers, "is_captured"),
            **{name: int(value) for name, value in amounts.items()},
        }


class RegistrationAnswer(_Model):
    """An answer to a registration question.

    A `company` answer carries the company and, when the question asks for it, the job title
    (`answer_company`, `answer_job_title`; `value` is then `{company, job_title}`)."""

    label: str = ""
    question_id: str | None = None
    question_type: str | None = None
    answer: Any = None
    value: Any = None
    company: str | None = None
    job_title: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        layers = (data,)
        kind = _pick(layers, "question_type")
        fields = {
            "label": _pick(layers, "label") or "",
            "question_id": _pick(layers, "question_id"),
            "question_type": kind,
            "answer": _pick(layers, "answer"),
            "value": _pick(layers, "value"),
        }
        if kind == "company":
            parts = fields["value"] if isinstance(fields["value"], Mapping) else {}
            fields["company"] = (
                _text(_pick(layers, "answer_company"))
                or _text(fields["answer"])
                or _text(_pick((parts,), "company"))
            )
            fields["job_title"] = _text(_pick(layers, "answer_job_title")) or _text(
                _pick((parts,), "job_title")
            )
        return fields

    @property
    def text(self) -> str:
        """The answer as one line of text ("" when unanswered); a company answer's company."""
        if self.question_type == "company":
            return self.company or ""
        raw = self.answer if self.answer not in (None, "") else self.value
        if raw is None:
            return ""
        if isinstance(raw, bool):
            return "yes" if raw else "no"
        if isinstance(raw, list):
            return ", ".join(str(item) for item in raw if item not in (None, ""))
        return str(raw).strip()

    @property
    def full_text(self) -> str:
        """The whole answer: a company answer with its job title ("Acme, CTO")."""
        if self.question_type == "company":
            return ", ".join(part for part in (self.company, self.job_title) if part)
        return self.text


_COMPANY_LABEL = re.compile(r"\b(company|organi[sz]ation|employer|startup)\b", re.I)
_TITLE_LABEL = re.compile(r"\b(job\s*title|title|role|position|occupation)\b", re.I)


class LumaGuest(_Model):
    """One guest of one event, with the facts we derive from answers and tickets.

    Check-ins live on the tickets (`event_tickets[].checked_in_at`); a guest-level
    `checked_in_at` is read only from older answers that carry no `event_tickets`."""

    id: str
    user_id: str | None = None
    email: str = ""
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    approval_status: str = ""
    registered_at: Timestamp = None
    invited_at: Timestamp = None
    joined_at: Timestamp = None
    guest_checked_in_at: Timestamp = None
    phone_number: str | None = None
    utm_source: str | None = None
    registration_answers: list[RegistrationAnswer] = Field(default_factory=list)
    tickets: list[LumaTicket] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        layers = _layers(data, "guest")
        fields = {
            "id": _pick(layers, "id", "api_id"),
            "user_id": _pick(layers, "user_id", "user_api_id"),
            "email": _pick(layers, "user_email", "email") or "",
            "name": _pick(layers, "user_name", "name"),
            "first_name": _pick(layers, "user_first_name", "first_name"),
            "last_name": _pick(layers, "user_last_name", "last_name"),
            "approval_status": _pick(layers, "approval_status") or "",
            "registration_answers": _pick(layers, "registration_answers") or [],
        }
        for name in ("registered_at", "invited_at", "joined_at", "phone_number", "utm_source"):
            fields[name] = _pick(layers, name)
        tickets = _pick(layers, "event_tickets", default=_MISSING)
        if tickets is _MISSING:  # an older answer: one `event_ticket`, a guest-level check-in
            single = _pick(layers, "event_ticket")
            tickets = [single] if isinstance(single, Mapping) else []
            fields["guest_checked_in_at"] = _pick(layers, "checked_in_at")
        fields["tickets"] = tickets or []
        return fields

    @property
    def status(self) -> ApprovalStatus | None:
        """The status as a known enum member, or None for one Luma added later."""
        try:
            return ApprovalStatus(self.approval_status)
        except ValueError:
            return None

    @property
    def checked_in_at(self) -> datetime | None:
        """When the guest's first ticket was checked in (older answers: the guest's own)."""
        if self.guest_checked_in_at is not None:
            return self.guest_checked_in_at
        times = [t.checked_in_at for t in self.tickets if t.checked_in_at is not None]
        return min(times, default=None)

    @property
    def is_paid(self) -> bool:
        return any(ticket.amount > 0 for ticket in self.tickets)

    @property
    def email_domain(self) -> str:
        return email_domain(self.email)

    @property
    def company(self) -> str | None:
        return self._answer("company", _COMPANY_LABEL)

    @property
    def job_title(self) -> str | None:
        for item in self.registration_answers:
            if item.job_title:
                return item.job_title
        return self._answer(None, _TITLE_LABEL)

    @property
    def linkedin(self) -> str | None:
        for item in self.registration_answers:
            text = item.text
            if text and (item.question_type == "linkedin" or "linkedin" in item.label.lower()):
                return text
        return None

    def _answer(self, question_type: str | None, label: re.Pattern[str]) -> str | None:
        """First non-empty answer of that type, else of a question whose label matches."""
        answered = [item for item in self.registration_answers if item.text]
        for item in answered:
            if question_type and item.question_type == question_type:
                return item.text
        for item in answered:
            if label.search(item.label):
                return item.text
        return None


class LumaPerson(_Model):
    """A calendar contact (`/v1/calendars/contacts/list`); generation 1 nests the user."""

    id: str
    user_id: str | None = None
    email: str = ""
    name: str | None = None
    created_at: Timestamp = None
    event_approved_count: int | None = None
    event_checked_in_count: int | None = None
    tags: list[LumaTag] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        layers: Layers = (data,)
        user_id = _pick(layers, "user_id", "user_api_id")
        if "id" not in data and isinstance(user := data.get("user"), Mapping):
            layers = (data, user)  # generation 1: {"api_id", counts..., "user": {...}}
            user_id = _pick((user,), "id", "api_id")
        counts = ("created_at", "event_approved_count", "event_checked_in_count")
        return {
            "id": _pick(layers, "id", "api_id"),
            "user_id": user_id,
            "email": _pick(layers, "email") or "",
            "name": _pick(layers, "name"),
            **{name: _pick(layers, name) for name in counts},
            "tags": _pick(layers, "tags") or [],
        }


T = TypeVar("T", bound=BaseModel)


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` back to get the next."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    entries: list[T] = Field(default_factory=list)
    has_more: bool = False
    next_cursor: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        layers = (data,)
        return {
            "entries": _pick(layers, "entries") or [],
            "has_more": bool(_pick(layers, "has_more")),
            "next_cursor": _pick(layers, "next_cursor"),
        }
