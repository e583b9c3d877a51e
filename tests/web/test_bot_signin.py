"""/web in the bot, end to end: the link it sends privately signs that person in to the portal."""

from __future__ import annotations

import httpx

from tests.bot.conftest import bot_keybox, bot_with, services  # noqa: F401 (fixtures)
from tests.web.conftest import follow_signin
from web.auth import COOKIE


def _link_in(message) -> str:
    links = [entity["url"] for entity in message.entities if entity.get("type") == "text_link"]
    assert len(links) == 1, message.text
    return links[0]


async def test_web_command_sends_a_private_sign_in_link(portal, bot_with) -> None:  # noqa: F811
    async with bot_with(settings=portal.settings) as world:
        calendar = await world.calendar(sync=False)
        admin = world.person()
        group = world.group(admin=admin)
        await world.link(calendar, group, admin)

        # Never talked to the bot in private: it cannot write there, and says how to fix that.
        blocked = await world.say(group, admin, "/web")
        assert "open a chat with me, press Start" in (blocked.text or "")

        await world.say(admin, admin, "/start")
        said = await world.say(group, admin, "/web")
        assert "private chat" in (said.text or "")
        private = await world.next_message(admin)
        assert "expires in 10 minutes" in (private.text or "")
        link = _link_in(private)
        assert link.startswith(f"{portal.url}/web/signin?t={calendar.org_id}.{admin}.")

        async with httpx.AsyncClient(base_url=portal.url) as browser:
            signed_in = await follow_signin(browser, link)
            assert signed_in.status_code == 303 and browser.cookies.get(COOKIE)
            events = await browser.get("/web/events")
            assert events.status_code == 200 and calendar.name in events.text

        stranger = world.person()
        refused = await world.say(group, stranger, "/web")
        assert "not a member" in (refused.text or "")
