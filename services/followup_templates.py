"""Saved follow-up templates: list, create, edit, delete, the default per audience, previews.

The bot's `/followup`, the portal's templates page and the follow-up start all come through
here, so a template is checked by the same rules whatever the way in: admins write, members
read; the text must be a valid sandboxed template naming only the placeholders (refused on
save with the placeholder named); every write leaves an audit row. A preview fills the text in
for a real guest of a real event, which is also the check made before anything is sent: a
placeholder the event has no value for is an error then, never a blank in the email.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mailer import drafts, lists, templates
from mailer.drafts import Draft
from mailer.templates import EventFacts, TemplateProblem
from services import audit
from services.caller import Caller, Conflict, Invalid, NotFound
from store.models import Event, FollowupTemplate, utcnow

MAX_NAME = 64
MAX_SUBJECT = 300
MAX_BODY = 3_000  # the bot shows a draft back in one Telegram message


@dataclass(frozen=True)
class Chosen:
    """The wording a follow-up starts from, and the saved template it came from (if any)."""

    draft: Draft
    template: str | None = None


@dataclass(frozen=True)
class Preview:
    """A draft filled in for one real guest of the event."""

    email: Draft
    guest_name: str
    guest_email: str


def refusal(problem: TemplateProblem) -> Invalid:
    """A template problem as the typed refusal every interface shows (messages are HTML)."""
    return Invalid(escape(str(problem)))


def checked(*, name: str, subject: str, body: str) -> tuple[str, Draft]:
    """The cleaned name and draft, or Invalid saying what is wrong with them."""
    clean = " ".join(name.split())
    if not clean:
        raise Invalid("Give the template a name.")
    if len(clean) > MAX_NAME:
        raise Invalid(f"Keep the template's name under {MAX_NAME} characters.")
    draft = Draft(" ".join(subject.split()), body.strip())
    if not draft.subject or not draft.body:
        raise Invalid("A template needs a subject and some text.")
    if len(draft.subject) > MAX_SUBJECT or len(draft.body) > MAX_BODY:
        raise Invalid(
            f"Keep the subject under {MAX_SUBJECT} characters and the text under {MAX_BODY}."
        )
    try:
        templates.check_draft(draft)
    except TemplateProblem as problem:
        raise refusal(problem) from None
    return clean, draft


def audience(word: str) -> str:
    """attended | no-shows | all, from any of the bot's spellings."""
    found = drafts.AUDIENCES.get(word.strip().lower())
    if found is None:
        raise Invalid("The audience is attended, no-shows or all.")
    return found


async def list_templates(caller: Caller, session: AsyncSession) -> Sequence[FollowupTemplate]:
    """The org's templates by name (members may read them)."""
    return (
        await session.scalars(
            select(FollowupTemplate)
            .where(FollowupTemplate.org_id == caller.org_id)
            .order_by(FollowupTemplate.name)
        )
    ).all()


async def get_template(
    caller: Caller, session: AsyncSession, *, template_id: int
) -> FollowupTemplate:
    row = await session.scalar(
        select(FollowupTemplate).where(
            FollowupTemplate.org_id == caller.org_id, FollowupTemplate.id == template_id
        )
    )
    if row is None:
        raise NotFound("There is no such template in this calendar.")
    return row


async def _named(
    caller: Caller, session: AsyncSession, name: str, *, but: int | None = None
) -> FollowupTemplate | None:
    found = await list_templates(caller, session)
    folded = " ".join(name.split()).casefold()
    return next((t for t in found if t.name.casefold() == folded and t.id != but), None)


async def create(
    caller: Caller, session: AsyncSession, *, name: str, subject: str, body: str
) -> FollowupTemplate:
    caller.require_admin()
    clean, draft = checked(name=name, subject=subject, body=body)
    if await _named(caller, session, clean) is not None:
        raise Conflict(f"There already is a template called “{escape(clean)}”.")
    row = FollowupTemplate(
        org_id=caller.org_id,
        name=clean,
        subject=draft.subject,
        body=draft.body,
        updated_by=caller.user_id,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        caller, session, "followup_template", {"id": row.id, "name": clean}, result="created"
    )
    return row


async def edit(
    caller: Caller, session: AsyncSession, *, template_id: int, name: str, subject: str, body: str
) -> FollowupTemplate:
    """New wording (and name); campaigns already started keep the text they started with."""
    caller.require_admin()
    row = await get_template(caller, session, template_id=template_id)
    clean, draft = checked(name=name, subject=subject, body=body)
    if await _named(caller, session, clean, but=row.id) is not None:
        raise Conflict(f"There already is a template called “{escape(clean)}”.")
    changed = [
        field
        for field, old, new in (
            ("name", row.name, clean),
            ("subject", row.subject, draft.subject),
            ("body", row.body, draft.body),
        )
        if old != new
    ]
    row.name, row.subject, row.body = clean, draft.subject, draft.body
    row.updated_by, row.updated_at = caller.user_id, utcnow()
    await audit.record(
        caller,
        session,
        "followup_template",
        {"id": row.id, "name": clean},
        result="edited",
        detail=", ".join(changed) or "unchanged",
    )
    return row


async def delete(caller: Caller, session: AsyncSession, *, template_id: int) -> None:
    caller.require_admin()
    row = await get_template(caller, session, template_id=template_id)
    await session.delete(row)
    await audit.record(
        caller, session, "followup_template", {"id": row.id, "name": row.name}, result="deleted"
    )


async def set_default(
    caller: Caller, session: AsyncSession, *, template_id: int, audience_word: str | None
) -> FollowupTemplate:
    """Make the template its audience's default (None: the default for none); the previous
    default of that audience stops being one."""
    caller.require_admin()
    row = await get_template(caller, session, template_id=template_id)
    wanted = audience(audience_word) if audience_word else None
    if wanted is not None and row.default_for != wanted:
        await session.execute(
            update(FollowupTemplate)
            .where(FollowupTemplate.org_id == caller.org_id, FollowupTemplate.default_for == wanted)
            .values(default_for=None)
        )
        await session.flush()  # the unique (org, default_for) holds at every statement
    row.default_for = wanted
    row.updated_by, row.updated_at = caller.user_id, utcnow()
    await audit.record(
        caller,
        session,
        "followup_template",
        {"id": row.id, "name": row.name, "default_for": wanted},
        result="default set" if wanted else "default cleared",
    )
    return row


async def choose(
    caller: Caller, session: AsyncSession, *, audience_name: str, name: str | None = None
) -> Chosen:
    """The named template, else the audience's default template, else the built-in wording."""
    if name:
        row = await _named(caller, session, name)
        if row is None:
            names = [t.name for t in await list_templates(caller, session)]
            known = ", ".join(f"“{escape(n)}”" for n in names) if names else "none yet"
            raise NotFound(f"There is no template called “{escape(name)}” (saved: {known}).")
        return Chosen(Draft(row.subject, row.body), row.name)
    row = await session.scalar(
        select(FollowupTemplate).where(
            FollowupTemplate.org_id == caller.org_id,
            FollowupTemplate.default_for == audience_name,
        )
    )
    if row is not None:
        return Chosen(Draft(row.subject, row.body), row.name)
    return Chosen(drafts.DEFAULT_DRAFTS[audience_name])


def fill(draft: Draft, facts: EventFacts, guest_name: str) -> Draft:
    """The email one guest would get, or Invalid naming what cannot be filled in."""
    try:
        templates.check_draft(draft)
        return templates.fill(draft, facts, guest_name)
    except TemplateProblem as problem:
        raise refusal(problem) from None


async def preview(
    caller: Caller,
    session: AsyncSession,
    *,
    event: Event,
    draft: Draft,
    audience_name: str = "all",
    email: str | None = None,
) -> Preview:
    """The draft filled in for a real guest of `event` (the one with `email`, else the first
    of the audience); Invalid when a placeholder cannot be filled in for this event."""
    people = await lists.recipients(
        session, org_id=caller.org_id, event_id=event.luma_event_id, audience=audience_name
    )
    wanted = (email or "").strip().casefold()
    guest = next((p for p in people if wanted and p.email.casefold() == wanted), None)
    guest = guest or (people[0] if people else None)
    if guest is None:
        raise Conflict(f"{escape(event.name[:100])} has no guests to preview the email for.")
    return Preview(fill(draft, EventFacts.of(event), guest.name), guest.name, guest.email)
