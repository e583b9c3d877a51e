"""The bot with billing: /upgrade and /billing, /status usage, and limits where work costs us."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from billing import Billing, PlanQuota
from core.settings import Settings
from nlp import GeminiParser, IntentParser
from standins.gemini import FakeGemini, RunningFake, function_call
from standins.stripe import FakeStripe
from store.models import Chat, Organization
from tests.bot.conftest import World
from workflows import ids

Opener = Callable[..., AbstractAsyncContextManager[World]]


@pytest.fixture
async def billed(bot_with: Opener, billing_settings: Settings) -> AsyncIterator[World]:
    async with bot_with(settings=billing_settings) as world:
        yield world


async def _set_plan(world: World, org_id: int, plan: str) -> None:
    async with world.deps.sessions.begin() as session:
        org = await session.get(Organization, org_id)
        assert org is not None
        org.plan = plan


async def test_upgrade_and_billing_links(billed: World, fake_stripe: FakeStripe) -> None:
    world = billed
    calendar, chat, admin = await world.linked_group()
    member = world.person()

    refused = await world.say(chat, member, "/upgrade")
    assert refused.text is not None and "Only admins" in refused.text

    choices = await world.say(chat, admin, "/upgrade")
    assert "Free plan" in (choices.text or "")
    assert "/upgrade pro" in (choices.text or "") and "/upgrade team" in (choices.text or "")

    bad = await world.say(chat, admin, "/upgrade platinum")
    assert "not a plan you can upgrade to" in (bad.text or "")

    no_portal = await world.say(chat, admin, "/billing")
    assert "Plan: Free." in (no_portal.text or "") and "/upgrade starts one" in (
        no_portal.text or ""
    )

    before = len(fake_stripe.requests)
    link = await world.say(chat, admin, "/upgrade pro")
    buttons = {button["text"]: button.get("url") for button in link.buttons}
    assert (buttons["Upgrade to Pro"] or "").startswith("https://checkout.stripe.test/")
    checkout = fake_stripe.made("/v1/checkout/sessions")[-1]
    assert fake_stripe.requests[before].path == "/v1/customers"
    assert checkout.form["client_reference_id"] == str(calendar.org_id)
    assert checkout.form["metadata[org_id]"] == str(calendar.org_id)
    assert checkout.form["metadata[plan]"] == "pro"
    assert checkout.form["line_items[0][price]"] == "price_test_pro"
    async with world.deps.sessions() as session:
        org = await session.get(Organization, calendar.org_id)
    assert org is not None and org.plan == "free"  # only Stripe's webhook changes the plan

    portal = await world.say(chat, admin, "/billing")
    buttons = {button["text"]: button.get("url") for button in portal.buttons}
    assert (buttons["Manage subscription"] or "").startswith("https://billing.stripe.test/")
    customer = fake_stripe.made("/v1/billing_portal/sessions")[-1].form["customer"]
    assert customer == checkout.form["customer"]


async def test_billing_off_says_so(world: World) -> None:
    _, chat, admin = await world.linked_group()
    reply = await world.say(chat, admin, "/upgrade")
    assert reply.text == "Billing is off on this install: every calendar has the Team plan."
    status = await world.say(chat, admin, "/status")
    assert "Plan: Team (billing off on this install)." in (status.text or "")


async def test_bulk_over_the_plan_is_refused_in_the_bot(billed: World) -> None:
    world = billed
    calendar, chat, admin = await world.linked_group()
    # Founders Dinner has 6 pending guests; Free allows bulk jobs of 5.
    refused = await world.say(chat, admin, "/bulk approve Founders Dinner pending")
    text = refused.text or ""
    assert "Free plan allows bulk jobs of up to 5 guests; this one would change 6" in text
    assert "The Pro plan allows more: an admin can upgrade with /upgrade." in text
    assert not refused.buttons and not world.writes(calendar)

    await _set_plan(world, calendar.org_id, "pro")
    preview = await world.say(chat, admin, "/bulk approve Founders Dinner pending")
    assert [b["text"] for b in preview.buttons] == ["Confirm", "Cancel"]

    # Downgraded between the preview and the press: the press is refused, nothing starts.
    await _set_plan(world, calendar.org_id, "free")
    pressed = await world.press(chat, admin, preview, "Confirm")
    assert "up to 5 guests" in (pressed.text or "")
    assert not world.writes(calendar)

    await _set_plan(world, calendar.org_id, "pro")
    preview = await world.say(chat, admin, "/bulk approve Founders Dinner pending")
    await world.press(chat, admin, preview, "Confirm")
    await world.next_message(chat, lambda m: "Bulk job finished" in (m.text or ""))
    status = await world.say(chat, admin, "/status")
    assert "6 guests in bulk jobs (up to 1,000 per job)" in (status.text or "")
    assert "Plan: Pro." in (status.text or "")


async def test_sync_interval_chats_and_members(billed: World) -> None:
    world = billed
    calendar, chat, admin = await world.linked_group()

    fast = await world.say(chat, admin, "/sync every 15")
    assert "Free plan syncs at most every 60 minutes" in (fast.text or "")
    usage = await world.say(chat, admin, "/sync every soon")
    assert "/sync every 60" in (usage.text or "")
    try:
        ok = await world.say(chat, admin, "/sync every 120")
        assert ok.text == "Scheduled syncs with Luma now run every 120 minutes."
        assert await world.deps.automations.schedule_exists(ids.sync_schedule_id(calendar.org_id))
    finally:
        await world.deps.automations.on_org_unlinked(calendar.org_id, [])

    # Free: 2 team members (the admin who linked, plus one), 1 linked chat.
    first = world.person()
    second = world.person()
    added = await world.say(chat, admin, f"/role {first} member")
    assert "is now member" in (added.text or "")
    full = await world.say(chat, admin, f"/role {second} member")
    assert "allows 2 team member(s), and 2 already are" in (full.text or "")
    promoted = await world.say(chat, admin, f"/role {first} admin")  # a role change is fine
    assert "is now admin" in (promoted.text or "")


async def test_linked_chats_per_plan(billed: World) -> None:
    world = billed
    calendar = await world.calendar(sync=False)
    owner = world.person()
    first, second = world.group(admin=owner), world.group(admin=owner)
    linked = await world.say(first, owner, f"/link {calendar.api_key}")
    assert "Linked this chat" in (linked.text or "")
    refused = await world.say(second, owner, f"/link {calendar.api_key}")
    assert "allows 1 linked chat(s) per calendar, and 1 already are" in (refused.text or "")
    assert "Nothing was stored." in (refused.text or "")
    async with world.deps.sessions() as session:
        org_id = await session.scalar(select(Chat.org_id).where(Chat.id == first))
        assert org_id is not None
        chats = await session.scalars(select(Chat.id).where(Chat.org_id == org_id))
        assert list(chats) == [first]
    await world.deps.automations.on_org_unlinked(org_id, [])


async def test_a_second_calendar_needs_a_bigger_plan(billed: World) -> None:
    world = billed
    first, _, admin = await world.linked_group()
    second = await world.calendar(sync=False)
    refused = await world.say(admin, admin, f"/link {second.api_key}")
    assert "allows 1 linked calendar(s) per person" in (refused.text or "")
    await _set_plan(world, first.org_id, "pro")
    linked = await world.say(admin, admin, f"/link {second.api_key}")
    assert "Linked this chat" in (linked.text or "")
    await world.deps.automations.on_org_unlinked(second.org_id, [])


@pytest.fixture
async def gemini_world(
    bot_with: Opener, billing_settings: Settings, sessions
) -> AsyncIterator[tuple[World, FakeGemini]]:
    """The bot with Gemini (a local fake) behind the per-plan question quota."""
    with RunningFake() as fake:
        gemini = GeminiParser.from_settings(
            billing_settings.model_copy(
                update={"gemini_api_key": SecretStr("gemini-test-key"), "gemini_api_url": fake.url}
            )
        )
        parser = IntentParser(gemini, PlanQuota(sessions, Billing.from_settings(billing_settings)))
        try:
            async with bot_with(settings=billing_settings, parser=parser) as world:
                yield world, fake
        finally:
            await parser.aclose()


async def test_gemini_questions_per_plan_then_offline_said_once(
    gemini_world: tuple[World, FakeGemini],
) -> None:
    world, fake = gemini_world
    calendar = await world.calendar()
    admin = world.person()
    await world.link(calendar, admin, admin)  # a DM: every text is for the bot
    fake.queue(function_call({"intent": "help"}), function_call({"intent": "help"}))
    for text in ("what can you do?", "and what else?"):
        reply = await world.say(admin, admin, text)
        assert "What I can do" in (reply.text or "")
    assert len(fake.requests) == 2

    world.tg.user_says(admin, admin, "which events are coming up?")
    note = await world.tg.wait_for_reply(admin)
    assert "2 smart-language questions for today are used up" in (note.text or "")
    assert "The Pro plan allows more" in (note.text or "")
    answer = await world.next_message(admin)
    assert "Founders Dinner" in (answer.text or "")  # the offline reader still answers

    again = await world.say(admin, admin, "upcoming events please")
    assert "used up" not in (again.text or "")  # said once
    assert len(fake.requests) == 2
    status = await world.say(admin, admin, "/status")
    assert "2/2 smart-language questions" in (status.text or "")


async def test_enrichment_needs_a_plan_with_it(billed: World) -> None:
    world = billed
    calendar, chat, admin = await world.linked_group()
    for command in ("/enrich run", "/enrich on", "/enrich on pdl pdl-key-0123456789"):
        refused = await world.say(chat, admin, command)
        assert "Free plan does not include enrichment" in (refused.text or ""), command
        assert "The Pro plan allows more" in (refused.text or "")
    await _set_plan(world, calendar.org_id, "pro")
    allowed = await world.say(chat, admin, "/enrich run")
    assert "does not include enrichment" not in (allowed.text or "")
