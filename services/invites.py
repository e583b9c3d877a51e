"""Invite lists: preview a pasted or uploaded list against an event, then add or invite it.

The bot's `/invite` and the control API's `POST /v1/events/{id}/invites` come here. The
preview sorts the list (`catalog.invite_list`: validated, de-duplicated) into new people,
people already on the cached guest list, and invalid entries; starting stages every entry
(invalid ones too, so the report accounts for them) and hands the job to
`workflows.invites`, which checks the guest list fresh before sending and reconciles after.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHandle

from catalog.invite_list import Invitee, InviteList, Rejected
from services import audit
from services.automations import Automations
from services.caller import Caller, Invalid
from store.models import Event, Guest, InviteItem
from workflows.contracts.invites import InviteHow, InviteJobInput

HOWS: tuple[InviteHow, ...] = ("add", "invite")


@dataclass(frozen=True)
class InvitePreview:
    new: list[Invitee]
    already: list[Invitee]
    invalid: list[Rejected]
    duplicates: int

    @property
    def total(self) -> int:
        return len(self.new) + len(self.already) + len(self.invalid) + self.duplicates


async def preview(
    caller: Caller, session: AsyncSession, *, event: Event, invitees: InviteList
) -> InvitePreview:
    """Who is new to the event's (cached) guest list; the job checks Luma itself again."""
    caller.require_guest_writer()
    keys = [person.key for person in invitees.valid]
    present: set[str] = set()
    for start in range(0, len(keys), 1000):
        present |= set(
            await session.scalars(
                select(Guest.normalized_email).where(
                    Guest.org_id == caller.org_id,
                    Guest.luma_event_id == event.luma_event_id,
                    Guest.gone_at.is_(None),
                    Guest.normalized_email.in_(keys[start : start + 1000]),
                )
            )
        )
    return InvitePreview(
        new=[p for p in invitees.valid if p.key not in present],
        already=[p for p in invitees.valid if p.key in present],
        invalid=list(invitees.invalid),
        duplicates=invitees.duplicates,
    )


async def stage(
    caller: Caller,
    session: AsyncSession,
    *,
    event: Event,
    invitees: InviteList,
    how: str,
) -> InviteJobInput:
    """Store every entry of the list under a new job; commit, then `launch` it."""
    caller.require_guest_writer()
    if how not in HOWS:
        raise Invalid("Add them as going (add) or send Luma's invitations (invite).")
    if not invitees.valid:
        raise Invalid("There is no valid address in this list, so there is nothing to send.")
    job_id = uuid.uuid4().hex[:16]
    common: dict[str, Any] = {
        "job_id": job_id,
        "org_id": caller.org_id,
        "luma_event_id": event.luma_event_id,
    }
    rows = [
        common | {"email": p.email, "name": p.name, "key": p.key, "state": "pending"}
        for p in invitees.valid
    ]
    rows += [
        common
        | {
            "email": bad.raw[:320],
            "name": None,
            "key": f"invalid:{n}",
            "state": "invalid",
            "detail": bad.reason[:300],
        }
        for n, bad in enumerate(invitees.invalid)
    ]
    session.add_all(InviteItem(**row) for row in rows)
    await session.flush()
    await audit.record(
        caller,
        session,
        f"invite_list_{how}_started",
        {"event_id": event.luma_event_id, "job": job_id, "valid": len(invitees.valid)},
    )
    return InviteJobInput(
        job_id,
        caller.org_id,
        event.luma_event_id,
        how,  # checked against HOWS above
        event.name,
        caller.user_id,
        caller.chat_id,
    )


async def launch(
    automations: Automations,
    job: InviteJobInput,
    sessions: async_sessionmaker[AsyncSession],
) -> WorkflowHandle[Any, Any]:
    """Start a staged job (after the staging transaction committed). When Temporal does not
    take it, the staged addresses are removed again, so no job waits forever and trying
    again stages the list afresh; the failure goes on to the interface to say."""
    try:
        return await automations.start_invites(job)
    except Exception:
        async with sessions.begin() as session:
            await session.execute(
                delete(InviteItem).where(
                    InviteItem.job_id == job.job_id, InviteItem.org_id == job.org_id
                )
            )
        raise
