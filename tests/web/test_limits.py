"""The portal's rate limits hold across API processes: two apps, each with its own
connections to the shared database and its own port, take turns with one client's sign-ins
and one person's form posts, and together allow each rate once."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx

from api.deps import ApiDeps, ApiLimits
from api.main import create_app
from core.http_server import serving
from store.db import create_engine, session_factory
from store.models import Role
from tests.request_limits import clear_of_window_edge
from tests.web.conftest import Portal, csrf_of
from web.auth import COOKIE
from web.deps import WebDeps

TIGHT = ApiLimits(
    portal_signins_per_minute=3, portal_writes_per_minute=2, portal_client_writes_per_minute=3
)


@asynccontextmanager
async def two_processes(portal: Portal, db_url: str) -> AsyncIterator[list[str]]:
    """The URLs of two more portals with the tight limits, the second on its own engine."""
    engine = create_engine(db_url)
    web = WebDeps(portal.settings, None)  # type: ignore[arg-type]  # no key is replaced
    try:
        async with AsyncExitStack() as stack:
            urls = []
            for sessions in (portal.sessions, session_factory(engine)):
                app = create_app(
                    portal.settings,
                    deps=ApiDeps(sessions, portal.automations),
                    web=web,
                    limits=TIGHT,
                )
                app.state.billing = portal.app.state.billing
                urls.append(await stack.enter_async_context(serving(app)))
            yield urls
    finally:
        await engine.dispose()


def _address() -> str:
    """A client address of this test's own (uvicorn takes X-Forwarded-For from 127.0.0.1)."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


async def test_signins_per_client_hold_across_processes(portal, db_url) -> None:
    await clear_of_window_edge(60.0)
    async with two_processes(portal, db_url) as urls, httpx.AsyncClient() as client:
        here = {"X-Forwarded-For": _address()}
        statuses = [
            (await client.get(f"{urls[turn % 2]}/web/signin?t=bogus", headers=here)).status_code
            for turn in range(4)
        ]
        assert statuses == [403, 403, 403, 429]  # 3 looks at a (refused) link, then no more
        limited = await client.post(f"{urls[0]}/web/signin", data={"t": "x"}, headers=here)
        assert limited.status_code == 429 and "Too many requests" in limited.text
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        elsewhere = {"X-Forwarded-For": _address()}  # another client has its own count
        assert (await client.get(f"{urls[1]}/web/signin?t=x", headers=elsewhere)).status_code == 403


async def test_writes_per_person_and_per_client_hold_across_processes(portal, db_url) -> None:
    here = {"X-Forwarded-For": _address()}

    async def post_as(person: httpx.AsyncClient, url: str) -> int:
        cookie = {"Cookie": f"{COOKIE}={person.cookies[COOKIE]}", **here}
        page = await person.get("/web/team")
        form = {"csrf": csrf_of(page.text), "org_id": str(portal.org.org_id)}
        async with httpx.AsyncClient() as client:
            return (await client.post(f"{url}/web/org", data=form, headers=cookie)).status_code

    await clear_of_window_edge(60.0)
    async with (
        two_processes(portal, db_url) as urls,
        portal.signed_in(Role.ADMIN) as first,
        portal.signed_in(Role.MEMBER) as second,
    ):
        # Two posts a minute per person, across both processes; the third is refused...
        assert [await post_as(first, urls[turn % 2]) for turn in range(3)] == [303, 303, 429]
        # ...and not counted for the address, which has room for one more post (3 a minute).
        assert [await post_as(second, urls[turn % 2]) for turn in range(2)] == [303, 429]
