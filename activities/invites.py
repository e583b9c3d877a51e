"""The I/O of invite list jobs: look at the guest list, send the rest, reconcile.

Luma's add and invite calls answer with nothing per address, so what happened to each one
is read back from the guest list: an address that was there before the job sent anything is
"already"; one sent and on the list afterwards is "added"; one sent and still not on it is
"refused". Each step can be retried: a send claims its addresses first ("sending"), and
Luma leaves people already on the list as they are, so a retried batch changes no one twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from temporalio import activity

from activities.heartbeat import heartbeating
from activities.luma_access import LumaAccess, luma_failures_are_final
from catalog.guest_filter import person_key
from luma import BadRequestError, LumaClient
from store import audit
from store.models import InviteItem
from workflows.contracts.invites import InviteBatch, InviteJobInput, InviteTotals

REFUSED_SHOWN = 10


class InviteActivities:
    def __init__(self, luma: LumaAccess) -> None:
        self.luma = luma
        self.sessions = luma.sessions

    async def _on_the_list(self, client: LumaClient, event_id: str) -> set[str]:
        async with heartbeating("reading the guest list"):
            with luma_failures_are_final():
                return {person_key(g.email) async for g in client.iter_guests(event_id)}

    async def _keys_in(self, job_id: str, state: str, present: set[str]) -> list[str]:
        """The job's addresses in `state` that are on the list (its own keys, at most a list's
        length, rather than one bound parameter per guest of the event)."""
        async with self.sessions() as session:
            keys = await session.scalars(
                select(InviteItem.key).where(InviteItem.job_id == job_id, InviteItem.state == state)
            )
            return sorted(set(keys) & present)

    @activity.defn
    async def mark_already_invited(self, job: InviteJobInput) -> int:
        """Addresses already on the guest list (fresh from Luma) are left alone."""
        client = await self.luma.client(job.org_id)
        present = await self._keys_in(
            job.job_id, "pending", await self._on_the_list(client, job.event_id)
        )
        async with self.sessions.begin() as session:
            marked = await session.execute(
                update(InviteItem)
                .where(
                    InviteItem.job_id == job.job_id,
                    InviteItem.state == "pending",
                    InviteItem.key.in_(present),
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
        async with heartbeating(len(items)):
            refusal = await self._send(client, batch, items)
        outcome = {"state": "sent"} if refusal is None else {"state": "refused", "detail": refusal}
        async with self.sessions.begin() as session:
            await session.execute(
                update(InviteItem).where(InviteItem.id.in_(ids)).values(**outcome)
            )
        return len(items)

    async def _send(self, client: LumaClient, batch: InviteBatch, items: Any) -> str | None:
        """Luma's refusal of the request, if it refused it (the batch is then refused, in
        the report with Luma's words, and the job goes on with the next one)."""
        with luma_failures_are_final():
            try:
                if batch.how == "invite":
                    await client.send_invites(batch.event_id, [item.email for item in items])
                else:
                    await client.add_guests(batch.event_id, [(i.email, i.name) for i in items])
            except BadRequestError as exc:
                return exc.user_message[:300]
        return None

    @activity.defn
    async def reconcile_invites(self, job: InviteJobInput) -> InviteTotals:
        """Read the guest list back: every sent address is added or refused; the totals."""
        client = await self.luma.client(job.org_id)
        present = await self._keys_in(
            job.job_id, "sent", await self._on_the_list(client, job.event_id)
        )
        async with self.sessions.begin() as session:
            sent = InviteItem.job_id == job.job_id, InviteItem.state == "sent"
            await session.execute(
                update(InviteItem)
                .where(*sent, InviteItem.key.in_(present))
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
