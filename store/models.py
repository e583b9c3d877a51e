"""The product's data model.

An organization is one Luma calendar (one Luma key). Every tenant-owned row carries
`org_id`, and the repositories in `store.repo` always filter on it. Timestamps are
timezone-aware (UTC) on every backend.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core import defaults


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware timestamps that stay aware on SQLite, which stores naive values."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC timestamps")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Organization(Base):
    """A Luma calendar we hold a key for; the unit of tenancy."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    luma_calendar_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    key_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    key_fingerprint: Mapped[str] = mapped_column(String(8))
    key_kind: Mapped[str] = mapped_column(String(16), default="calendar")
    key_verified_at: Mapped[datetime | None]
    webhook_token: Mapped[str] = mapped_column(String(64), unique=True)
    # The webhook registered with Luma for this calendar (`/v2/webhooks/create`): its id, its
    # signing secret (encrypted like the key), and "active", or "refused" where Luma would
    # not make one (no Luma Plus: the scheduled sync carries on alone); None: never tried.
    luma_webhook_id: Mapped[str | None] = mapped_column(String(64))
    webhook_secret_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    webhook_status: Mapped[str | None] = mapped_column(String(16))
    sync_interval_minutes: Mapped[int] = mapped_column(
        Integer, default=defaults.SYNC_INTERVAL_MINUTES
    )
    plan: Mapped[str] = mapped_column(String(32), default="free")
    last_synced_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    """A Telegram user; their powers come from memberships."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    username: Mapped[str | None] = mapped_column(String(64), index=True)
    full_name: Mapped[str] = mapped_column(String(255), default="")
    active_org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Membership(Base):
    """A user's role in one organization."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("org_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            native_enum=False,
            length=16,
            values_callable=lambda roles: [r.value for r in roles],
        )
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RemovedMember(Base):
    """Someone an admin took out of the org: a group's Telegram administrators may approve
    guests there, but not one the org removed (re-adding them clears this)."""

    __tablename__ = "removed_members"

    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    removed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Chat(Base):
    """A Telegram group or DM, linked to at most one organization."""

    __tablename__ = "chats"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))  # private | group | supergroup | channel
    title: Mapped[str] = mapped_column(String(255), default="")
    org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    linked_by_user_id: Mapped[int | None] = mapped_column(BigInteger)
    linked_at: Mapped[datetime | None]
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # A group shows guest lists and details to people who are not org members only when an
    # org admin has said so (/privacy); members always see them.
    personal_data: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AutomationSettings(Base):
    """Per-chat automation choices: the daily digest and post-event summaries."""

    __tablename__ = "automation_settings"

    chat_id: Mapped[int] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    digest_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    digest_time: Mapped[str] = mapped_column(String(5), default=defaults.DIGEST_TIME)  # HH:MM local
    digest_timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    digest_last_sent_at: Mapped[datetime | None]
    digest_last_fingerprint: Mapped[str | None] = mapped_column(String(64))
    post_event_summary: Mapped[bool] = mapped_column(Boolean, default=True)
    summary_delay_minutes: Mapped[int] = mapped_column(
        Integer, default=defaults.SUMMARY_DELAY_MINUTES
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Event(Base):
    """Cached Luma event."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("org_id", "luma_event_id"),
        Index("ix_events_org_start", "org_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    luma_event_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(500))
    start_at: Mapped[datetime | None]
    end_at: Mapped[datetime | None]
    timezone: Mapped[str | None] = mapped_column(String(64))
    city: Mapped[str | None] = mapped_column(String(128))
    country: Mapped[str | None] = mapped_column(String(128))
    url: Mapped[str | None] = mapped_column(String(500))
    capacity: Mapped[int | None] = mapped_column(Integer)
    # Luma's whole answer, kept for what we may need later; never read back, so never loaded
    # (listing an org's events on every question decoded it for nothing).
    raw: Mapped[dict[str, Any]] = mapped_column(
        default=dict, deferred=True, deferred_raiseload=True
    )
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    guests_synced_at: Mapped[datetime | None]
    gone_at: Mapped[datetime | None]


class Guest(Base):
    """Cached Luma guest of one event."""

    __tablename__ = "guests"
    __table_args__ = (
        UniqueConstraint("org_id", "luma_event_id", "luma_guest_id"),
        Index("ix_guests_event_status", "org_id", "luma_event_id", "approval_status"),
        Index("ix_guests_email", "org_id", "email"),
        Index("ix_guests_domain", "org_id", "email_domain"),
        Index("ix_guests_profile", "org_id", "normalized_email"),
        # The default guest list order (by name) of live rows: a page reads its 51 rows off
        # the index instead of sorting the whole event, and the total is an index-only count.
        Index(
            "ix_guests_live_by_name",
            "org_id",
            "luma_event_id",
            text("lower(name)"),
            "id",
            postgresql_where=text("gone_at IS NULL"),
            sqlite_where=text("gone_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    luma_event_id: Mapped[str] = mapped_column(String(64))
    luma_guest_id: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(320))
    normalized_email: Mapped[str] = mapped_column(String(320))
    email_domain: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    approval_status: Mapped[str] = mapped_column(String(32))
    company: Mapped[str | None] = mapped_column(String(255))
    job_title: Mapped[str | None] = mapped_column(String(255))
    registration_answers: Mapped[list[Any]] = mapped_column(default=list)
    is_paid: Mapped[bool] = mapped_column(Boolean, default=False)
    registered_at: Mapped[datetime | None]
    invited_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    gone_at: Mapped[datetime | None]


class GuestProfile(Base):
    """One person across all of an org's events, keyed by normalized email."""

    __tablename__ = "guest_profiles"
    __table_args__ = (UniqueConstraint("org_id", "normalized_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    normalized_email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(255), default="")
    company: Mapped[str | None] = mapped_column(String(255))
    # Where `company` came from: "answers" (a registration question) or "domain" (the email's).
    company_source: Mapped[str | None] = mapped_column(String(16))
    events_registered: Mapped[int] = mapped_column(Integer, default=0)
    events_approved: Mapped[int] = mapped_column(Integer, default=0)
    events_attended: Mapped[int] = mapped_column(Integer, default=0)
    no_shows: Mapped[int] = mapped_column(Integer, default=0)
    first_seen_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Set by enrichment (intel.enrichment), never by the profile rebuild: null until enriched.
    enriched_company: Mapped[str | None] = mapped_column(String(255))
    enriched_title: Mapped[str | None] = mapped_column(String(255))
    seniority: Mapped[str | None] = mapped_column(String(64))
    enriched_at: Mapped[datetime | None]


class GuestTag(Base):
    """Our own label on a person (sent to Luma only as a contact tag, when the org's CRM
    connector says so: `OrgCrmConnector.luma_contact_tags`)."""

    __tablename__ = "guest_tags"
    __table_args__ = (
        UniqueConstraint("org_id", "normalized_email", "tag"),
        Index("ix_guest_tags_org_tag", "org_id", "tag"),  # tags as bulk filters
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    normalized_email: Mapped[str] = mapped_column(String(320))
    tag: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GuestNote(Base):
    """A free-text note on a person (never sent to Luma)."""

    __tablename__ = "guest_notes"
    __table_args__ = (Index("ix_guest_notes_person", "org_id", "normalized_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    normalized_email: Mapped[str] = mapped_column(String(320))
    text: Mapped[str] = mapped_column(Text)
    author_user_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Every write action: who did what, from where, and how it ended."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_org_time", "org_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="SET NULL"))
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(16))  # bot | api | workflow | cli
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- Luma request budget (store.rate_budget) -------------------------------------------------


class LumaRateState(Base):
    """Per Luma budget key: the row every sender locks, and the 429 block all processes obey."""

    __tablename__ = "luma_rate_state"

    budget_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    blocked_until: Mapped[datetime | None]
    pruned_at: Mapped[datetime | None]
    # When a person last asked: bulk callers leave the interactive reserve free for a span.
    interactive_at: Mapped[datetime | None]
    # The pace bulk sends keep (the theoretical time of the next one, as in GCRA).
    paced_until: Mapped[datetime | None]


class LumaRateSend(Base):
    """One request sent to Luma under a budget key: the sliding log the limit is counted on."""

    __tablename__ = "luma_rate_sends"
    __table_args__ = (Index("ix_luma_rate_sends_key_time", "budget_key", "sent_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    budget_key: Mapped[str] = mapped_column(String(128))
    sent_at: Mapped[datetime]


# --- Request limits of the API, the portal and the bot (store.request_limits) ------------


class RequestLimit(Base):
    """One limited key's counts: this window's and the previous window's (a sliding estimate).

    `window_ms` and `cap` are the quota the key was last counted against: the upsert reads
    them from the row it proposes, so one statement can count keys of different quotas.
    UNLOGGED on PostgreSQL (migration 0013): a crash may forget a minute of counts.
    """

    __tablename__ = "request_limits"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # a sha256, never the raw key
    window_start: Mapped[int] = mapped_column(BigInteger)  # epoch milliseconds
    window_ms: Mapped[int] = mapped_column(BigInteger)  # bigint: cap * window_ms overflows int
    cap: Mapped[int] = mapped_column(Integer)
    hits: Mapped[int] = mapped_column(Integer)
    prev_hits: Mapped[int] = mapped_column(Integer)
    # Refusals since the last counted request: the first of a burst is the one to mention.
    refused: Mapped[int] = mapped_column(Integer)


# --- Approval policies (intel.approval_policy, services.policies) --------------------------


class ApprovalPolicy(Base):
    """An org's approval policy for one event, or for all its events (`luma_event_id` "").

    `rules` is the ordered list of `intel.approval_policy.Rule` as JSON; `mode` is off,
    suggest (decisions are shown, nothing written) or auto (approve, waitlist and, when a
    rule says so, decline are written; holds go to review).
    """

    __tablename__ = "approval_policies"
    __table_args__ = (UniqueConstraint("org_id", "luma_event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    luma_event_id: Mapped[str] = mapped_column(String(64), default="")
    mode: Mapped[str] = mapped_column(String(16), default="off")
    rules: Mapped[list[Any]] = mapped_column(default=list)
    rubric: Mapped[str | None] = mapped_column(Text)
    rubric_may_decline: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Seats the event has (Luma's API does not publish an event's capacity): "seats left"
    # rules and waitlist promotion count against it.
    capacity: Mapped[int | None] = mapped_column(Integer)
    # Who comes off the waitlist first when a seat frees: registered (first come) or vip.
    waitlist_order: Mapped[str] = mapped_column(String(16), default="registered")
    # When the mode last went from off to suggest or auto (None while off): the sync hands
    # the policy missed registrations made since, never the backlog from before.
    on_since: Mapped[datetime | None]
    updated_by: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PolicyDecision(Base):
    """What an approval policy decided for one registration, and what became of it.

    One row per guest of an event: a guest is decided once, so a policy changed later never
    re-decides them (and a guest a person decided is never pending when the policy looks).
    `state`: suggested (suggest mode: nothing written), held (for review), to_write, sending
    (claimed before its write, as bulk items are), written, skipped (a person decided
    first, or Luma already had it), failed.
    """

    __tablename__ = "policy_decisions"
    __table_args__ = (UniqueConstraint("org_id", "luma_event_id", "luma_guest_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    luma_event_id: Mapped[str] = mapped_column(String(64))
    luma_guest_id: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(300), default="")
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500))
    mode: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(String(500), default="")
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    # The batch message that told the chats (set when it is composed): a retried report
    # finds the same rows, and a later batch never reports them again.
    report_key: Mapped[str | None] = mapped_column(String(64))


class InviteItem(Base):
    """One address of an invite list job (`workflows.invites`): what became of it.

    `state`: invalid (never sent; `detail` says why), pending, already (on the guest list
    before the job sent anything), sending, sent, then after the reconciliation against the
    guest list: added (on it now) or refused (Luma took the request but the person is not
    on the list). Every address of the list ends in one of these: nothing is dropped.
    """

    __tablename__ = "invite_items"
    __table_args__ = (UniqueConstraint("job_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(64), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    luma_event_id: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(300))
    key: Mapped[str] = mapped_column(String(320))  # identity key; the raw entry if invalid
    state: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(String(300), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- Automations (workflows' bookkeeping) ------------------------------------------------


class BulkJobItem(Base):
    """One guest a bulk job resolved, and what became of it.

    The job's snapshot lives here rather than in workflow history, so a 50,000-guest job
    keeps its history small, and a retried batch can see exactly which guests are done.
    """

    __tablename__ = "bulk_job_items"
    __table_args__ = (UniqueConstraint("job_id", "luma_guest_id"),)

    job_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    luma_guest_id: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(320))
    status_at_resolve: Mapped[str] = mapped_column(String(32))
    is_paid: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    detail: Mapped[str] = mapped_column(String(500), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EventSummary(Base):
    """The post-event summary computed once an event is over."""

    __tablename__ = "event_summaries"
    __table_args__ = (UniqueConstraint("org_id", "luma_event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    luma_event_id: Mapped[str] = mapped_column(String(64))
    figures: Mapped[dict[str, Any]] = mapped_column(default=dict)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UsageCounter(Base):
    """Per org, per day, per kind of costly call (Gemini questions, bulk guests, ...)."""

    __tablename__ = "usage_counters"

    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


# --- Faces: API tokens and confirmations waiting for a button press -------------------------


class ApiToken(Base):
    """A per-org control-API token; only its SHA-256 is stored, it is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # shown in listings to tell tokens apart
    name: Mapped[str] = mapped_column(String(100), default="")
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]  # optional: a token made for a week's script ends


class PendingAction(Base):
    """A write waiting for its Confirm button (bulk jobs, single changes), used once.

    Kept in the database, not in bot memory, so any bot process can take the press and a
    restart loses nothing; the button's callback data carries only this row's id.
    """

    __tablename__ = "pending_actions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The language the question was asked in (None: English): the press is answered in it.
    language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    consumed_at: Mapped[datetime | None]


class LinkOffer(Base):
    """The calendars an organization key opens, offered as buttons to whoever sent it.

    There is no org yet when the key is checked, so a `PendingAction` cannot hold it: the key
    waits here, encrypted like an org's, for the press that picks a calendar (taken once, by
    the same person in the same chat, before it expires); the buttons carry only the row id.
    """

    __tablename__ = "link_offers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    key_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    calendars: Mapped[list[Any]] = mapped_column(default=list)  # [{"id": "cal-…", "name"}]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


# --- Follow-up emails (workflows.followups) ----------------------------------------------------


class FollowupSend(Base):
    """One recipient of one follow-up campaign, and what became of their email.

    The unique key (org, event, campaign, person) is the idempotency key: a row is claimed
    (`pending` -> `sending`) before the send and settled after it, so a retried or replayed
    batch never mails a `sent` row again, and a row found still `sending` (the worker died
    mid-send) is marked `uncertain` instead of being sent a second time.
    """

    __tablename__ = "followup_sends"
    __table_args__ = (
        UniqueConstraint("org_id", "luma_event_id", "campaign_id", "normalized_email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    luma_event_id: Mapped[str] = mapped_column(String(64))
    campaign_id: Mapped[str] = mapped_column(String(64))
    normalized_email: Mapped[str] = mapped_column(String(320))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(255), default="")
    state: Mapped[str] = mapped_column(String(16), default="pending")
    message_id: Mapped[str] = mapped_column(String(255))
    detail: Mapped[str] = mapped_column(String(500), default="")
    sent_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MailUnsubscribe(Base):
    """A person who asked an org for no more follow-up emails (by link or by the organizer)."""

    __tablename__ = "mail_unsubscribes"
    __table_args__ = (UniqueConstraint("org_id", "normalized_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    normalized_email: Mapped[str] = mapped_column(String(320))
    source: Mapped[str] = mapped_column(String(16))  # link | bot
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- Enrichment (intel.enrichment) ----------------------------------------------------------


class OrgEnrichment(Base):
    """An org's enrichment provider: off by default, its own provider key encrypted at rest."""

    __tablename__ = "org_enrichment"

    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    provider: Mapped[str] = mapped_column(String(32))
    key_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    key_fingerprint: Mapped[str] = mapped_column(String(8))
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_run_at: Mapped[datetime | None]


class EnrichmentCacheEntry(Base):
    """One provider answer about one person (found or not), reused until it expires."""

    __tablename__ = "enrichment_cache"
    __table_args__ = (UniqueConstraint("org_id", "provider", "normalized_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(32))
    normalized_email: Mapped[str] = mapped_column(String(320))
    found: Mapped[bool] = mapped_column(Boolean, default=False)
    company: Mapped[str | None] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(255))
    seniority: Mapped[str | None] = mapped_column(String(64))
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


# --- Web portal: sign-in links and browser sessions ------------------------------------------


class WebSignInLink(Base):
    """A one-time sign-in link the bot sent; only the nonce's SHA-256 is stored.

    `used_at` makes the link single use: the row is claimed with one conditional UPDATE, so
    two tabs opening the same link cannot both get a session.
    """

    __tablename__ = "web_signin_links"

    nonce_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in browser: the cookie holds a random id whose SHA-256 is the key here."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


# --- Billing: plans and Stripe subscriptions (billing/) --------------------------------------


class BillingSubscription(Base):
    """An org's Stripe customer and subscription; `Organization.plan` is the plan it grants."""

    __tablename__ = "billing_subscriptions"

    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    plan: Mapped[str] = mapped_column(String(32))
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(32), default="none")
    current_period_end: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LumaWebhookDelivery(Base):
    """A signed Luma webhook delivery already accepted, by its `webhook-id`: a replay of it
    is refused. Rows older than the signature tolerance are pruned as new ones arrive."""

    __tablename__ = "luma_webhook_deliveries"

    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    delivery_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class StripeEvent(Base):
    """A Stripe webhook event already applied: its id makes every replay a no-op."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="SET NULL"))
    result: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrgVipRules(Base):
    """An org's own VIP scoring rules (`intel.vip_rules`); without a row the org scores with
    the settings' `VIP_*` defaults. `rules` holds every editable field, so a later change of
    the defaults does not alter rules an admin saved."""

    __tablename__ = "org_vip_rules"

    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    rules: Mapped[dict[str, Any]]
    updated_by: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OrgCrmConnector(Base):
    """An org's CRM or Airtable connector (`crm/`): which service, its token encrypted at rest
    (only the last four characters shown), where records go (`target`: Airtable's base and
    table, or the HubSpot portal) and the field mapping (our field -> their field name)."""

    __tablename__ = "org_crm_connectors"

    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # "airtable" or "hubspot"
    token_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    token_fingerprint: Mapped[str] = mapped_column(String(8))
    target: Mapped[dict[str, Any]]
    field_map: Mapped[dict[str, Any]]
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Also push our tags to Luma as the calendar's contact tags after each run (off unless
    # an admin turns it on: it writes into the organizer's Luma calendar).
    luma_contact_tags: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_by: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_run_at: Mapped[datetime | None]


class CrmRecordState(Base):
    """What was last written for one person to one connector: a hash of the fields as sent
    (mapping and destination included), so a run pushes only people whose hash changed."""

    __tablename__ = "crm_record_states"
    __table_args__ = (UniqueConstraint("org_id", "connector", "normalized_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    connector: Mapped[str] = mapped_column(String(16))
    normalized_email: Mapped[str] = mapped_column(String(320))
    fields_hash: Mapped[str] = mapped_column(String(64))
    pushed_at: Mapped[datetime] = mapped_column(default=utcnow)
    run_id: Mapped[int | None] = mapped_column(Integer)  # the run that wrote it (its counts)


class CrmSyncRun(Base):
    """One sync run and its counts; `failures` lists the batches given up on, each with the
    error and the people it held (pushed again by the next run, since their hash is unsaved)."""

    __tablename__ = "crm_sync_runs"
    __table_args__ = (
        UniqueConstraint("run_key"),
        Index("ix_crm_sync_runs_org_started", "org_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    run_key: Mapped[str] = mapped_column(String(255))  # workflow id / first run id
    connector: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    profiles: Mapped[int] = mapped_column(Integer, default=0)
    written: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[str] = mapped_column(Text, default="")


# --- Follow-up templates (mailer.templates, services.followup_templates) ------------------------


class FollowupTemplate(Base):
    """An org's saved follow-up wording (sandboxed Jinja2 text, checked when saved), and the
    audience (attended, no-shows, all) it is the default for: at most one per audience."""

    __tablename__ = "followup_templates"
    __table_args__ = (
        UniqueConstraint("org_id", "name", name="uq_followup_templates_org_id_name"),
        UniqueConstraint("org_id", "default_for", name="uq_followup_templates_org_id_default_for"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    default_for: Mapped[str | None] = mapped_column(String(16))
    updated_by: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- Send from Gmail (mailer.gmail, services.gmail) ------------------------------------------


class GmailSender(Base):
    """An org's connected Gmail account: follow-ups go out from it while it is connected.

    Only the refresh token is kept, encrypted like a Luma key; access tokens live in a
    worker's memory for one batch. Workflows never see it: activities load it by org id.
    """

    __tablename__ = "gmail_senders"

    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    address: Mapped[str] = mapped_column(String(320))
    token_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    connected_by: Mapped[int | None] = mapped_column(BigInteger)
    connected_at: Mapped[datetime] = mapped_column(default=utcnow)


class GmailConnectState(Base):
    """One Connect press waiting for Google's callback: the OAuth `state` (only its SHA-256
    here), the portal session it belongs to, and the PKCE verifier (encrypted). Taken once."""

    __tablename__ = "gmail_connect_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64))
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger)
    verifier_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(index=True)


# --- Conversation context (store.conversation, nlp.followup) ----------------------------------


class ChatContext(Base):
    """What the bot last answered one person in one chat, for follow-ups ("and the
    waitlisted ones?", "approve them"): the intent, its slots (the event's id and name, the
    status, domain and tag filter, city and dates) and the result set's reference (the event id
    and filter that produced it, never the guests). After a `/find` about one person the slots
    hold that person's email ("approve her"); `store.conversation` says when it goes. Read only
    for the org the update works in and only while younger than `CONTEXT_MINUTES`."""

    __tablename__ = "chat_contexts"
    __table_args__ = (
        UniqueConstraint("org_id", "chat_id", "user_id", name="uq_chat_contexts_org_chat_user"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    intent: Mapped[str] = mapped_column(String(32))
    slots: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
