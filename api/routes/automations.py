"""Sync on demand and the chats' daily digest settings (schedules in Temporal)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import AutomationsDep, CurrentOrg, DepsDep, SessionDep
from api.errors import not_found
from api.routes.stripe import PLAN_LIMIT_RESPONSE, BillingDep, plan_limit
from api.schemas import ChatId, DigestList, DigestPublic, DigestUpdate, WorkflowStarted
from billing.limits import LimitExceeded
from billing.sync import MAX_INTERVAL_MINUTES, set_sync_interval
from store import audit, orgs
from store.models import AutomationSettings, Chat, Organization

router = APIRouter(prefix="/v1", tags=["automations"])


@router.post("/sync", status_code=status.HTTP_202_ACCEPTED, summary="Sync guest lists now")
async def sync_now(org_id: CurrentOrg, automations: AutomationsDep) -> WorkflowStarted:
    """Starts the org's sync, or joins the one already running."""
    handle = await automations.sync_now(org_id)
    return WorkflowStarted(workflow_id=handle.id, ui_url=automations.ui_url(handle.id))


class SyncSchedule(BaseModel):
    interval_minutes: int = Field(
        ge=1, le=MAX_INTERVAL_MINUTES, description="minutes between syncs"
    )


@router.put(
    "/sync/schedule",
    summary="How often your organization syncs (within its plan)",
    responses=PLAN_LIMIT_RESPONSE,
)
async def put_sync_schedule(
    org_id: CurrentOrg, deps: DepsDep, billing: BillingDep, body: SyncSchedule
) -> SyncSchedule:
    """An interval below the plan's minimum is refused (403 `plan_limit`), nothing changed."""
    async with deps.sessions.begin() as session:
        org = await session.get(Organization, org_id)
        if org is None:
            raise not_found("organization")
        try:
            await set_sync_interval(
                session, billing, deps.automations, org=org, minutes=body.interval_minutes
            )
        except LimitExceeded as exc:
            raise plan_limit(exc) from None
        await audit.record(
            session,
            org_id=org_id,
            source="api",
            action="sync_interval",
            result="saved",
            target={"minutes": body.interval_minutes},
        )
    return body


def _digest_public(chat: Chat, settings: AutomationSettings | None) -> DigestPublic:
    if settings is None:
        return DigestPublic(chat_id=chat.id, chat_title=chat.title, enabled=False)
    return DigestPublic(
        chat_id=chat.id,
        chat_title=chat.title,
        enabled=settings.digest_enabled,
        time=settings.digest_time,
        timezone=settings.digest_timezone,
    )


async def _org_chat(session: AsyncSession, org_id: int, chat_id: int) -> Chat:
    chat = await session.get(Chat, chat_id)
    if chat is None or chat.org_id != org_id:
        raise not_found("chat linked")
    return chat


@router.get("/digest", summary="Digest settings of the chats linked to your organization")
async def get_digest(
    org_id: CurrentOrg,
    session: SessionDep,
    chat_id: Annotated[ChatId | None, Query(description="only this chat")] = None,
) -> DigestList:
    if chat_id is not None:
        chats = [await _org_chat(session, org_id, chat_id)]
    else:
        chats = list(await orgs.org_chats(session, org_id=org_id))
    saved = await session.scalars(
        select(AutomationSettings).where(AutomationSettings.chat_id.in_([c.id for c in chats]))
    )
    by_chat = {settings.chat_id: settings for settings in saved}
    return DigestList(chats=[_digest_public(chat, by_chat.get(chat.id)) for chat in chats])


@router.put("/digest", summary="Turn a chat's daily digest on (at a time and zone) or off")
async def put_digest(org_id: CurrentOrg, deps: DepsDep, body: DigestUpdate) -> DigestPublic:
    # The schedule changes inside the transaction: if Temporal refuses, nothing is saved.
    async with deps.sessions.begin() as session:
        chat = await _org_chat(session, org_id, body.chat_id)
        settings = await session.get(AutomationSettings, chat.id)
        if settings is None:
            settings = AutomationSettings(chat_id=chat.id)
            session.add(settings)
        settings.org_id = org_id
        settings.digest_enabled = body.enabled
        settings.digest_time, settings.digest_timezone = body.time, body.timezone
        if body.enabled:
            await deps.automations.set_digest(
                chat_id=chat.id, org_id=org_id, at=body.time, timezone=body.timezone
            )
        else:
            await deps.automations.clear_digest(chat.id)
        await audit.record(
            session,
            org_id=org_id,
            source="api",
            action="digest_on" if body.enabled else "digest_off",
            result="saved",
            chat_id=chat.id,
            target={"time": body.time, "timezone": body.timezone},
        )
        return _digest_public(chat, settings)
