"""One guest's status, changed on an organizer's say-so (bot or API)."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.luma_access import LumaAccess, luma_failures_are_final
from activities.sync import cache_one_guest
from luma import InvalidEmailError, normalize_email
from store import audit, cache
from workflows.contracts.guest_status import GuestStatusChange, GuestStatusResult


class GuestStatusActivities:
    def __init__(self, luma: LumaAccess) -> None:
        self.luma = luma
        self.sessions = luma.sessions

    @activity.defn
    async def set_guest_status(self, change: GuestStatusChange) -> GuestStatusResult:
        """Read the guest fresh, skip if already there, else update, cache and audit."""
        try:
            email = normalize_email(change.email)
        except InvalidEmailError as exc:
            raise ApplicationError(exc.user_message, type="BadEmail", non_retryable=True) from None
        client = await self.luma.client(change.org_id, interactive=True)
        with luma_failures_are_final():
            guest = await client.get_guest(change.event_id, email=email)
            before = guest.approval_status
            changed = before != change.target_status
            if changed:
                needs_choice = change.target_status == "declined" and guest.is_paid
                if needs_choice and change.should_refund is None:
                    raise ApplicationError(
                        f"{email} has a paid ticket: say whether to refund before declining",
                        type="RefundChoiceNeeded",
                        non_retryable=True,
                    )
                await client.update_guest_status(
                    change.event_id,
                    guest_id=guest.id,
                    status=change.target_status,
                    should_refund=change.should_refund if guest.is_paid else None,
                )
        async with self.sessions.begin() as session:
            # The fresh read first, then the status Luma accepted (the one store path every
            # status write of ours goes through, bulk jobs included).
            await cache_one_guest(session, change.org_id, change.event_id, guest)
            if changed:
                await cache.set_guest_status(
                    session,
                    org_id=change.org_id,
                    luma_event_id=change.event_id,
                    luma_guest_ids=[guest.id],
                    status=change.target_status,
                )
            await audit.record(
                session,
                org_id=change.org_id,
                source=change.source,
                action=f"set_{change.target_status}",
                result=change.target_status if changed else f"already {before}",
                target={"event_id": change.event_id, "email": email},
                actor_user_id=change.requested_by,
                chat_id=change.chat_id,
                idempotency_key=change.idempotency_key or None,
            )
        return GuestStatusResult(email, guest.name or "", before, change.target_status, changed)
