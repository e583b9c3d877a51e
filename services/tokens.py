"""Control-API tokens: issue (the plaintext exists once, only the hash is stored), list, revoke.

The bot's `/token new|list|revoke` and the portal's key page both come here, so issuing and
revoking are admin-only and audited the same way whichever interface does it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from html import escape

from sqlalchemy.ext.asyncio import AsyncSession

from core.logs import secrets as log_secrets
from services import audit
from services.caller import Caller, Invalid, NotFound
from store import tokens
from store.models import ApiToken, utcnow
from store.tokens import IssuedToken

MAX_NAME = 100
MAX_DAYS = 3650
MAX_ID_DIGITS = 9  # longer numbers are no token id (and would overflow the column)


async def issue(
    caller: Caller, session: AsyncSession, *, name: str = "", days: int | None = None
) -> IssuedToken:
    """A new token for the caller's org, working until revoked, or for `days` days; the
    returned plaintext is never stored or logged."""
    caller.require_admin()
    name = name.strip()
    if len(name) > MAX_NAME:
        raise Invalid(f"A token's name is at most {MAX_NAME} characters.")
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise Invalid(f"A token can be made for 1 to {MAX_DAYS} days.")
    expires_at = utcnow() + timedelta(days=days) if days is not None else None
    issued = await tokens.issue_token(
        session, org_id=caller.org_id, created_by=caller.user_id, name=name, expires_at=expires_at
    )
    log_secrets.add(issued.token)
    await audit.record(
        caller, session, "token_issue", {"prefix": issued.prefix, "name": name, "days": days}
    )
    return issued


async def active(caller: Caller, session: AsyncSession) -> Sequence[ApiToken]:
    """The org's tokens that still work: prefixes and names only (the plaintext is gone), so
    members may read the list; issuing and revoking are for admins."""
    return await tokens.list_tokens(session, org_id=caller.org_id)


async def revoke(caller: Caller, session: AsyncSession, *, ref: str) -> int:
    """Revoke the org's token(s) matching an id or a shown prefix; how many stopped working."""
    caller.require_admin()
    ref = ref.strip()
    count = 0
    if ref and not (ref.isdigit() and len(ref) > MAX_ID_DIGITS):
        count = await tokens.revoke_token(session, org_id=caller.org_id, prefix_or_id=ref)
    if not count:
        # Another org's token looks exactly like an unknown one.
        raise NotFound(f"No active token matches “{escape(ref[:20])}”.")
    await audit.record(caller, session, "token_revoke", {"ref": ref[:16], "count": count})
    return count
