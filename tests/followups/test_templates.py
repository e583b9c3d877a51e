"""Follow-up templates: the sandbox, saving and auditing, previews for real guests, and a
running campaign keeping the text it was sent with when its template is edited."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from core.settings import MailBackend
from mailer import templates
from mailer.drafts import Draft
from mailer.templates import EventFacts, TemplateProblem
from services import followup_templates, followups
from services.caller import Caller, Forbidden, Invalid
from store.models import AuditEntry, Event, FollowupSend, Role
from tests.followups.conftest import ATTENDED, Inbox, Seeded
from workflows.followups import FollowupWorkflow

ADMIN, MEMBER = 7101, 7102
BODY = (
    "Hi {{ first_name }}, thanks for {{ event_name }} on {{ event_date }} in {{ city }}: {{ link }}"
)


def admin(org_id: int) -> Caller:
    return Caller(org_id, Role.ADMIN, "web", ADMIN)


async def located(sessions, seeded: Seeded, *, city: str | None = "Lisbon") -> None:
    """The seeded event with a place, a time zone and a Luma page (23:30 UTC is the next day
    in Tokyo: the date is the event's own)."""
    async with sessions.begin() as session:
        await session.execute(
            update(Event)
            .where(Event.org_id == seeded.org_id, Event.luma_event_id == seeded.event_id)
            .values(
                city=city,
                timezone="Asia/Tokyo",
                url="https://lu.ma/demo-night",
                start_at=datetime(2026, 3, 4, 23, 30, tzinfo=UTC),
            )
        )


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("{{ ''.__class__ }}", "“.__class__”"),
        ("{{ first_name.__class__.__mro__ }}", "“.__mro__”"),
        ("{{ first_name|attr('__class__') }}", "filter “attr”"),
        ("{{ cycler.__init__.__globals__ }}", "{{ cycler }}, which is not a placeholder"),
        ("{{ range(10) }}", "{{ range }}, which is not a placeholder"),
        ("{{ first_name.upper() }}", "a call"),
        ("{% for c in first_name %}{{ c }}{% endfor %}", "“for”"),
        ("Dear {{ fist_name }}", "{{ fist_name }}, which is not a placeholder"),
        ("Dear {{ lipsum }}", "{{ lipsum }}, which is not a placeholder"),
        ("Hi {first_name}", "write placeholders with two braces"),
        ("Hi {{ first_name", "not a valid template"),
    ],
)
def test_sandbox_refuses_escapes_and_unknown_names(text: str, said: str) -> None:
    with pytest.raises(TemplateProblem) as refused:
        templates.check(text)
    assert said in str(refused.value)


def test_sandbox_stops_an_escape_even_unchecked() -> None:
    """Text that never went through `check` (an old snapshot, a bug) still reaches nothing."""
    for text in ("{{ ''.__class__.__mro__ }}", "{{ first_name.upper.__globals__ }}"):
        with pytest.raises(TemplateProblem, match=r"cannot be filled in: .*(unsafe|no attribute)"):
            templates.render(text, {"first_name": "Ada"})


def test_fills_in_and_a_missing_value_is_an_error_not_a_blank() -> None:
    facts = EventFacts("Demo Night", "Thursday, 5 March 2026", None, "https://lu.ma/x")
    filled = templates.fill(
        Draft("{{ event_name }}!", "Hi {{ first_name }}{% if city %} in {{ city }}{% endif %}."),
        facts,
        "Ada Lovelace",
    )
    assert filled == Draft("Demo Night!", "Hi Ada.")
    with pytest.raises(TemplateProblem, match=r"uses \{\{ city \}\}, but there is no value"):
        templates.fill(Draft("x", "See you in {{ city }}"), facts, "Ada")


async def test_saving_is_checked_audited_and_for_admins_only(sessions, seeded: Seeded) -> None:
    org = seeded.org_id
    async with sessions.begin() as session:
        with pytest.raises(Invalid, match="fist_name"):
            await followup_templates.create(
                admin(org), session, name="Oops", subject="Hi", body="Dear {{ fist_name }}"
            )
        with pytest.raises(Forbidden):
            await followup_templates.create(
                Caller(org, Role.MEMBER, "web", MEMBER), session, name="M", subject="s", body="b"
            )
        made = await followup_templates.create(
            admin(org), session, name="Thanks", subject="Thanks, {{ first_name }}", body=BODY
        )
        await followup_templates.set_default(
            admin(org), session, template_id=made.id, audience_word="attended"
        )
        other = await followup_templates.create(
            admin(org), session, name="Other", subject="s", body="b"
        )
        # The audience has one default: making another one its default takes it over.
        await followup_templates.set_default(
            admin(org), session, template_id=other.id, audience_word="attended"
        )
    async with sessions.begin() as session:
        member = Caller(org, Role.MEMBER, "web", MEMBER)
        with pytest.raises(Forbidden):
            await followup_templates.edit(
                member, session, template_id=made.id, name="Thanks", subject="x", body="y"
            )
        assert [t.name for t in await followup_templates.list_templates(member, session)] == [
            "Other",
            "Thanks",
        ]
        chosen = await followup_templates.choose(member, session, audience_name="attended")
        assert chosen.template == "Other"
        await followup_templates.edit(
            admin(org), session, template_id=made.id, name="Thanks", subject="New", body=BODY
        )
    async with sessions() as session:
        rows = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.org_id == org, AuditEntry.action == "followup_template")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [(r.result, r.actor_user_id) for r in rows] == [
        ("created", ADMIN),
        ("default set", ADMIN),
        ("created", ADMIN),
        ("default set", ADMIN),
        ("edited", ADMIN),
    ]
    assert rows[-1].detail == "subject"


async def test_preview_is_filled_in_for_a_real_guest(sessions, seeded: Seeded) -> None:
    await located(sessions, seeded)
    async with sessions() as session:
        event = await session.scalar(select(Event).where(Event.luma_event_id == seeded.event_id))
        assert event is not None
        shown = await followup_templates.preview(
            admin(seeded.org_id),
            session,
            event=event,
            draft=Draft("Thanks, {{ first_name }}", BODY),
            email="grace@example.com",
        )
        assert (shown.guest_name, shown.guest_email) == ("Grace Hopper", "grace@example.com")
        assert shown.email.subject == "Thanks, Grace"
        assert shown.email.body == (
            "Hi Grace, thanks for Demo Night on Thursday, 5 March 2026 in Lisbon: "
            "https://lu.ma/demo-night"
        )
        first = await followup_templates.preview(
            admin(seeded.org_id), session, event=event, draft=Draft("s", "{{ first_name }}")
        )
        assert first.guest_email in ATTENDED | {"alan@example.com", "katherine@example.com"}


async def test_a_missing_value_stops_the_campaign_before_anything_is_sent(
    sessions, seeded: Seeded, automations, inbox: Inbox
) -> None:
    await located(sessions, seeded, city=None)  # an online event: no city
    async with sessions.begin() as session:
        with pytest.raises(Invalid, match="no value for the event&#x27;s city"):
            await followups.start(
                admin(seeded.org_id),
                session,
                automations,
                mail=MailBackend.SMTP,
                campaign_id="no-city",
                event_id=seeded.event_id,
                event_name=seeded.event_name,
                audience="attended",
                subject="Hi",
                body=BODY,
            )
    async with sessions() as session:
        rows = await session.scalars(
            select(FollowupSend).where(FollowupSend.org_id == seeded.org_id)
        )
        assert rows.all() == []
    assert inbox.messages == []


async def test_a_campaign_keeps_its_text_when_the_template_is_edited_after_send(
    sessions, seeded: Seeded, automations, inbox: Inbox
) -> None:
    await located(sessions, seeded)
    org = seeded.org_id
    async with sessions.begin() as session:
        made = await followup_templates.create(
            admin(org), session, name="Thanks", subject="Thanks, {{ first_name }}", body=BODY
        )
        await followup_templates.set_default(
            admin(org), session, template_id=made.id, audience_word="attended"
        )
        chosen = await followup_templates.choose(admin(org), session, audience_name="attended")
    inbox.hold_at = 1  # the first email waits at the server while the template changes
    async with sessions.begin() as session:
        started = await followups.start(
            admin(org),
            session,
            automations,
            mail=MailBackend.SMTP,
            campaign_id=f"snap-{made.id}",
            event_id=seeded.event_id,
            event_name=seeded.event_name,
            audience="attended",
            subject=chosen.draft.subject,
            body=chosen.draft.body,
            template=chosen.template,
        )
    assert await asyncio.to_thread(inbox.holding.wait, 60)
    async with sessions.begin() as session:
        await followup_templates.edit(
            admin(org), session, template_id=made.id, name="Thanks", subject="CHANGED", body="X"
        )
    inbox.release.set()
    handle = automations.client.get_workflow_handle_for(FollowupWorkflow.run, started.workflow_id)
    report = await asyncio.wait_for(handle.result(), 60)

    assert report.counts.sent == len(ATTENDED)
    assert inbox.per_recipient() == {address: 1 for address in ATTENDED}
    grace = inbox.to("grace@example.com")
    assert grace["Subject"] == "Thanks, Grace"
    assert grace.get_content().startswith(
        "Hi Grace, thanks for Demo Night on Thursday, 5 March 2026 in Lisbon"
    )
    assert all("CHANGED" not in m["Subject"] for m in inbox.messages)
    async with sessions() as session:
        [entry] = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.org_id == org, AuditEntry.action == "followup")
            )
        ).all()
    assert entry.target["template"] == "Thanks"
