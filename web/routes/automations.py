"""Automations: each chat's digest (time, zone), post-event summaries, and the sync interval.

The rules are `services.digest`'s, the same as the bot's `/digest` and `/sync every` and the
API's: a bad time or zone changes nothing, an interval below the plan's minimum is refused
with the same sentence. Saving changes the Temporal Schedules inside the database
transaction, so when Temporal refuses nothing is saved and the page says so.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from core import defaults
from services import digest
from services.caller import Invalid
from services.plan_sync import MAX_INTERVAL_MINUTES
from web.caller import caller_of
from web.deps import Admin, Api, Plans, Reader
from web.errors import WebError, not_found, refusal_page
from web.render import page, see_other

router = APIRouter(prefix="/automations")


@router.get("")
async def automations_page(request: Request, viewer: Reader, deps: Api, billing: Plans) -> object:
    async with deps.sessions() as session:
        rows = await digest.chat_settings(caller_of(viewer), session)
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


def _minutes(raw: str, what: str) -> int:
    """A form's whole number of minutes (the range is the service's rule)."""
    if not raw.strip().isdigit() or len(raw.strip()) > 6:
        raise WebError(400, f"Check the {what}", f"The {what} is a whole number of minutes.")
    return int(raw)


def _chat_id(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise not_found("chat") from None


@router.post("/chat")
async def save_chat(
    viewer: Admin,
    deps: Api,
    chat_id: Annotated[str, Form(max_length=20)] = "",
    digest_on: Annotated[str, Form(alias="digest", max_length=4)] = "",
    time: Annotated[str, Form(max_length=10)] = defaults.DIGEST_TIME,
    timezone: Annotated[str, Form(max_length=64)] = "UTC",
    summary: Annotated[str, Form(max_length=4)] = "",
    summary_delay: Annotated[str, Form(max_length=8)] = str(defaults.SUMMARY_DELAY_MINUTES),
) -> object:
    chat, delay = _chat_id(chat_id), _minutes(summary_delay, "summary delay")
    caller = caller_of(viewer)
    async with deps.sessions.begin() as session:
        # The summary first: it only writes rows, so a refused digest rolls it back too.
        try:
            await digest.set_post_event_summary(
                caller, session, chat_id=chat, enabled=summary == "on", delay_minutes=delay
            )
        except Invalid as exc:
            raise WebError(400, "Check the summary delay", refusal_page(exc).message) from None
        try:
            await digest.set_digest(
                caller,
                session,
                deps.automations,
                chat_id=chat,
                enabled=digest_on == "on",
                at=time,
                zone=timezone,
            )
        except Invalid as exc:
            raise WebError(400, "Check the digest settings", refusal_page(exc).message) from None
    return see_other("/web/automations?saved=1")


@router.post("/sync")
async def save_sync(
    viewer: Admin, deps: Api, billing: Plans, interval: Annotated[str, Form(max_length=8)] = ""
) -> object:
    """The org's sync interval, within its plan's minimum (refused otherwise, nothing saved)."""
    minutes = _minutes(interval, "sync interval")
    async with deps.sessions.begin() as session:
        try:
            await digest.set_sync_interval(
                caller_of(viewer), session, billing, deps.automations, minutes=minutes
            )
        except Invalid as exc:
            raise WebError(400, "Check the sync interval", refusal_page(exc).message) from None
    return see_other("/web/automations?saved=1")
