"""The I/O of invite list jobs: look at the guest list, send the rest, reconcile.

Luma's add and invite calls answer with nothing per address, so what happened to each one
is read back from the guest list: an address that was there before the job sent anything is
"already"; one sent and on the list afterwards is "added"; one sent and still not on it is
"refused". Each step can be retried: a send claims its addresses first ("sending"), and
Luma leaves people already on the list as they are, so a retried batch changes no one twice.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from temporalio import activity

from activities.luma_access import LumaAccess, luma_failures_are_final
from catalog.guest_filter import person_key
from luma import LumaClient
from store import audit
from store.models import InviteItem
from workflows.contracts.invites import InviteBatch, InviteJobInput, InviteTotals

REFUSED_SHOWN = 10


class InviteActivities:
    def __init__(self, luma: LumaAccess) -> None:
        self.luma = luma
        self.sessions = luma.sessions

    async def _on_the_list(self, client: LumaClient, event_id: str) -> set[str]:
        with luma_failures_are_final():
            return {person_key(guest.email) async for guest in client.iter_guests(event_id)}

    @activity.defn
    async def mark_already_invited(self, job: InviteJobInput) -> int:
        """Addresses already on the guest list (fresh from Luma) are left alone."""
        client = await self.luma.client(job.org_id)
        present = await self._on_the_list(client, job.event_id)
        async with self.sessions.begin() as session:
            marked = await session.execute(
                update(InviteItem)
                .where(
                    InviteItem.job_id == job.job_id,
                    InviteItem.state == "pending",
                    InviteItem.key.in_(sorted(present)),
                )
                .values(state="already", detail="already on the guest list")
                .execution_options(synchronize_session=False)
            )
        return int(getattr(marked, "rowcount", 0) or 0)

    @activity.defn
    async def send_invite_batch(self, batch: InviteBatch) -> int:
        """Send the next `limit` addresses not sent yet (and resend any an attempt claimed but
        may not have sent); how many went out, 0 when none are left."""
        async with self.sessions.begin() as session:
            items = (
                await session.scalars(
                    select(InviteItem)
                    .where(
                        InviteItem.job_id == batch.job_id,
                        InviteItem.state.in_(("pending", "sending")),
                    )
                    .order_by(InviteItem.id)
                    .limit(batch.limit)
                )
            ).all()
            ids = [item.id for item in items]
            await session.execute(
                update(InviteItem).where(InviteItem.id.in_(ids)).values(state="sending")
            )
        if not items:
            return 0
        client = await self.luma.client(batch.org_id)
        with luma_failures_are_final():
            if batch.how == "invite":
                await client.send_invites(batch.event_id, [item.email for item in items])
            else:
                await client.add_guests(batch.event_id, [(i.email, i.name) for i in items])
        async with self.sessions.begin() as session:
            await session.execute(
                update(InviteItem).where(InviteItem.id.in_(ids)).values(state="sent")
            )
        return len(items)

    @activity.defn
    async def reconcile_invites(self, job: InviteJobInput) -> InviteTotals:
        """Read the guest list back: every sent address is added or refused; the totals."""
        client = await self.luma.client(job.org_id)
        present = await self._on_the_list(client, job.event_id)
        async with self.sessions.begin() as session:
            sent = InviteItem.job_id == job.job_id, InviteItem.state == "sent"
            await session.execute(
                update(InviteItem)
                .where(*sent, InviteItem.key.in_(sorted(present)))
                .values(state="added", detail="on the guest list")
                .execution_options(synchronize_session=False)
            )
            await session.execute(
                update(InviteItem)
                .where(*sent)
                .values(state="refused", detail="Luma took the request but did not list them")
                .execution_options(synchronize_session=False)
            )
            counts = dict(
                (
                    await session.execute(
                        select(InviteItem.state, func.count())
                        .where(InviteItem.job_id == job.job_id)
                        .group_by(InviteItem.state)
                    )
                ).all()
            )
            refused = list(
                await session.scalars(
                    select(InviteItem.email)
                    .where(InviteItem.job_id == job.job_id, InviteItem.state == "refused")
                    .order_by(InviteItem.id)
                    .limit(REFUSED_SHOWN)
                )
            )
            await audit.record(
                session,
                org_id=job.org_id,
                source="workflow",
                action=f"invite_list_{job.how}",
                result="done",
                target={"event_id": job.event_id, "job": job.job_id} | counts,
                actor_user_id=job.requested_by,
                chat_id=job.chat_id,
                idempotency_key=f"invite-list:{job.job_id}",
            )
        return InviteTotals({str(k): int(v) for k, v in counts.items()}, refused)
