"""Sync on demand and the chats' daily digest settings (schedules in Temporal)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from api.deps import AutomationsDep, CurrentCaller, DepsDep, SessionDep
from api.routes.stripe import PLAN_LIMIT_RESPONSE, BillingDep
from api.schemas import ChatId, DigestList, DigestPublic, DigestUpdate, WorkflowStarted
from services import digest, sync
from services.plan_sync import MAX_INTERVAL_MINUTES

router = APIRouter(prefix="/v1", tags=["automations"])


@router.post("/sync", status_code=status.HTTP_202_ACCEPTED, summary="Sync guest lists now")
async def sync_now(caller: CurrentCaller, automations: AutomationsDep) -> WorkflowStarted:
    """Starts the org's sync, or joins the one already running (a scheduled one too)."""
    handle = await sync.sync_now(caller, automations)
    return WorkflowStarted(workflow_id=handle.id, web_url=automations.job_url(handle.id))


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
    caller: CurrentCaller, deps: DepsDep, billing: BillingDep, body: SyncSchedule
) -> SyncSchedule:
    """An interval below the plan's minimum is refused (403 `plan_limit`), nothing changed."""
    async with deps.sessions.begin() as session:
        await digest.set_sync_interval(
            caller, session, billing, deps.automations, minutes=body.interval_minutes
        )
    return body


def _public(state: digest.DigestState) -> DigestPublic:
    return DigestPublic(
        chat_id=state.chat_id,
        chat_title=state.chat_title,
        enabled=state.enabled,
        time=state.time,
        timezone=state.timezone,
    )


@router.get("/digest", summary="Digest settings of the chats linked to your organization")
async def get_digest(
    caller: CurrentCaller,
    session: SessionDep,
    chat_id: Annotated[ChatId | None, Query(description="only this chat")] = None,
) -> DigestList:
    states = await digest.digests(caller, session, chat_id=chat_id)
    return DigestList(chats=[_public(state) for state in states])


@router.put("/digest", summary="Turn a chat's daily digest on (at a time and zone) or off")
async def put_digest(caller: CurrentCaller, deps: DepsDep, body: DigestUpdate) -> DigestPublic:
    # The schedule changes inside the transaction: if Temporal refuses, nothing is saved.
    async with deps.sessions.begin() as session:
        state = await digest.set_digest(
            caller,
            session,
            deps.automations,
            chat_id=body.chat_id,
            enabled=body.enabled,
            at=body.time,
            zone=body.timezone,
        )
    return _public(state)
