"""What happens when someone approves or declines one guest.

The bot's Confirm and the API's `POST /v1/events/{id}/guests/{email}/status` come here. The
change runs as a short workflow and this waits for Luma's answer; the workflow's activity
writes the audit row (with the caller's source, user and chat), beside the cache update, so
it is written once, whether the change was made or the guest was already there.
"""

from __future__ import annotations

import html

from luma import InvalidEmailError, normalize_email
from services.automations import Automations, GuestStatusError
from services.caller import Caller, Conflict, Invalid
from workflows.contracts.guest_status import GuestStatusChange, GuestStatusResult


async def set_guest_status(
    caller: Caller,
    *,
    automations: Automations,
    event_id: str,
    email: str,
    target_status: str,
    should_refund: bool | None = None,
) -> GuestStatusResult:
    """Change one guest's status. Raises `Invalid` for a malformed email, `Forbidden` for a
    member, and `Conflict` when Luma refuses (no such guest, a refund choice is needed)."""
    try:
        address = normalize_email(email)
    except InvalidEmailError as exc:
        raise Invalid(html.escape(exc.user_message, quote=False)) from None
    caller.require_guest_writer()
    change = GuestStatusChange(
        org_id=caller.org_id,
        event_id=event_id,
        email=address,
        target_status=target_status,
        should_refund=should_refund,
        requested_by=caller.user_id,
        chat_id=caller.chat_id,
        source=caller.source,
    )
    try:
        return await automations.set_guest_status(change)
    except GuestStatusError as exc:
        raise Conflict(html.escape(str(exc), quote=False)) from None
