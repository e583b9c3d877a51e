"""Automations: each chat's digest (time, zone), post-event summaries, and the sync interval.

Saving changes the Temporal Schedules inside the database transaction, so when Temporal
refuses nothing is saved and the page says so. The sync interval goes through
`billing.sync.set_sync_interval`, as the bot's `/sync every` and the API's schedule do, so
an interval below the plan's minimum is refused with the same sentence.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from sqlalchemy import select

from api.schemas import DigestUpdate
from billing import LimitExceeded
from billing.sync import MAX_INTERVAL_MINUTES, set_sync_interval
from store import orgs
from store.models import AutomationSettings, Chat, Organization
from web.deps import Admin, Api, Plans, Reader, audit_write, plan_refusal
from web.errors import WebError, not_found
from web.render import page, see_other

router = APIRouter(prefix="/automations")
MAX_SUMMARY_DELAY = 7 * 24 * 60


@router.get("")
async def automations_page(request: Request, viewer: Reader, deps: Api, billing: Plans) -> object:
    async with deps.sessions() as session:
        chats = await orgs.org_chats(session, org_id=viewer.org_id)
        saved = await session.scalars(
            select(AutomationSettings).where(
                AutomationSettings.chat_id.in_([chat.id for chat in chats])
            )
        )
        by_chat = {row.chat_id: row for row in saved}
        rows = [(chat, by_chat.get(chat.id) or AutomationSettings()) for chat in chats]
        plan = await billing.plan_for(session, org_id=viewer.org_id)
        return await page(
            request,
            session,
            viewer,
            "automations.html",
            rows=rows,
            plan_name=plan.name,
            min_interval=plan.min_sync_interval_minutes or 1,
            max_interval=MAX_INTERVAL_MINUTES,
            nav="automations",
        )


def _minutes(raw: str, low: int, high: int, what: str) -> int:
    if not raw.strip().isdigit() or not low <= int(raw) <= high:
        raise WebError(
            400,
            f"Check the {what}",
            f"The {what} is a whole number of minutes from {low} to {high}.",
        )
    return int(raw)


@router.post("/chat")
async def save_chat(
    viewer: Admin,
    deps: Api,
    chat_id: Annotated[str, Form(max_length=20)] = "",
    digest: Annotated[str, Form(max_length=4)] = "",
    time: Annotated[str, Form(max_length=10)] = "09:00",
    timezone: Annotated[str, Form(max_length=64)] = "UTC",
    summary: Annotated[str, Form(max_length=4)] = "",
    summary_delay: Annotated[str, Form(max_length=8)] = "120",
) -> object:
    try:
        body = DigestUpdate(
            chat_id=chat_id, enabled=digest == "on", time=time.strip(), timezone=timezone.strip()
        )
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise WebError(400, "Check the digest settings", problems) from None
    delay = _minutes(summary_delay, 0, MAX_SUMMARY_DELAY, "summary delay")
    async with deps.sessions.begin() as session:
        chat = await session.get(Chat, body.chat_id)
        if chat is None or chat.org_id != viewer.org_id:
            raise not_found("chat")
        settings = await session.get(AutomationSettings, chat.id)
        if settings is None:
            settings = AutomationSettings(chat_id=chat.id)
            session.add(settings)
        settings.org_id = viewer.org_id
        settings.digest_enabled = body.enabled
        settings.digest_time, settings.digest_timezone = body.time, body.timezone
        settings.post_event_summary = summary == "on"
        settings.summary_delay_minutes = delay
        if body.enabled:
            await deps.automations.set_digest(
                chat_id=chat.id, org_id=viewer.org_id, at=body.time, timezone=body.timezone
            )
        else:
            await deps.automations.clear_digest(chat.id)
        await audit_write(
            session,
            viewer,
            "automations_saved",
            {"chat_id": chat.id, "digest": body.enabled, "time": body.time, "zone": body.timezone},
        )
    return see_other("/web/automations?saved=1")


@router.post("/sync")
async def save_sync(
    viewer: Admin, deps: Api, billing: Plans, interval: Annotated[str, Form(max_length=8)] = ""
) -> object:
    """The org's sync interval, within its plan's minimum (refused otherwise, nothing saved)."""
    minutes = _minutes(interval, 1, MAX_INTERVAL_MINUTES, "sync interval")
    async with deps.sessions.begin() as session:
        org = await session.get(Organization, viewer.org_id)
        if org is None:
            raise not_found("calendar")
        try:
            await set_sync_interval(session, billing, deps.automations, org=org, minutes=minutes)
        except LimitExceeded as exc:
            raise plan_refusal(exc) from None
        await audit_write(session, viewer, "sync_interval", {"minutes": minutes})
    return see_other("/web/automations?saved=1")
