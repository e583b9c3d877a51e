"""Automation settings: a chat's daily digest, post-event summaries, and the org's sync interval.

The bot's `/digest` and `/sync every`, the API's `/v1/digest` and `/v1/sync/schedule`, and
the portal's automations page all come here, so the time and zone are validated, the role
and the plan checked, the Temporal Schedule moved and the audit row written once.

Each write changes its schedule inside the caller's transaction and leaves the commit to
the caller: when Temporal refuses, the caller rolls back and nothing is saved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing import Billing, LimitExceeded
from core import defaults
from services import audit
from services.automations import Automations
from services.caller import Caller, Invalid, NotFound, PlanLimit
from services.plan_sync import MAX_INTERVAL_MINUTES
from services.plan_sync import set_sync_interval as move_sync_schedule
from store import orgs
from store.models import AutomationSettings, Chat, Organization

DEFAULT_TIME = defaults.DIGEST_TIME
MAX_SUMMARY_DELAY = 7 * 24 * 60  # a summary a week after the event is the latest useful one
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class DigestState:
    """One chat's digest as every interface shows it."""

    chat_id: int
    chat_title: str
    enabled: bool
    time: str
    timezone: str


def clock_time(raw: str) -> str:
    """`9:05` -> `09:05`; anything else is not a time of day."""
    match = _HHMM.match(raw.strip())
    if match is None:
        raise Invalid(f"“{escape(raw[:20])}” is not a time of day; write it like 09:00.")
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def time_zone(raw: str) -> str:
    """An IANA zone name the schedule (and the dates shown) can use."""
    name = raw.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Invalid(
            f"“{escape(name[:40])}” is not a time zone I know; use a name like Europe/Lisbon."
        ) from None
    return name


async def _chat(caller: Caller, session: AsyncSession, chat_id: int) -> Chat:
    """A chat linked to the caller's org, or the caller's own chat (a DM working with the
    org through /use); other orgs' chats look exactly like unknown ones."""
    chat = await session.get(Chat, chat_id)
    if chat is None or (chat.org_id != caller.org_id and chat_id != caller.chat_id):
        raise NotFound("There is no such chat linked to this calendar.")
    return chat


async def _settings(caller: Caller, session: AsyncSession, chat: Chat) -> AutomationSettings:
    settings = await session.get(AutomationSettings, chat.id)
    if settings is None:
        settings = AutomationSettings(chat_id=chat.id, org_id=caller.org_id)
        session.add(settings)
    settings.org_id = caller.org_id  # a DM that switched calendars now digests this one
    return settings


def _state(chat: Chat, settings: AutomationSettings | None, org_id: int) -> DigestState:
    if settings is None or settings.org_id != org_id:
        return DigestState(chat.id, chat.title, False, DEFAULT_TIME, chat.timezone or "UTC")
    return DigestState(
        chat.id,
        chat.title,
        bool(settings.digest_enabled),
        settings.digest_time or DEFAULT_TIME,
        settings.digest_timezone or "UTC",
    )


async def digests(
    caller: Caller, session: AsyncSession, *, chat_id: int | None = None
) -> list[DigestState]:
    """The digest of one chat, or of every chat linked to the org (anyone in it may read)."""
    if chat_id is not None:
        chats = [await _chat(caller, session, chat_id)]
    else:
        chats = list(await orgs.org_chats(session, org_id=caller.org_id))
    saved = await session.scalars(
        select(AutomationSettings).where(AutomationSettings.chat_id.in_([c.id for c in chats]))
    )
    by_chat = {row.chat_id: row for row in saved}
    return [_state(chat, by_chat.get(chat.id), caller.org_id) for chat in chats]


async def chat_settings(
    caller: Caller, session: AsyncSession
) -> list[tuple[Chat, AutomationSettings]]:
    """Every linked chat with its settings (unsaved defaults where it has none yet)."""
    chats = list(await orgs.org_chats(session, org_id=caller.org_id))
    saved = await session.scalars(
        select(AutomationSettings).where(AutomationSettings.chat_id.in_([c.id for c in chats]))
    )
    by_chat = {row.chat_id: row for row in saved}
    return [(chat, by_chat.get(chat.id) or AutomationSettings()) for chat in chats]


async def set_digest(
    caller: Caller,
    session: AsyncSession,
    automations: Automations,
    *,
    chat_id: int,
    enabled: bool,
    at: str | None = None,
    zone: str | None = None,
) -> DigestState:
    """Turn a chat's daily digest on (at `at` in `zone`; by default what it had, else 09:00 in
    the chat's zone) or off. Validation comes first: a bad time or zone changes nothing."""
    caller.require_admin()
    chosen_time = clock_time(at) if at is not None else None
    chosen_zone = time_zone(zone) if zone is not None else None
    chat = await _chat(caller, session, chat_id)
    settings = await _settings(caller, session, chat)
    if enabled:
        chosen_time = chosen_time or settings.digest_time or DEFAULT_TIME
        chosen_zone = chosen_zone or chat.timezone or "UTC"
        await automations.set_digest(
            chat_id=chat.id, org_id=caller.org_id, at=chosen_time, timezone=chosen_zone
        )
        settings.digest_time, settings.digest_timezone = chosen_time, chosen_zone
        chat.timezone = chosen_zone  # dates in this chat are shown in the zone it asked for
    else:
        await automations.clear_digest(chat.id)
        if chosen_time is not None:
            settings.digest_time = chosen_time
        if chosen_zone is not None:
            settings.digest_timezone = chosen_zone
    settings.digest_enabled = enabled
    await session.flush()
    await audit.record(
        caller,
        session,
        "digest_on" if enabled else "digest_off",
        {"time": settings.digest_time, "timezone": settings.digest_timezone},
        chat_id=chat.id,
    )
    return _state(chat, settings, caller.org_id)


async def send_digest_now(
    caller: Caller, session: AsyncSession, automations: Automations, *, chat_id: int
) -> None:
    """Send the chat its digest now (a read: anyone in the org may ask for it)."""
    chat = await _chat(caller, session, chat_id)
    await automations.send_digest_now(chat_id=chat.id, org_id=caller.org_id)


async def set_post_event_summary(
    caller: Caller, session: AsyncSession, *, chat_id: int, enabled: bool, delay_minutes: int
) -> None:
    """Whether the chat gets a summary after each event, and how long after it ends."""
    caller.require_admin()
    if not 0 <= delay_minutes <= MAX_SUMMARY_DELAY:
        raise Invalid(
            f"The summary delay is a whole number of minutes from 0 to {MAX_SUMMARY_DELAY}."
        )
    chat = await _chat(caller, session, chat_id)
    settings = await _settings(caller, session, chat)
    settings.post_event_summary = enabled
    settings.summary_delay_minutes = delay_minutes
    await session.flush()
    await audit.record(
        caller,
        session,
        "post_event_summary",
        {"enabled": enabled, "delay_minutes": delay_minutes},
        chat_id=chat.id,
    )


async def set_sync_interval(
    caller: Caller,
    session: AsyncSession,
    billing: Billing,
    automations: Automations,
    *,
    minutes: int,
) -> int:
    """How often the org syncs with Luma; below its plan's minimum is a `PlanLimit`."""
    caller.require_admin()
    if not 1 <= minutes <= MAX_INTERVAL_MINUTES:
        raise Invalid(f"The sync interval is 1 to {MAX_INTERVAL_MINUTES} minutes.")
    org = await session.get(Organization, caller.org_id)
    if org is None:
        raise NotFound("There is no such calendar.")
    try:
        await move_sync_schedule(session, billing, automations, org=org, minutes=minutes)
    except LimitExceeded as exc:
        raise PlanLimit(str(exc), limit=exc.limit) from None
    await audit.record(caller, session, "sync_interval", {"minutes": minutes}, result="saved")
    return minutes
