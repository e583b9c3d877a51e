"""Sign-in links, browser sessions and CSRF tokens of the web portal.

The bot hands a person a link carrying `org.user.expiry.nonce.signature`: the HMAC proves we
made it, the expiry bounds it to ten minutes, and the nonce's hash in `web_signin_links` makes
it single use (claimed by one conditional UPDATE). Opening it creates a `web_sessions` row;
the cookie holds a random id of which only the SHA-256 is stored, and every form carries the
session's CSRF token. The role is read from the memberships on every request, so removing a
member or demoting an admin takes effect at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.compare import same_secret
from core.settings import Settings
from store.db import rowcount
from store.models import Organization, Role, User, WebSession, WebSignInLink, utcnow
from store.orgs import get_role

LINK_LIFETIME = timedelta(minutes=10)
KEEP_SPENT = timedelta(days=1)
COOKIE = "lumabot_web"
_LINK_LABEL = b"lumabot web sign-in links v1"


class SignInRefused(Exception):
    """A link that is forged, expired, already used, or for someone no longer a member."""


def signing_key(settings: Settings) -> bytes:
    """A key of its own for links, derived from the first encryption key (bot and API share it)."""
    master = settings.resolved_encryption_keys()[0].encode()
    return hmac.new(master, _LINK_LABEL, hashlib.sha256).digest()


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _signature(key: bytes, payload: str) -> str:
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()[:32]


async def issue_signin_link(
    session: AsyncSession,
    *,
    settings: Settings,
    user_id: int,
    org_id: int,
    now: datetime | None = None,
) -> str:
    """A one-time sign-in URL for this person and org (the bot sends it; caller commits)."""
    now = now or utcnow()
    # Spent and stale rows have no use left; each new link sweeps them.
    await session.execute(delete(WebSignInLink).where(WebSignInLink.expires_at < now - KEEP_SPENT))
    await session.execute(delete(WebSession).where(WebSession.expires_at < now - KEEP_SPENT))
    expires = now + LINK_LIFETIME
    nonce = secrets.token_urlsafe(24)
    payload = f"{org_id}.{user_id}.{int(expires.timestamp())}.{nonce}"
    session.add(
        WebSignInLink(
            nonce_hash=_digest(nonce),
            org_id=org_id,
            user_id=user_id,
            created_at=now,
            expires_at=expires,
        )
    )
    await session.flush()
    token = f"{payload}.{_signature(signing_key(settings), payload)}"
    return f"{settings.public_url.rstrip('/')}/web/signin?t={token}"


def _parse(token: str, key: bytes) -> tuple[int, int, datetime, str]:
    parts = token.split(".")
    if len(parts) != 5 or len(token) > 300:
        raise SignInRefused("This sign-in link is not one of ours.")
    org, user, expiry, nonce, signature = parts
    payload = f"{org}.{user}.{expiry}.{nonce}"
    if not same_secret(signature, _signature(key, payload)):
        raise SignInRefused("This sign-in link is not one of ours.")
    try:
        return int(org), int(user), datetime.fromtimestamp(int(expiry), UTC), nonce
    except (ValueError, OverflowError, OSError):
        raise SignInRefused("This sign-in link is not one of ours.") from None


@dataclass(frozen=True)
class NewSession:
    cookie: str  # the only time the plaintext id exists
    org_id: int
    user_id: int


@dataclass(frozen=True)
class SignInOffer:
    """What a sign-in link would open, shown before anything is signed in."""

    org_name: str
    person: str


async def inspect_signin_link(
    session: AsyncSession, *, settings: Settings, token: str, now: datetime | None = None
) -> SignInOffer:
    """Check a link without spending it: the page names the calendar and the person before a
    POST signs in, so a link someone else sends cannot sign a visitor into their account
    unawares (login CSRF), and link scanners that open every URL spend nothing."""
    now = now or utcnow()
    org_id, user_id, expires, nonce = _parse(token, signing_key(settings))
    if expires <= now:
        raise SignInRefused("This sign-in link has expired. Send /web to the bot for a new one.")
    live = await session.scalar(
        select(WebSignInLink.nonce_hash).where(
            WebSignInLink.nonce_hash == _digest(nonce),
            WebSignInLink.org_id == org_id,
            WebSignInLink.user_id == user_id,
            WebSignInLink.used_at.is_(None),
            WebSignInLink.expires_at > now,
        )
    )
    org = await session.get(Organization, org_id)
    if live is None or org is None:
        raise SignInRefused(
            "This sign-in link was already used or has expired. Send /web to the bot for a new one."
        )
    user = await session.get(User, user_id)
    person = (
        f"@{user.username}" if user and user.username else (user and user.full_name) or str(user_id)
    )
    return SignInOffer(org.name, person)


async def redeem_signin_link(
    session: AsyncSession,
    *,
    settings: Settings,
    token: str,
    now: datetime | None = None,
) -> NewSession:
    """Trade a valid, unexpired, unused link for a new session; the link is spent."""
    now = now or utcnow()
    org_id, user_id, expires, nonce = _parse(token, signing_key(settings))
    if expires <= now:
        raise SignInRefused("This sign-in link has expired. Send /web to the bot for a new one.")
    claimed = await session.execute(
        update(WebSignInLink)
        .where(
            WebSignInLink.nonce_hash == _digest(nonce),
            WebSignInLink.org_id == org_id,
            WebSignInLink.user_id == user_id,
            WebSignInLink.used_at.is_(None),
            WebSignInLink.expires_at > now,
        )
        .values(used_at=now)
    )
    if rowcount(claimed) != 1:
        raise SignInRefused(
            "This sign-in link was already used or has expired. Send /web to the bot for a new one."
        )
    if await get_role(session, org_id=org_id, user_id=user_id) is None:
        raise SignInRefused("You are no longer a member of this calendar.")
    cookie = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            id_hash=_digest(cookie),
            user_id=user_id,
            org_id=org_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + timedelta(hours=settings.web_session_hours),
        )
    )
    await session.flush()
    return NewSession(cookie, org_id, user_id)


@dataclass(frozen=True)
class Viewer:
    """The signed-in person on this request, the org they look at, and their role in it."""

    session_id: str
    user_id: int
    org_id: int
    role: Role
    csrf_token: str

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


async def viewer_for_cookie(
    session: AsyncSession, *, cookie: str | None, now: datetime | None = None
) -> Viewer | None:
    """The live session behind a cookie with the role it has now, or None."""
    if not cookie or len(cookie) > 100:
        return None
    now = now or utcnow()
    row = await session.scalar(
        select(WebSession).where(
            WebSession.id_hash == _digest(cookie),
            WebSession.revoked_at.is_(None),
            WebSession.expires_at > now,
        )
    )
    if row is None:
        return None
    role = await get_role(session, org_id=row.org_id, user_id=row.user_id)
    if role is None:
        return None
    return Viewer(row.id_hash, row.user_id, row.org_id, role, row.csrf_token)


def csrf_ok(viewer: Viewer, submitted: str | None) -> bool:
    """The session-bound token every form posts back; compared in constant time."""
    return bool(submitted) and same_secret(submitted, viewer.csrf_token)


async def switch_org(session: AsyncSession, *, viewer: Viewer, org_id: int) -> bool:
    """Point the session at another org the person belongs to; False if they do not."""
    if await get_role(session, org_id=org_id, user_id=viewer.user_id) is None:
        return False
    await session.execute(
        update(WebSession).where(WebSession.id_hash == viewer.session_id).values(org_id=org_id)
    )
    return True


async def sign_out(session: AsyncSession, *, viewer: Viewer) -> None:
    await session.execute(
        update(WebSession)
        .where(WebSession.id_hash == viewer.session_id)
        .values(revoked_at=utcnow())
    )
