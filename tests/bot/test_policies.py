"""`/policy`: approval policies, their rules, their mode and the dry run, end to end."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from bot.middlewares.throttling import ThrottleLimits
from store.models import ApprovalPolicy


@pytest.fixture
async def world(bot_with):
    """The usual bot, with room for the many commands these tests send in one chat."""
    async with bot_with(throttle=ThrottleLimits(per_user=100, per_chat=100)) as world:
        yield world


def _domain(email: str) -> str:
    return email.rpartition("@")[2].lower()


async def _policy_rows(world, org_id: int) -> list[ApprovalPolicy]:
    async with world.deps.sessions() as session:
        query = select(ApprovalPolicy).where(ApprovalPolicy.org_id == org_id)
        return list((await session.scalars(query)).all())


async def test_admin_adds_lists_sets_mode_and_removes_rules(world) -> None:
    calendar, chat, admin = await world.linked_group()
    pending = world.guests(calendar, "Founders Dinner", "pending_approval")
    domain = _domain(pending[0].person.email)

    empty = await world.say(chat, admin, "/policy Founders Dinner")
    lines = empty.text.splitlines()
    assert lines[0].startswith("Approval policy for Founders Dinner")
    assert lines[1] == "off: new registrations are left to you"
    assert "No rules yet: everyone would be held for review." in empty.text
    assert "/policy add Founders Dinner: approve from acme.com" in empty.text

    added = await world.say(chat, admin, f"/policy add Founders Dinner: approve from {domain}")
    assert added.text.startswith("Added rule 1.")
    assert f"1. approve email at {domain}" in added.text.splitlines()
    assert "Anyone no rule matches is held for review." in added.text

    second = await world.say(chat, admin, "/policy add Founders Dinner: hold tag student")
    assert second.text.startswith("Added rule 2.")
    assert "2. hold tagged student" in second.text.splitlines()

    shown = await world.say(chat, admin, "/policy founders dinner")
    rules = [line for line in shown.text.splitlines() if line[:1].isdigit()]
    assert rules == [f"1. approve email at {domain}", "2. hold tagged student"]
    assert "off: new registrations are left to you" in shown.text
    assert "calendar-wide" not in shown.text  # the event has a policy of its own now

    moded = await world.say(chat, admin, "/policy mode Founders Dinner suggest")
    assert moded.text.startswith("Mode set.")
    assert "suggest: decisions are shown for review, nothing is written" in moded.text

    removed = await world.say(chat, admin, "/policy remove Founders Dinner 2")
    assert removed.text.startswith("Removed rule 2 (hold tagged student).")
    rules = [line for line in removed.text.splitlines() if line[:1].isdigit()]
    assert rules == [f"1. approve email at {domain}"]
    assert "suggest: decisions are shown for review" in removed.text

    audited = [(e.action, e.result) for e in await world.audit(calendar.org_id)]
    assert [action for action, _ in audited] == [
        "policy_rule_added",
        "policy_rule_added",
        "policy_mode_set",
        "policy_rule_removed",
    ]
    rows = await _policy_rows(world, calendar.org_id)
    assert len(rows) == 1
    assert rows[0].luma_event_id == calendar.events["Founders Dinner"]
    assert rows[0].mode == "suggest" and rows[0].updated_by == admin
    assert [rule["action"] for rule in rows[0].rules] == ["approve"]
    assert rows[0].rules[0]["domains"] == [domain]
    assert not world.writes(calendar)  # nothing of this reaches Luma


async def test_dry_run_counts_pending_guests_fresh_from_luma_and_writes_nothing(world) -> None:
    calendar, chat, admin = await world.linked_group()
    state = world.sim.state
    # A guest who registered after the last sync: the dry run reads Luma, not the cache.
    event = state.event(calendar.events["Founders Dinner"])
    state.add_guests(
        state.calendar(calendar.calendar_id),
        event,
        [("late.comer@policy-test.example", "Late Comer")],
        status="pending_approval",
        path="test",
    )
    writes_before = len(world.writes(calendar))

    pending = world.guests(calendar, "Founders Dinner", "pending_approval")
    domains = Counter(_domain(g.person.email) for g in pending)
    domain = _domain(pending[0].person.email)
    approve = domains[domain]
    hold = len(pending) - approve
    assert approve >= 1 and hold >= 1  # the late guest's domain is no one else's

    nothing = await world.say(chat, admin, "/policy test Founders Dinner")
    assert f"{len(pending)} pending guest(s)" in nothing.text
    assert f"✋ hold for review {len(pending)}" in nothing.text.splitlines()[1]
    assert "no rule matched: held for review" in nothing.text
    assert nothing.text.splitlines()[-1] == "Nothing was written (mode: off)."

    await world.say(chat, admin, f"/policy add Founders Dinner: approve from {domain.upper()}")
    run = await world.say(chat, admin, "/policy test Founders Dinner")
    lines = run.text.splitlines()
    assert lines[0].startswith("Policy test for Founders Dinner")
    assert lines[0].endswith(f": {len(pending)} pending guest(s)")
    assert lines[1] == f"✅ approve {approve} · ✋ hold for review {hold}"
    assert approve + hold == len(pending)
    assert f"rule 1: approve email at {domain}" in run.text
    assert "no rule matched: held for review" in run.text
    approved_shown = [line for line in lines if line.startswith("✅ approve: ")]
    held_shown = [line for line in lines if line.startswith("✋ hold for review: ")]
    assert len(approved_shown) == min(approve, 5) and len(held_shown) == min(hold, 5)
    assert all(_domain(line.rpartition(" — ")[2]) == domain for line in approved_shown)
    assert all(_domain(line.rpartition(" — ")[2]) != domain for line in held_shown)
    assert any("late.comer@policy-test.example" in line for line in held_shown) or hold > 5
    if hold > 5:
        assert f"   … and {hold - 5} more" in lines
    assert lines[-1] == "Nothing was written (mode: off)."

    # Nothing changed in Luma: no writes and every pending guest is still pending.
    assert len(world.writes(calendar)) == writes_before
    still = world.guests(calendar, "Founders Dinner", "pending_approval")
    assert {g.person.email for g in still} == {g.person.email for g in pending}
    assert [e.action for e in await world.audit(calendar.org_id)] == ["policy_rule_added"]


async def test_members_and_bad_input_change_nothing(world) -> None:
    calendar, chat, admin = await world.linked_group()
    member = world.person()
    for command in (
        "/policy add Founders Dinner: approve from acme.com",
        "/policy remove Founders Dinner 1",
        "/policy mode Founders Dinner auto",
    ):
        refused = await world.say(chat, member, command)
        assert refused.text.startswith("Only admins of this calendar can do that"), command

    answers = {
        "/policy add Founders Dinner approve from acme.com": "Name the event, a colon",
        "/policy add Founders Dinner:": "Name the event, a colon",
        "/policy add Founders Dinner: frobnicate everyone": "A rule starts with what to do",
        "/policy add Founders Dinner: approve wibble x": "I do not know the condition",
        "/policy add Founders Dinner: approve from": "“from” needs a value after it",
        "/policy add Founders Dinner: approve from acme": "“acme” is not an email domain",
        "/policy add Founders Dinner: waitlist seats left": "Say how many seats",
        "/policy add Nowhere Event: approve from acme.com": "I could not find an event",
        "/policy remove Founders Dinner 9": "There is no rule 9: this policy has no rules.",
        "/policy remove Founders Dinner two": "Say which rule, by its number",
        "/policy mode Founders Dinner sometimes": "End with the mode",
        "/policy test": "Which event?",
        "/policy": "/policy Founders Dinner shows the rules",
    }
    for command, expected in answers.items():
        reply = await world.say(chat, admin, command)
        assert expected in reply.text, (command, reply.text)

    shown = await world.say(chat, admin, "/policy Founders Dinner")
    assert "No rules yet" in shown.text and "off: new registrations" in shown.text
    assert await _policy_rows(world, calendar.org_id) == []
    assert await world.audit(calendar.org_id) == []
    assert not world.writes(calendar)

    # A member may still read the policy and dry-run it: neither changes anything.
    read = await world.say(chat, member, "/policy Founders Dinner")
    assert read.text.startswith("Approval policy for Founders Dinner")
    tested = await world.say(chat, member, "/policy test Founders Dinner")
    assert tested.text.splitlines()[-1] == "Nothing was written (mode: off)."
    assert await _policy_rows(world, calendar.org_id) == []
    assert not world.writes(calendar)


async def test_admin_sets_a_rubric_and_without_gemini_it_holds(world) -> None:
    calendar, chat, admin = await world.linked_group()
    pending = world.guests(calendar, "Founders Dinner", "pending_approval")

    said = await world.say(
        chat, admin, "/policy rubric Founders Dinner: approve founders building AI; hold students"
    )
    assert said.text.startswith("Rubric set.")
    assert "Anyone no rule matches goes to the rubric (Gemini may approve or hold):" in said.text
    assert "approve founders building AI; hold students" in said.text
    # This bot has no Gemini key: the organizer is told before turning anything on.
    assert "Gemini is not set up here, so the rubric holds everyone for review." in said.text

    tested = await world.say(chat, admin, "/policy test Founders Dinner")
    assert f"✋ hold for review {len(pending)}" in tested.text
    assert "rubric not applied: Gemini is not set up (no API key)" in tested.text

    declines = await world.say(chat, admin, "/policy rubric-declines Founders Dinner on")
    assert declines.text.startswith("The rubric may now decline.")
    assert "(Gemini may approve, hold or decline)" in declines.text

    removed = await world.say(chat, admin, "/policy rubric Founders Dinner: off")
    assert removed.text.startswith("No rubric: guests no rule matches are held.")
    rows = await _policy_rows(world, calendar.org_id)
    assert (rows[0].rubric, rows[0].rubric_may_decline) == (None, True)
    audited = [e.action for e in await world.audit(calendar.org_id)]
    assert audited == ["policy_rubric_set", "policy_rubric_declines", "policy_rubric_set"]

    unclear = await world.say(chat, admin, "/policy rubric Founders Dinner")
    assert "Name the event, a colon, then the rubric" in unclear.text


async def test_a_policy_in_plain_words_is_shown_then_confirmed(world) -> None:
    calendar, chat, admin = await world.linked_group()
    username = (await world.services.bot.me()).username
    pending = world.guests(calendar, "Founders Dinner", "pending_approval")
    domain = _domain(pending[0].person.email)

    preview = await world.say(
        chat, admin, f"@{username} auto-approve everyone from {domain} for the founders dinner"
    )
    lines = preview.text.splitlines()
    assert lines[0].startswith("Add to the approval policy of Founders Dinner")
    assert lines[1] == f"1. approve email at {domain}"
    assert "…and switch it to auto: approvals and waitlisting are written" in preview.text
    assert [b["text"] for b in preview.buttons] == ["Confirm", "Cancel"]
    assert await _policy_rows(world, calendar.org_id) == []  # nothing changed before Confirm

    member = world.person()
    await world.member(calendar, member)
    refused = world.press_only(chat, member, preview, "Confirm")
    answer = await world.tg.wait_until(lambda: world.tg.callback_answer(refused), 5)
    assert "admin" in answer["text"], answer
    assert await _policy_rows(world, calendar.org_id) == []

    done = await world.press(chat, admin, preview, "Confirm")
    assert done.text.startswith("Done.")
    assert f"1. approve email at {domain}" in done.text
    assert "auto: approvals and waitlisting are written" in done.text
    rows = await _policy_rows(world, calendar.org_id)
    assert rows[0].mode == "auto" and rows[0].rules[0]["domains"] == [domain]
    assert rows[0].on_since is not None  # the sync hands it registrations it missed from now on

    held = await world.say(chat, admin, f"@{username} hold students for review at founders dinner")
    assert held.text.splitlines()[1] == "2. hold an answer mentions “student”"
    assert "The 1 rule(s) it has come first" in held.text
    cancelled = await world.press(chat, admin, held, "Cancel")
    assert cancelled.text == "Cancelled; the policy was not changed."
    assert len((await _policy_rows(world, calendar.org_id))[0].rules) == 1

    which = await world.say(chat, admin, f"@{username} hold students for review")
    assert which.text.startswith("For which event?")
    unclear = await world.say(chat, admin, f"@{username} auto-approve people with 3+ tickets")
    assert "I do not know what “3+” means in a rule." in unclear.text
