"""Benchmark: one page of the portal's guest browser over a 50,000-guest event, per view.

Every filter and sort the portal offers, first pages and pages after a deep row's cursor, on
PostgreSQL: each page costs one count and one keyset page, so it should not grow with the
event. Also the VIP filter, which scores the event's people in Python (`intel.vip`). Prints
each against its target; exits 1 when one is over.

    .venv/bin/python bench/guest_pages.py     # PostgreSQL on :5432 (BENCH_PG to change)
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import replace

from cryptography.fernet import Fernet
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.bulk import database  # a throwaway database on the local PostgreSQL
from catalog.guest_query import cursor_for
from core.settings import Settings
from intel.vip import VipRules
from store.crypto import KeyBox
from store.db import create_engine, session_factory
from store.models import Guest
from store.orgs import save_org
from store.profiles import add_tag
from tests.web.test_guest_query import DEEP, FILL, GUESTS, VIEWS
from web.guest_query import GuestView, browse

PAGE_TARGET_SECONDS = 0.5  # count + sorted page, on a busy 2-core machine
VIP_TARGET_SECONDS = 10.0  # the VIP filter scores every person of the event


async def seeded(url: str) -> tuple[async_sessionmaker[AsyncSession], int]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    async with sessions.begin() as session:
        org = await save_org(
            session,
            calendar_id="cal-bench-pages",
            name="Big",
            luma_key="secret-big-key",
            keybox=KeyBox([Fernet.generate_key().decode()]),
        )
        await session.execute(FILL, {"org": org.id, "n": GUESTS})
        for email, tag in (("p8@d8.com", "speaker"), ("p9@d9.com", "vip")):
            await add_tag(session, org_id=org.id, normalized_email=email, tag=tag, user_id=None)
        await session.execute(text("ANALYZE guests"))
    return sessions, org.id


async def timed_page(
    sessions: async_sessionmaker[AsyncSession], org_id: int, view: GuestView, rules: VipRules
) -> float:
    async with sessions() as session:
        await browse(session, org_id=org_id, event_id="evt-big", view=view, rules=rules)  # warm
        started = time.perf_counter()
        await browse(session, org_id=org_id, event_id="evt-big", view=view, rules=rules)
        return time.perf_counter() - started


async def deep(
    sessions: async_sessionmaker[AsyncSession], org_id: int, view: GuestView
) -> GuestView:
    """The view's page after the 45,000th guest registered."""
    async with sessions() as session:
        row = await session.scalar(
            select(Guest).where(Guest.org_id == org_id, Guest.luma_guest_id == "gst-45000")
        )
    assert row is not None
    sort = view.guest_sort()
    value = row.registered_at if sort.key == "registered_at" else row.name.lower()
    return replace(view, after=cursor_for(sort, value, row.id))


async def main() -> int:
    rules = VipRules.from_settings(Settings(_env_file=None))
    worst = 0.0
    async with database() as url:
        sessions, org_id = await seeded(url)
        for name, view in VIEWS.items():
            wanted = await deep(sessions, org_id, view) if name in DEEP else view
            elapsed = await timed_page(sessions, org_id, wanted, rules)
            ratio = elapsed / PAGE_TARGET_SECONDS
            worst = max(worst, ratio)
            print(f"page, {name}: {elapsed * 1000:.0f} ms = {ratio:.3f}x target")
        elapsed = await timed_page(sessions, org_id, GuestView(vip=True, sort="email"), rules)
        ratio = elapsed / VIP_TARGET_SECONDS
        worst = max(worst, ratio)
        print(f"VIP filter over {GUESTS} guests: {elapsed:.2f} s = {ratio:.3f}x target")
    print(f"worst: {worst:.3f}x target (target <= 1.0x)")
    return 0 if worst <= 1.0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
