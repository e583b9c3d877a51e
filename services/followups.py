"""Post-event follow-up emails: whom a campaign reaches, when it may go out, starting it.

The bot's `/followup` drafts and sends through here (the portal and the API can too), so
the rules hold whatever the way in: admins only, mail must be configured, the event must
have ended (before it, every registered guest is a "no-show"), people who unsubscribed are
left out, the wording fills in for this event (`services.followup_templates`: a placeholder
without a value stops it here, before anything is sent), and each start and unsubscribe leaves
an audit row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import MailBackend
from mailer import drafts, lists, templates
from services import audit, followup_templates, gmail
from services.automations import Automations, BulkStart
from services.caller import Caller, Conflict, Invalid, NotFound
from store import cache
from store.models import Event, utcnow
from workflows.contracts.followups import FollowupInput

MAIL_OFF = (
    "Email is not set up for this bot, so I cannot send follow-ups. Whoever runs the bot "
    "can turn it on with MAIL_BACKEND (smtp or sendgrid) and MAIL_FROM."
)


@dataclass(frozen=True)
class Reach:
    """How many people a campaign would write to, and how many are left out."""

    audience: str
    count: int
    unsubscribed: int


def require_mail(backend: MailBackend) -> None:
    """Follow-ups need a mail backend; checked before anything is drafted or started."""
    if backend is MailBackend.OFF:
        raise Conflict(MAIL_OFF)


async def require_sender(session: AsyncSession, *, org_id: int, backend: MailBackend) -> None:
    """The org's own Gmail, else the configured mail backend, sends its follow-ups."""
    if not await gmail.connected(session, org_id=org_id):
        require_mail(backend)


def audience_of(word: str) -> str | None:
    """`no-show`, `noshows`... -> the audience's one name; None when it names none."""
    return drafts.AUDIENCES.get(word.strip().lower())


def require_ended(event: Event, now: datetime | None = None) -> None:
    """A follow-up goes out after the event; before it, everyone registered is a no-show."""
    ends = event.end_at or event.start_at
    if ends is None or ends > (now or utcnow()):
        raise Conflict(
            f"<b>{escape(event.name[:100])}</b> has not ended yet: follow-ups go out after it."
        )


async def reach(caller: Caller, session: AsyncSession, *, event: Event, audience: str) -> Reach:
    """Whom a follow-up to `audience` of `event` would reach (from the guest cache)."""
    caller.require_admin()
    if audience not in drafts.AUDIENCE_LABELS:
        raise Invalid("Say whom to write to: attended, no-shows or all.")
    require_ended(event)
    people = await lists.recipients(
        session, org_id=caller.org_id, event_id=event.luma_event_id, audience=audience
    )
    opted = await lists.unsubscribed(
        session, org_id=caller.org_id, normalized_emails=[p.normalized_email for p in people]
    )
    return Reach(audience, len(people) - len(opted), len(opted))


async def start(
    caller: Caller,
    session: AsyncSession,
    automations: Automations,
    *,
    mail: MailBackend,
    campaign_id: str,
    event_id: str,
    event_name: str,
    audience: str,
    subject: str,
    body: str,
    template: str | None = None,
) -> BulkStart:
    """Start the campaign once (`campaign_id` fixes its workflow id: a second press finds the
    first run) and audit it; reports go to the caller's chat. `subject` and `body` are the
    wording's snapshot (`template` names the saved template it came from, for the audit)."""
    caller.require_admin()
    await require_sender(session, org_id=caller.org_id, backend=mail)
    if audience not in drafts.AUDIENCE_LABELS:
        raise Invalid("Say whom to write to: attended, no-shows or all.")
    if not body.strip():
        raise Invalid("A follow-up needs some text.")
    # The event is read here, in the caller's org: whatever the way in, another org's event
    # is unknown and one that has not ended yet is refused.
    event = await cache.get_event(session, org_id=caller.org_id, luma_event_id=event_id)
    if event is None or event.gone_at is not None:
        raise NotFound("There is no such event in this calendar.")
    require_ended(event)
    # Filled in once here (the name varies per guest, never whether it can be filled in).
    followup_templates.fill(
        drafts.Draft(subject, body), templates.EventFacts.of(event, name=event_name), guest_name=""
    )
    started = await automations.start_followup(
        FollowupInput(
            org_id=caller.org_id,
            event_id=event_id,
            event_name=event_name,
            audience=audience,
            campaign_id=campaign_id,
            subject=subject,
            body=body,
            chat_id=caller.chat_id,
            requested_by=caller.user_id,
            syntax="jinja",
        )
    )
    target: dict[str, object] = {"event_id": event_id, "audience": audience}
    if template:
        target["template"] = template
    await audit.record(
        caller,
        session,
        "followup",
        target,
        result="already running" if started.already_running else "started",
        detail=started.workflow_id,
    )
    return started


async def unsubscribe(caller: Caller, session: AsyncSession, *, email: str) -> bool:
    """Put a person on the org's no-follow-up list; False when they already were on it."""
    caller.require_admin()
    added = await lists.unsubscribe(
        session, org_id=caller.org_id, email=email, source=caller.source, by=caller.user_id
    )
    await audit.record(
        caller, session, "unsubscribe", {"email": email}, result="added" if added else "already"
    )
    return added
