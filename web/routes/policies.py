"""An event's approval policy in the portal: its rules and mode, a dry run on the pending
guests (read fresh from Luma, nothing written), and the log of what it decided."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from services import policies
from store.models import PolicyDecision
from web.caller import caller_of
from web.deps import Api, Reader, WebDep
from web.render import page
from web.routes.guests import EventId, org_event

router = APIRouter(prefix="/events/{event_id}")
LOGGED = 100


@router.get("/policy")
async def policy_page(
    request: Request,
    event_id: EventId,
    viewer: Reader,
    deps: Api,
    web: WebDep,
    test: Annotated[bool, Query()] = False,
) -> object:
    async with deps.sessions() as session:
        event = await org_event(session, viewer.org_id, event_id)
        view = await policies.policy_for(session, org_id=viewer.org_id, event_id=event_id)
        decisions = list(
            await session.scalars(
                select(PolicyDecision)
                .where(
                    PolicyDecision.org_id == viewer.org_id,
                    PolicyDecision.luma_event_id == event_id,
                )
                .order_by(PolicyDecision.id.desc())
                .limit(LOGGED)
            )
        )
        run = None
        if test:
            run = await policies.dry_run(
                caller_of(viewer),
                session,
                event=event,
                luma=web.luma,
                keybox=web.keybox,
                vip_rules=deps.vip_rules,
            )
        return await page(
            request,
            session,
            viewer,
            "policy.html",
            event=event,
            view=view,
            decisions=decisions,
            run=run,
            nav="events",
        )
