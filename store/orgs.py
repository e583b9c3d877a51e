"""Organizations (Luma calendars), their encrypted keys, members and linked chats.

Every function takes the tenant (`org_id` or `chat_id`) as a required keyword argument,
so a query that forgets its tenant cannot be written by accident.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.crypto import KeyBox, fingerprint
from store.models import (
    ApiToken,
    Chat,
    Membership,
    Organization,
    RemovedMember,
    Role,
    User,
    WebSession,
    utcnow,
)


async def save_org(
    session: AsyncSession,
    *,
    calendar_id: str,
    name: str,
    luma_key: str,
    keybox: KeyBox,
    key_kind: str = "calendar",
) -> Organization:
    """Create the org for a verified key's calendar, or replace the key of an existing one;
    `key_kind` says whether the key is the calendar's own or its organization's."""
    org = await org_of_calendar(session, calendar_id=calendar_id)
    if org is None:
        org = Organization(
            luma_calendar_id=calendar_id,
            webhook_token=secrets.token_urlsafe(32),
        )
        session.add(org)
    org.name = name
    org.key_ciphertext = keybox.encrypt(luma_key)
    org.key_fingerprint = fingerprint(luma_key)
    org.key_kind = key_kind
    org.key_verified_at = utcnow()
    await session.flush()
    return org


async def org_of_calendar(session: AsyncSession, *, calendar_id: str) -> Organization | None:
    """The org of a Luma calendar, if it is linked (or was)."""
    return await session.scalar(
        select(Organization).where(Organization.luma_calendar_id == calendar_id)
    )


async def confirm_calendar(
    session: AsyncSession, *, org_id: int, calendar_id: str, name: str
) -> bool:
    """Key an org linked before tenants were calendars (on its owner's user id) on the
    calendar Luma names for its key. False, changing nothing, when another org already holds
    that calendar (two links of one calendar made under the old rule): an operator merges."""
    holder = await session.scalar(
        select(Organization.id).where(Organization.luma_calendar_id == calendar_id)
    )
    if holder is not None and holder != org_id:
        return False
    org = await session.get(Organization, org_id)
    if org is None:
        return False
    org.luma_calendar_id, org.name = calendar_id, name or org.name
    await session.flush()
    return True


async def get_org(session: AsyncSession, *, org_id: int) -> Organization | None:
    return await session.get(Organization, org_id)


async def luma_key(session: AsyncSession, *, org_id: int, keybox: KeyBox) -> str:
    """The org's decrypted Luma key, for the activity or request about to call Luma."""
    org = await session.get(Organization, org_id)
    if org is None:
        raise LookupError(f"organization {org_id} does not exist")
    return keybox.decrypt(org.key_ciphertext)


async def upsert_user(
    session: AsyncSession, *, user_id: int, username: str | None, full_name: str
) -> User:
    user = await session.get(User, user_id)
    if user is None:
        user = User(id=user_id)
        session.add(user)
    user.username, user.full_name = username, full_name
    await session.flush()
    return user


async def set_role(session: AsyncSession, *, org_id: int, user_id: int, role: Role) -> Membership:
    """Grant a role; a Telegram user we have not met yet gets a bare user row."""
    if await session.get(User, user_id) is None:
        session.add(User(id=user_id))
        await session.flush()
    membership = await session.scalar(
        select(Membership).where(Membership.org_id == org_id, Membership.user_id == user_id)
    )
    if membership is None:
        membership = Membership(org_id=org_id, user_id=user_id, role=role)
        session.add(membership)
    elif membership.role is Role.ADMIN and role is not Role.ADMIN:
        await _revoke_grants(session, org_id=org_id, user_id=user_id, sessions=False)
    membership.role = role
    removed = await session.get(RemovedMember, (org_id, user_id))
    if removed is not None:
        await session.delete(removed)
    await session.flush()
    return membership


async def get_role(session: AsyncSession, *, org_id: int, user_id: int) -> Role | None:
    return await session.scalar(
        select(Membership.role).where(Membership.org_id == org_id, Membership.user_id == user_id)
    )


async def remove_member(session: AsyncSession, *, org_id: int, user_id: int) -> bool:
    membership = await session.scalar(
        select(Membership).where(Membership.org_id == org_id, Membership.user_id == user_id)
    )
    if membership is None:
        return False
    await session.delete(membership)
    await _revoke_grants(session, org_id=org_id, user_id=user_id, sessions=True)
    if await session.get(RemovedMember, (org_id, user_id)) is None:
        session.add(RemovedMember(org_id=org_id, user_id=user_id))
    await session.flush()
    return True


async def _revoke_grants(
    session: AsyncSession, *, org_id: int, user_id: int, sessions: bool
) -> None:
    """What a person held in the org ends with their role, for good: re-adding them later
    does not bring back the API tokens they made (only admins make them) or, after a
    removal, their portal sessions."""
    await session.execute(
        update(ApiToken)
        .where(
            ApiToken.org_id == org_id,
            ApiToken.created_by == user_id,
            ApiToken.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    if sessions:
        await session.execute(
            delete(WebSession).where(WebSession.org_id == org_id, WebSession.user_id == user_id)
        )


async def list_members(session: AsyncSession, *, org_id: int) -> Sequence[tuple[User, Role]]:
    rows = await session.execute(
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == org_id)
        .order_by(User.id)
    )
    return [(user, role) for user, role in rows]


async def user_orgs(session: AsyncSession, *, user_id: int) -> Sequence[Organization]:
    """The orgs a user belongs to, for choosing one in a DM (`/use`)."""
    result = await session.scalars(
        select(Organization)
        .join(Membership, Membership.org_id == Organization.id)
        .where(Membership.user_id == user_id)
        .order_by(Organization.name)
    )
    return result.all()


async def link_chat(
    session: AsyncSession,
    *,
    chat_id: int,
    org_id: int,
    kind: str,
    title: str,
    linked_by: int,
) -> Chat:
    """Point a chat at an org; whoever links becomes one of its admins."""
    chat = await session.get(Chat, chat_id)
    if chat is None:
        chat = Chat(id=chat_id)
        session.add(chat)
    chat.kind, chat.title, chat.org_id = kind, title, org_id
    chat.linked_by_user_id, chat.linked_at = linked_by, utcnow()
    await session.flush()
    await set_role(session, org_id=org_id, user_id=linked_by, role=Role.ADMIN)
    return chat


async def unlink_chat(session: AsyncSession, *, chat_id: int) -> int | None:
    """Detach a chat from its org; returns the org it was linked to, if any."""
    chat = await session.get(Chat, chat_id)
    if chat is None or chat.org_id is None:
        return None
    org_id, chat.org_id, chat.linked_at = chat.org_id, None, None
    await session.flush()
    return org_id


async def chat_org(session: AsyncSession, *, chat_id: int) -> Organization | None:
    """The org this chat sees — the only one it ever may."""
    return await session.scalar(
        select(Organization).join(Chat, Chat.org_id == Organization.id).where(Chat.id == chat_id)
    )


async def org_chats(session: AsyncSession, *, org_id: int) -> Sequence[Chat]:
    result = await session.scalars(select(Chat).where(Chat.org_id == org_id).order_by(Chat.id))
    return result.all()
