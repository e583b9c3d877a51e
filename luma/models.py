"""Typed views of Luma's responses, tolerant of all three API generations.

Luma has renamed fields over time (`api_id` → `id`, `user_email` → `email`) and moved objects
out of wrappers (`{"api_id", "event": {...}}` → a flat event). Each model accepts every
spelling, ignores fields it does not know, and keeps approval statuses it does not know as
plain strings, so a new value on Luma's side never breaks a sync.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
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


def _blank_is_none(value: Any) -> Any:
    return None if value == "" else value


def _utc(value: datetime | None) -> datetime | None:
    """Aware UTC always: naive timestamps are taken as UTC, offsets are converted."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Timestamp = Annotated[datetime | None, BeforeValidator(_blank_is_none), AfterValidator(_utc)]


def _either(*names: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(*names))


def _unwrap(data: Any, key: str) -> Any:
    """Merge a generation-1 wrapper (`{"api_id", key: {...}, ...}`) into one flat dict."""
    if isinstance(data, dict) and isinstance(data.get(key), dict):
        outer = {name: value for name, value in data.items() if name != key}
        return {**data[key], **outer}
    return data


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class LumaUser(_Model):
    """The owner of an API key (get-self)."""

    id: str = Field(validation_alias=AliasChoices("id", "api_id"))
    email: str | None = None
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    avatar_url: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        return _unwrap(data, "user")


class LumaTag(_Model):
    id: str | None = _either("id", "api_id")
    name: str


class LumaEvent(_Model):
    """One event; address parts come from `geo_address_json` when Luma has one."""

    id: str = Field(validation_alias=AliasChoices("id", "api_id"))
    name: str = ""
    start_at: Timestamp = None
    end_at: Timestamp = None
    created_at: Timestamp = None
    timezone: str | None = None
    url: str | None = None
    description: str | None = None
    cover_url: str | None = None
    meeting_url: str | None = None
    calendar_id: str | None = _either("calendar_id", "calendar_api_id")
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
    def _flatten(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        flat = _unwrap(data, "event")
        geo = flat.get("geo_address_json") or flat.get("geo_address") or {}
        address = {
            "city": geo.get("city") or geo.get("city_state"),
            "region": geo.get("region"),
            "country": geo.get("country"),
            "full_address": geo.get("full_address") or geo.get("address"),
        }
        present = {name: value for name, value in address.items() if value}
        return {**present, **flat, "raw": data}

    @property
    def tag_names(self) -> list[str]:
        return [tag.name for tag in self.tags]


class LumaTicket(_Model):
    """One ticket of a guest; `amount` is in the currency's minor unit (cents)."""

    id: str | None = _either("id", "api_id")
    name: str | None = None
    amount: int = 0
    amount_discount: int = 0
    amount_tax: int = 0
    currency: str | None = None
    checked_in_at: Timestamp = None
    ticket_type_id: str | None = _either("event_ticket_type_id", "event_ticket_type_api_id")
    is_captured: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _amounts(cls, data: Any) -> Any:
        # Luma sends null for free tickets' discounts and taxes.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (k.startswith("amount") and v is None)}
        return data


class RegistrationAnswer(_Model):
    """An answer to a registration question; generation 2 adds `value`."""

    label: str = ""
    question_id: str | None = None
    question_type: str | None = None
    answer: Any = None
    value: Any = None

    @property
    def text(self) -> str:
        """The answer as one line of text ("" when unanswered)."""
        raw = self.answer if self.answer not in (None, "") else self.value
        if raw is None:
            return ""
        if isinstance(raw, bool):
            return "yes" if raw else "no"
        if isinstance(raw, list):
            return ", ".join(str(item) for item in raw if item not in (None, ""))
        return str(raw).strip()


_COMPANY_LABEL = re.compile(r"\b(company|organi[sz]ation|employer|startup)\b", re.I)
_TITLE_LABEL = re.compile(r"\b(job\s*title|title|role|position|occupation)\b", re.I)


class LumaGuest(_Model):
    """One guest of one event, with the facts we derive from answers and tickets."""

    id: str = Field(validation_alias=AliasChoices("id", "api_id"))
    user_id: str | None = _either("user_id", "user_api_id")
    email: str = Field(default="", validation_alias=AliasChoices("email", "user_email"))
    name: str | None = _either("name", "user_name")
    first_name: str | None = _either("first_name", "user_first_name")
    last_name: str | None = _either("last_name", "user_last_name")
    approval_status: str = ""
    registered_at: Timestamp = None
    invited_at: Timestamp = None
    joined_at: Timestamp = None
    guest_checked_in_at: Timestamp = Field(default=None, validation_alias="checked_in_at")
    phone_number: str | None = None
    utm_source: str | None = None
    custom_source: str | None = None
    registration_answers: list[RegistrationAnswer] = Field(default_factory=list)
    tickets: list[LumaTicket] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        flat = _unwrap(data, "guest")
        if not isinstance(flat, dict) or "tickets" in flat:
            return flat
        tickets = list(flat.get("event_tickets") or [])
        single = flat.get("event_ticket")
        if isinstance(single, dict):
            known = {t.get("id") or t.get("api_id") for t in tickets if isinstance(t, dict)}
            if (single.get("id") or single.get("api_id")) not in known:
                tickets.append(single)
        answers = flat.get("registration_answers") or []
        return {**flat, "tickets": tickets, "registration_answers": answers}

    @property
    def status(self) -> ApprovalStatus | None:
        """The status as a known enum member, or None for one Luma added later."""
        try:
            return ApprovalStatus(self.approval_status)
        except ValueError:
            return None

    @property
    def checked_in_at(self) -> datetime | None:
        """When the guest (or, failing that, the first of their tickets) was checked in."""
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
    """A calendar contact (list-people); generation 1 nests the user under `user`."""

    id: str = Field(validation_alias=AliasChoices("id", "api_id"))
    user_id: str | None = _either("user_id", "user_api_id")
    email: str = ""
    name: str | None = None
    created_at: Timestamp = None
    event_approved_count: int | None = None
    event_checked_in_count: int | None = None
    tags: list[LumaTag] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("user"), dict):
            user = data["user"]
            user_id = user.get("id") or user.get("api_id")
            rest = {name: value for name, value in data.items() if name != "user"}
            fields = {"email": user.get("email"), "name": user.get("name"), "user_id": user_id}
            return {**{k: v for k, v in fields.items() if v is not None}, **rest}
        return data


T = TypeVar("T", bound=BaseModel)


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` back to get the next."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    entries: list[T] = Field(default_factory=list)
    has_more: bool = False
    next_cursor: str | None = None
