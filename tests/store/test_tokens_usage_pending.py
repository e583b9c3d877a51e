"""API tokens, daily quotas and one-shot confirmations, on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from store import orgs, pending, tokens, usage
from store.models import ApiToken


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
    async with sessions.begin() as session:
        issued = await tokens.issue_token(session, org_id=org_a, created_by=1, name="ci")
    async with sessions.begin() as session:
        assert await tokens.org_for_token(session, token=issued.token) == org_a
        row = await session.get(ApiToken, issued.id)
        assert row is not None and issued.token not in (row.token_hash, row.prefix)
        assert row.last_used_at is not None
        assert await tokens.org_for_token(session, token=issued.token + "x") is None
        assert await tokens.revoke_token(session, org_id=org_b, prefix_or_id=issued.prefix) == 0
        assert await tokens.revoke_token(session, org_id=org_a, prefix_or_id=issued.prefix) == 1
        assert await tokens.org_for_token(session, token=issued.token) is None


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
