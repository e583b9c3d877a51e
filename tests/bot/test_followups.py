"""/followup and /unsubscribe through the local Bot API: draft, edit, send, report, refusals.

A worker of its own (on its own task queue) sends through a local SMTP server (aiosmtpd)
started by the test; the calendar is the simulator's, synced like any linked calendar.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from functools import partial

import pytest
from sqlalchemy import select
from temporalio.client import Client

from core.settings import Settings
from mailer import MailSetup
from mailer.smtp import SmtpMailer
from mailer.unsubscribe import UnsubscribeSigner
from services import followup_templates
from services.automations import Automations, JobDefaults
from services.caller import Caller
from store.models import PendingAction, Role
from tests.bot.conftest import World
from tests.followups.conftest import PUBLIC_URL, SENDER, Inbox
from tests.followups.conftest import inbox as inbox
from tests.workflows.conftest import worker_clients
from worker import build_worker

EVENT = "Winter Gala"  # ten days ago, every guest approved, about 60% checked in


@pytest.fixture
async def mail_world(
    services, bot_with, temporal_env, sessions, bot_keybox, inbox: Inbox, encryption_keys
) -> AsyncIterator[World]:
    """The bot with email on, and a worker that sends to the local SMTP server."""
    defaults = JobDefaults(
        task_queue=f"bot-followups-{uuid.uuid4().hex}",
        heartbeat_timeout_seconds=5,
        followup_batch_size=4,
    )
    mailer = SmtpMailer("127.0.0.1", inbox.port, sender=SENDER, starttls=False, timeout=5)
    signer = UnsubscribeSigner(lambda: encryption_keys)
    clients = replace(
        worker_clients(sessions, bot_keybox, services.deps.luma, services.bot),
        mail=MailSetup(mailer, signer, PUBLIC_URL),
    )
    settings = Settings(_env_file=None, mail_backend="smtp", mail_from=SENDER)
    automations = Automations(temporal_env.client, defaults)
    async with (
        build_worker(temporal_env.client, defaults.task_queue, clients),
        bot_with(settings=settings, automations=automations) as world,
    ):
        yield world
    await mailer.aclose()


def attended(world: World, calendar) -> dict[str, str]:
    """Email -> first name of the guests who checked in."""
    return {
        g.person.email: g.person.first_name
        for g in world.guests(calendar, EVENT, "approved")
        if g.checked_in_at is not None
    }


async def test_draft_edit_send_and_report(mail_world: World, inbox: Inbox) -> None:
    world = mail_world
    calendar, chat, admin = await world.linked_group()
    people = attended(world, calendar)
    assert people

    draft = await world.say(chat, admin, f"/followup {EVENT} attended")
    assert (draft.text or "").startswith(
        f"Follow-up email to {len(people)} guests who checked in of"
    )
    assert "Subject: Thank you for coming to Winter Gala" in (draft.text or "")
    assert [b["text"] for b in draft.buttons] == ["Send", "Edit", "Cancel"]

    asking = await world.press(chat, admin, draft, "Edit")
    assert (asking.text or "").startswith("Send me the new text of the follow-up for Winter Gala")
    legacy = await world.say(chat, admin, "Hello {first_name}, thanks for {event}!")
    assert "write placeholders with two braces" in (legacy.text or "")  # still editing
    edited = await world.say(
        chat,
        admin,
        "Subject: See you soon, {{ first_name }}\n"
        "Hello {{ first_name }}, thanks for {{ event_name }}!",
    )
    shown = edited.text or ""  # filled in for a real guest of the event
    assert "Subject: See you soon, " in shown and "{{" not in shown
    assert "thanks for Winter Gala!" in shown and "Shown for " in shown

    sending = world.press_only(chat, admin, edited, "Send")
    again = world.press_only(chat, admin, edited, "Send")  # a double click
    started = await world.next_message(
        chat, lambda m: (m.text or "").startswith("Sending the follow-up")
    )
    assert f"to {len(people)} guests who checked in of Winter Gala" in (started.text or "")
    report = await world.next_message(chat, lambda m: "finished" in (m.text or ""), timeout=30)
    assert f"Sent: {len(people)} of {len(people)}." in (report.text or "")
    answers = [
        await world.tg.wait_until(partial(world.tg.callback_answer, u), 5) for u in (sending, again)
    ]
    texts = [answer.get("text") or "" for answer in answers if answer is not None]
    assert len(texts) == 2
    assert sum("expired or was already used" in text for text in texts) == 1

    assert inbox.per_recipient() == {email: 1 for email in people}
    email, first = next(iter(people.items()))
    message = inbox.to(email)
    assert message["Subject"] == f"See you soon, {first}"
    assert message.get_content().startswith(f"Hello {first}, thanks for Winter Gala!")
    [entry] = await world.audit(calendar.org_id, "followup")
    assert (entry.result, entry.actor_user_id) == ("started", admin)


async def test_default_template_per_audience_and_a_named_one(
    mail_world: World, inbox: Inbox
) -> None:
    world = mail_world
    calendar, chat, admin = await world.linked_group()
    people = attended(world, calendar)
    caller = Caller(calendar.org_id, Role.ADMIN, "bot", admin)
    async with world.deps.sessions.begin() as session:
        warm = await followup_templates.create(
            caller,
            session,
            name="Warm thanks",
            subject="Warm thanks, {{ first_name }}",
            body="We loved having you at {{ event_name }}.",
        )
        await followup_templates.set_default(
            caller, session, template_id=warm.id, audience_word="attended"
        )
        await followup_templates.create(
            caller, session, name="Short", subject="Short one", body="Hi {{ first_name }}."
        )

    by_default = await world.say(chat, admin, f"/followup {EVENT} attended")
    text = by_default.text or ""
    assert "Template: Warm thanks" in text and "Subject: Warm thanks, " in text
    assert "We loved having you at Winter Gala." in text
    assert "Other templates: Short" in text
    no_shows = await world.say(chat, admin, f"/followup {EVENT} no-shows")  # no default there
    assert "Subject: We missed you at Winter Gala" in (no_shows.text or "")
    unknown = await world.say(chat, admin, f"/followup {EVENT} attended template Nope")
    assert "There is no template called “Nope” (saved: “Short”, “Warm thanks”)" in (
        unknown.text or ""
    )

    picked = await world.say(chat, admin, f"/followup {EVENT} attended template short")
    assert "Template: Short" in (picked.text or "")
    await world.press(chat, admin, picked, "Send")
    report = await world.next_message(chat, lambda m: "finished" in (m.text or ""), timeout=30)
    assert f"Sent: {len(people)} of {len(people)}." in (report.text or "")
    email, first = next(iter(people.items()))
    message = inbox.to(email)
    assert message["Subject"] == "Short one"
    assert message.get_content().startswith(f"Hi {first}.")
    [entry] = await world.audit(calendar.org_id, "followup")
    assert entry.target["template"] == "Short"


async def test_unsubscribe_then_cancel(mail_world: World, inbox: Inbox) -> None:
    world = mail_world
    calendar, chat, admin = await world.linked_group()
    people = attended(world, calendar)
    email = next(iter(people))

    local, _, domain = email.partition("@")
    shouted = f"{local.upper()}@{domain}"  # the same inbox
    done = await world.say(chat, admin, f"/unsubscribe {shouted}")
    assert done.text == f"{shouted} will get no more follow-up emails from this calendar."
    again = await world.say(chat, admin, f"/unsubscribe {email}")
    assert (again.text or "").endswith("was already unsubscribed; nothing changed.")

    draft = await world.say(chat, admin, "/followup winter gala attended")
    assert f"to {len(people) - 1} guests who checked in" in (draft.text or "")
    assert "(1 unsubscribed, left out)" in (draft.text or "")
    cancelled = await world.press(chat, admin, draft, "Cancel")
    assert cancelled.text == "Follow-up for Winter Gala cancelled; no email was sent."
    assert inbox.messages == []


async def test_member_refused_and_bad_input_answered(mail_world: World, inbox: Inbox) -> None:
    world = mail_world
    _, chat, admin = await world.linked_group()
    member = world.person()
    for command in (f"/followup {EVENT} attended", "/unsubscribe ada@example.com"):
        refused = await world.say(chat, member, command)
        assert (refused.text or "").startswith("Only admins of this calendar can do that"), command
    draft = await world.say(chat, admin, f"/followup {EVENT} no-shows")
    pressed = world.press_only(chat, member, draft, "Send")
    answer = await world.tg.wait_until(lambda: world.tg.callback_answer(pressed), 5)
    assert answer is not None
    assert answer["text"].startswith("Only admins") and answer["show_alert"]

    answers = {
        "/followup": "Which event, and whom?",
        f"/followup {EVENT} everyone": "Say whom to write to after the event's name",
        "/followup attended": "Which event?",
        "/followup Atlantis Summit attended": "I could not find an event called",
        "/followup Founders Dinner no-shows": "has not ended yet",
        "/unsubscribe": "Whom?",
        "/unsubscribe not-an-email": "",
    }
    for command, expected in answers.items():
        reply = await world.say(chat, admin, command)
        assert expected in (reply.text or ""), (command, reply.text)
        assert not reply.buttons
    # Edit, then text too long: asked again; /cancel leaves the edit.
    asking = await world.press(chat, admin, draft, "Edit")
    assert (asking.text or "").startswith("Send me the new text")
    too_long = await world.say(chat, admin, "x" * 3001)
    assert (too_long.text or "").startswith("That text is 3001 characters long")
    assert (await world.say(chat, admin, "/cancel")).text == "Cancelled."
    assert inbox.messages == []


async def test_mail_off_says_so(world: World) -> None:
    _, chat, admin = await world.linked_group()
    reply = await world.say(chat, admin, f"/followup {EVENT} attended")
    assert (reply.text or "").startswith("Email is not set up for this bot")


async def test_send_while_temporal_is_down_keeps_the_draft(bot_with) -> None:
    settings = Settings(_env_file=None, mail_backend="smtp", mail_from=SENDER)
    async with bot_with(settings=settings) as world:
        _calendar, chat, admin = await world.linked_group()
        dead = await Client.connect("127.0.0.1:1", lazy=True)
        down = Automations(dead, world.deps.automations.defaults)
    async with bot_with(settings=settings, automations=down) as world:
        draft = await world.say(chat, admin, f"/followup {EVENT} attended")
        world.press_only(chat, admin, draft, "Send")
        told = await world.next_message(
            chat, lambda m: m.message_id == draft.message_id and "Temporal" in (m.text or "")
        )
    assert (told.text or "").startswith(draft.text or "")
    assert "so nothing was changed. Press the button again once it is back." in (told.text or "")
    assert told.buttons == draft.buttons
    async with world.deps.sessions() as session:  # the draft is still there to send
        parked = await session.scalar(
            select(PendingAction).where(
                PendingAction.chat_id == chat, PendingAction.kind == "followup"
            )
        )
    assert parked is not None and parked.consumed_at is None
