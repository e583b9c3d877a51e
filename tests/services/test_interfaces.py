"""One rule, three interfaces: the bot, the control API and the portal refuse the same thing
with the same sentence, because each is a thin adapter over the same use case."""

from __future__ import annotations

import html
import uuid
from collections.abc import AsyncIterator

import pytest

from core.settings import Settings
from services.team import LAST_ADMIN
from store.models import Role
from store.orgs import link_chat, set_role
from store.tokens import issue_token
from tests.billing import conftest as billing_fixtures
from tests.bot import conftest as bot_fixtures
from tests.bot.conftest import World
from tests.web import conftest as web_fixtures
from tests.web.conftest import Portal, csrf_of
from workflows import ids

services = bot_fixtures.services
bot_keybox = bot_fixtures.bot_keybox
bot_with = bot_fixtures.bot_with
portal = web_fixtures.portal
billed_portal = web_fixtures.billed_portal
fake_stripe = billing_fixtures.fake_stripe
billing_settings = billing_fixtures.billing_settings  # billing on: new orgs are on Free

FREE_FLOOR = "Your Free plan syncs at most every 60 minutes, so every 15 minutes is not possible."


@pytest.fixture
async def billed_bot(bot_with, billing_settings: Settings) -> AsyncIterator[World]:
    async with bot_with(settings=billing_settings) as world:
        yield world


async def test_a_sync_interval_below_the_plan_is_one_sentence_everywhere(
    billed_bot: World, billed_portal: Portal
) -> None:
    portal = billed_portal
    _, chat, admin = await billed_bot.linked_group()
    bot_reply = await billed_bot.say(chat, admin, "/sync every 15")
    assert FREE_FLOOR in (bot_reply.text or "")

    async with portal.sessions.begin() as session:
        maker = 7_999_000_001
        await set_role(session, org_id=portal.org.org_id, user_id=maker, role=Role.ADMIN)
        token = (await issue_token(session, org_id=portal.org.org_id, created_by=maker)).token
    async with portal.signed_in(Role.ADMIN) as web:
        api = await web.put(
            "/v1/sync/schedule",
            json={"interval_minutes": 15},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert api.status_code == 403 and api.json()["error"]["code"] == "plan_limit"
        assert FREE_FLOOR in api.json()["error"]["message"]
        form = {"csrf": csrf_of((await web.get("/web/automations")).text), "interval": "15"}
        page = await web.post("/web/automations/sync", data=form)
        assert page.status_code == 403 and FREE_FLOOR in html.unescape(page.text)
    assert not await portal.automations.schedule_exists(ids.sync_schedule_id(portal.org.org_id))


async def test_the_last_admin_stays_in_the_bot_and_the_portal(
    billed_bot: World, billed_portal: Portal
) -> None:
    _, chat, admin = await billed_bot.linked_group()
    bot_reply = await billed_bot.say(chat, admin, f"/role {admin} member")
    assert (bot_reply.text or "") == LAST_ADMIN

    portal = billed_portal
    async with portal.signed_in(Role.ADMIN) as web:  # the org's only admin
        form = {
            "csrf": csrf_of((await web.get("/web/team")).text),
            "user_id": str(web.user_id),
            "role": "member",
        }
        page = await web.post("/web/team/role", data=form)
        assert page.status_code == 409 and LAST_ADMIN in html.unescape(page.text)


async def test_a_bad_time_zone_is_one_sentence_in_the_bot_and_the_portal(
    billed_bot: World, billed_portal: Portal
) -> None:
    sentence = "“Mars/Base” is not a time zone I know; use a name like Europe/Lisbon."
    _, chat, admin = await billed_bot.linked_group()
    bot_reply = await billed_bot.say(chat, admin, "/digest on 09:00 Mars/Base")
    assert (bot_reply.text or "") == sentence
    assert not await billed_bot.deps.automations.schedule_exists(ids.digest_schedule_id(chat))

    portal = billed_portal
    group = -(10**12) - uuid.uuid4().int % 10**9
    async with portal.signed_in(Role.ADMIN) as web:
        async with portal.sessions.begin() as session:
            await link_chat(
                session,
                chat_id=group,
                org_id=portal.org.org_id,
                kind="group",
                title="Ops",
                linked_by=web.user_id,
            )
        form = {
            "csrf": csrf_of((await web.get("/web/automations")).text),
            "chat_id": str(group),
            "digest": "on",
            "time": "09:00",
            "timezone": "Mars/Base",
        }
        page = await web.post("/web/automations/chat", data=form)
        assert page.status_code == 400 and sentence in html.unescape(page.text)
    assert not await portal.automations.schedule_exists(ids.digest_schedule_id(group))
