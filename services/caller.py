"""Who is asking, and the typed ways a use case says no.

Every use case in `services` takes a `Caller` first: the org it acts in, the person (or API
token) and their role there, and where the request came from (for the audit log). It returns
a result or raises a `Refusal`; each interface renders a refusal its own way (the bot as a
reply, the API as a JSON error with `Refusal.status`, the portal as an error page), so the
rule and its wording exist once, here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from store.models import Role

Source = Literal["bot", "api", "web"]

ADMIN_ONLY = (
    "Only admins of this calendar can do that: members with the admin role "
    "(an admin gives it with /role)."
)
GUEST_WRITERS_ONLY = (
    "Only admins of this calendar, or this group's Telegram administrators, can approve or "
    "decline guests."
)


@dataclass(frozen=True)
class Caller:
    """The identity a use case acts for; built by the interface that authenticated it."""

    org_id: int
    role: Role
    source: Source
    user_id: int | None = None  # the Telegram user; None for an API token
    chat_id: int | None = None  # the chat a bot request came from (reports go there)
    # A Telegram administrator of the group the request came from: trusted with that group's
    # guest decisions (approve, decline, bulk), never with the org's settings.
    group_approver: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def may_change_guests(self) -> bool:
        return self.is_admin or self.group_approver

    def require_admin(self) -> None:
        """Org-wide changes (roles, tokens, keys, settings) are for admin members only."""
        if not self.is_admin:
            raise Forbidden(ADMIN_ONLY)

    def require_guest_writer(self) -> None:
        """Approving and declining: admins, and a group's administrators in that group."""
        if not self.may_change_guests:
            raise Forbidden(GUEST_WRITERS_ONLY)


class Refusal(Exception):
    """A use case declined; `message` is one sentence fit to show a person (HTML-safe)."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "refused"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(Refusal):
    """The request itself is wrong (bad email, unknown status, empty filter)."""

    status = 422
    code = "invalid_input"  # what the API answers for every other 422


class Forbidden(Refusal):
    """The caller's role does not allow it."""

    status = 403
    code = "forbidden"


class NotFound(Refusal):
    """No such thing in the caller's org (another org's ids look exactly the same)."""

    status = 404
    code = "not_found"


class Conflict(Refusal):
    """It cannot apply now (the job already ended, Luma said no to the change)."""

    status = 409
    code = "conflict"


class Unavailable(Refusal):
    """A service it needs is down or no worker answered in time; the sentence says which, and
    whether the request was dropped or will still apply."""

    status = 503
    code = "unavailable"


class PlanLimit(Refusal):
    """The org's plan does not allow this much; `limit` names which limit."""

    status = 403  # what the API has always answered for a plan limit
    code = "plan_limit"

    def __init__(self, message: str, *, limit: str) -> None:
        super().__init__(message)
        self.limit = limit
