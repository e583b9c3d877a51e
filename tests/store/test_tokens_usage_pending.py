"""API tokens, daily quotas and one-shot confirmations, on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from store import orgs, pending, tokens, usage
from store.models import ApiToken, Role
from store.orgs import remove_member, set_role


async def _org(sessions, keybox, unique: str, label: str) -> int:
    async with sessions.begin() as session:
        org = await orgs.save_org(
            session,
            calendar_id=f"cal-{label}-{unique}",
            name=label,
            luma_key=f"secret-{label}-{unique}",
            keybox=keybox,
        )
        return org.id


async def test_tokens_are_hashed_scoped_and_revocable(sessions, keybox, unique) -> None:
    org_a = await _org(sessions, keybox, unique, "ta")
    org_b = await _org(sessions, keybox, unique, "tb")
    maker = 7_900_000_000 + int(unique, 16) % 1_000_000
    async with sessions.begin() as session:
        await set_role(session, org_id=org_a, user_id=maker, role=Role.ADMIN)
        issued = await tokens.issue_token(session, org_id=org_a, created_by=maker, name="ci")
    async with sessions.begin() as session:
        holder = await tokens.token_holder(session, token=issued.token)
        assert holder == tokens.TokenHolder(org_a, maker, Role.ADMIN)
        row = await session.get(ApiToken, issued.id)
        assert row is not None and issued.token not in (row.token_hash, row.prefix)
        assert row.last_used_at is not None
        assert await tokens.token_holder(session, token=issued.token + "x") is None
        assert await tokens.revoke_token(session, org_id=org_b, prefix_or_id=issued.prefix) == 0
        # The maker demoted: their tokens are revoked for good (promoting them back later
        # does not revive them); removed, the same.
        second = await tokens.issue_token(session, org_id=org_a, created_by=maker, name="b")
        await set_role(session, org_id=org_a, user_id=maker, role=Role.MEMBER)
        await set_role(session, org_id=org_a, user_id=maker, role=Role.ADMIN)
        assert await tokens.token_holder(session, token=issued.token) is None
        assert await tokens.token_holder(session, token=second.token) is None
        third = await tokens.issue_token(session, org_id=org_a, created_by=maker, name="c")
        await remove_member(session, org_id=org_a, user_id=maker)
        await set_role(session, org_id=org_a, user_id=maker, role=Role.ADMIN)
        assert await tokens.token_holder(session, token=third.token) is None


async def test_daily_quota_holds_under_concurrency(sessions, keybox, unique) -> None:
    org_id = await _org(sessions, keybox, unique, "q")
    quota = usage.DailyQuota(sessions, kind="gemini", limit=5)
    today = date(2026, 11, 25)
    granted = await asyncio.gather(*(quota.try_consume(org_id, day=today) for _ in range(12)))
    assert sum(granted) == 5
    assert await quota.try_consume(org_id, day=today + timedelta(days=1))
    async with sessions() as session:
        assert await usage.usage(session, org_id=org_id, day=today) == {"gemini": 5}


async def test_pending_action_taken_once_by_its_chat(sessions, keybox, unique) -> None:
    org_id = await _org(sessions, keybox, unique, "p")
    async with sessions.begin() as session:
        action_id = await pending.park(
            session, org_id=org_id, chat_id=10, user_id=1, kind="bulk", payload={"n": 3}
        )
        expired = await pending.park(
            session,
            org_id=org_id,
            chat_id=10,
            user_id=1,
            kind="bulk",
            payload={},
            ttl=timedelta(seconds=-1),
        )
    async with sessions.begin() as session:
        assert await pending.take(session, action_id=action_id, chat_id=11) is None
        taken = await pending.take(session, action_id=action_id, chat_id=10)
        assert taken is not None and taken.payload == {"n": 3}
        assert await pending.take(session, action_id=action_id, chat_id=10) is None
        assert await pending.take(session, action_id=expired, chat_id=10) is None
