"""Follow-up emails: the recipient snapshot, sending in batches, and the campaign's totals.

Idempotency: every recipient is a `followup_sends` row keyed by (org, event, campaign,
person). A batch claims a row (`pending` -> `sending`, committed) before handing the message
to the mailer and settles it (`sent` or `failed`) right after. A retried or replayed batch
only ever sends `pending` rows, so a sent email is never sent again.

The one ambiguous moment is a crash after the provider took the message but before `sent`
was committed. We choose **at most once**: a row found still `sending` by a later attempt is
marked `uncertain` and not sent again, and the final report names those people. A duplicate
thank-you is worse than a missing one, and the organizer can write to the few uncertain
people by hand. The Message-ID is derived from the row's key, so even then the provider's
logs can tell whether that one message went out.

The wording comes in the batch (the campaign's snapshot, never re-read from a saved template)
and is filled in per recipient before the row is claimed: text that cannot be filled in (a
placeholder the event lost its value for since Send) stops the campaign with nothing sent.

The sender is chosen per org for each batch: the org's connected Gmail, else MAIL_BACKEND's
(`MailSetup.mailer_for`). A sender at its daily limit (`MailDailyLimit`) leaves the row
`pending` and ends the batch early with `FollowupCounts.daily_limit` set; the workflow then
waits on a timer and sends the rest, with the same rows, so still once each.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import heartbeating
from mailer import (
    MailConfigError,
    MailDailyLimit,
    Mailer,
    MailRejected,
    MailSetup,
    MailUnavailable,
    OutgoingMail,
    drafts,
    lists,
    message_id,
    templates,
)
from mailer.drafts import Draft
from mailer.templates import EventFacts, TemplateProblem
from store import cache
from store.db import rowcount, upsert_insert
from store.models import FollowupSend, utcnow
from workflows.contracts.followups import (
    CampaignRef,
    DailyLimit,
    FollowupBatch,
    FollowupCounts,
    ResolveFollowup,
)

KEY_COLUMNS = ["org_id", "luma_event_id", "campaign_id", "normalized_email"]
MAIL_OFF = (
    "Email is off on the automation worker: set MAIL_BACKEND (smtp or sendgrid) and MAIL_FROM, "
    "or connect the calendar's Gmail in the portal."
)
UNCERTAIN = "the worker stopped while sending; not sent again so nobody gets it twice"
MAX_LISTED = 10


def _key(campaign: CampaignRef, normalized_email: str) -> str:
    return f"{campaign.org_id}/{campaign.event_id}/{campaign.campaign_id}/{normalized_email}"


def _rows(campaign: CampaignRef) -> tuple[ColumnElement[bool], ...]:
    """The campaign's rows: every query here is scoped by org, event and campaign."""
    return (
        FollowupSend.org_id == campaign.org_id,
        FollowupSend.luma_event_id == campaign.event_id,
        FollowupSend.campaign_id == campaign.campaign_id,
    )


def _wording(batch: FollowupBatch, facts: EventFacts, name: str) -> Draft:
    """The subject and text one recipient gets, filled in the way the campaign started."""
    if batch.syntax != "jinja":  # a campaign started before templates
        return Draft(
            drafts.render(batch.subject, name=name, event=batch.event_name),
            drafts.render(batch.body, name=name, event=batch.event_name),
        )
    try:
        return templates.fill(Draft(batch.subject, batch.body), facts, name)
    except TemplateProblem as problem:
        raise ApplicationError(
            f"the email cannot be filled in: {problem}", type="TemplateProblem", non_retryable=True
        ) from None


class FollowupActivities:
    """Holds the database sessions and the mail setup (None when no sender is configured)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], mail: MailSetup | None) -> None:
        self.sessions = sessions
        self.mail = mail

    def _setup(self) -> MailSetup:
        if self.mail is None:
            raise ApplicationError(MAIL_OFF, type="MailOff", non_retryable=True)
        return self.mail

    async def _mailer(self, setup: MailSetup, org_id: int) -> Mailer:
        """The org's sender: its connected Gmail if any, else MAIL_BACKEND's."""
        async with self.sessions() as session:
            mailer = await setup.mailer_for(session, org_id)
        if mailer is None:
            raise ApplicationError(MAIL_OFF, type="MailOff", non_retryable=True)
        return mailer

    @activity.defn
    async def resolve_followup_recipients(self, job: ResolveFollowup) -> FollowupCounts:
        """Snapshot the audience into the table; a rerun inserts nothing new."""
        setup = self._setup()
        campaign = job.campaign
        sender = (await self._mailer(setup, campaign.org_id)).sender
        async with self.sessions.begin() as session:
            people = await lists.recipients(
                session, org_id=campaign.org_id, event_id=campaign.event_id, audience=job.audience
            )
            if people:
                rows = [
                    {
                        "org_id": campaign.org_id,
                        "luma_event_id": campaign.event_id,
                        "campaign_id": campaign.campaign_id,
                        "normalized_email": person.normalized_email,
                        "email": person.email,
                        "name": person.name[:255],
                        "state": "pending",
                        "message_id": message_id(_key(campaign, person.normalized_email), sender),
                        "detail": "",
                        "updated_at": utcnow(),
                    }
                    for person in people
                ]
                statement = upsert_insert(session.get_bind().dialect.name, FollowupSend.__table__)
                await session.execute(
                    statement.values(rows).on_conflict_do_nothing(index_elements=KEY_COLUMNS)
                )
        return await self.followup_counts(campaign)

    @activity.defn
    async def send_followup_batch(self, batch: FollowupBatch) -> FollowupCounts:
        """Send up to `batch_size` pending emails, one at a time, heartbeating as it goes."""
        setup = self._setup()
        campaign = batch.campaign
        mailer = await self._mailer(setup, campaign.org_id)
        limit: DailyLimit | None = None
        async with self.sessions.begin() as session:
            # Left `sending` by an attempt that died mid-send: at most once, never again.
            await session.execute(
                update(FollowupSend)
                .where(*_rows(campaign), FollowupSend.state == "sending")
                .values(state="uncertain", detail=UNCERTAIN, updated_at=utcnow())
            )
            todo = (
                await session.scalars(
                    select(FollowupSend)
                    .where(*_rows(campaign), FollowupSend.state == "pending")
                    .order_by(FollowupSend.id)
                    .limit(batch.batch_size)
                )
            ).all()
            opted_out = await lists.unsubscribed(
                session,
                org_id=campaign.org_id,
                normalized_emails=[row.normalized_email for row in todo],
            )
            event = await cache.get_event(
                session, org_id=campaign.org_id, luma_event_id=campaign.event_id
            )
        facts = (
            EventFacts.of(event, name=batch.event_name) if event else EventFacts(batch.event_name)
        )
        async with heartbeating(0) as progress:
            for row in todo:
                if activity.is_worker_shutdown():
                    break  # a stopping worker hands the rest to the next batch, elsewhere
                if row.normalized_email in opted_out:
                    await self._settle(campaign, row.id, "pending", "skipped", "unsubscribed")
                else:
                    wording = _wording(batch, facts, row.name)
                    if await self._settle(campaign, row.id, "pending", "sending"):
                        try:
                            await self._send(setup, batch, row, wording, mailer)
                        except MailDailyLimit as stop:  # no more today: the workflow waits
                            limit = DailyLimit(stop.sender, stop.resume_at.isoformat())
                            break
                progress.value += 1
        counts = await self.followup_counts(campaign)
        counts.daily_limit = limit
        return counts

    async def _send(
        self,
        setup: MailSetup,
        batch: FollowupBatch,
        row: FollowupSend,
        wording: Draft,
        mailer: Mailer,
    ) -> None:
        campaign = batch.campaign
        unsubscribe_url = setup.unsubscribe_url(campaign.org_id, row.normalized_email)
        mail = OutgoingMail(
            to=row.email,
            to_name=" ".join(row.name.split()),  # headers are one line
            subject=" ".join(wording.subject.split()),
            text=drafts.with_footer(wording.body, unsubscribe_url),
            message_id=row.message_id,
            headers={
                "List-Unsubscribe": f"<{unsubscribe_url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        try:
            await mailer.send(mail)
        except MailRejected as exc:
            await self._settle(campaign, row.id, "sending", "failed", str(exc))
        except MailDailyLimit:
            await self._settle(campaign, row.id, "sending", "pending")  # not sent: tomorrow
            raise
        except MailUnavailable as exc:
            # Not sent: the row goes back to pending, and the retried batch sends it.
            await self._settle(campaign, row.id, "sending", "pending")
            raise ApplicationError(
                f"mail service unavailable: {exc}", type="MailUnavailable"
            ) from None
        except MailConfigError as exc:
            await self._settle(campaign, row.id, "sending", "pending")
            raise ApplicationError(
                f"The mail settings were refused: {exc}", type="MailConfig", non_retryable=True
            ) from None
        else:
            await self._settle(campaign, row.id, "sending", "sent")
        # Any other error leaves the row `sending`: the next attempt marks it uncertain.

    async def _settle(
        self, campaign: CampaignRef, row_id: int, before: str, after: str, detail: str = ""
    ) -> bool:
        """Move one row between states, only from `before`; False if another attempt did."""
        values = {"state": after, "detail": detail[:500], "updated_at": utcnow()}
        if after == "sent":
            values["sent_at"] = utcnow()
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(FollowupSend)
                .where(*_rows(campaign), FollowupSend.id == row_id, FollowupSend.state == before)
                .values(**values)
            )
        return bool(rowcount(result))

    @activity.defn
    async def followup_counts(self, campaign: CampaignRef) -> FollowupCounts:
        async with self.sessions() as session:
            by_state = dict(
                (
                    await session.execute(
                        select(FollowupSend.state, func.count())
                        .where(*_rows(campaign))
                        .group_by(FollowupSend.state)
                    )
                ).all()
            )
            problems = (
                await session.execute(
                    select(FollowupSend.email, FollowupSend.detail)
                    .where(*_rows(campaign), FollowupSend.state.in_(("failed", "uncertain")))
                    .order_by(FollowupSend.id)
                    .limit(MAX_LISTED)
                )
            ).all()
        counts = FollowupCounts(
            total=sum(by_state.values()),
            pending=by_state.get("pending", 0) + by_state.get("sending", 0),
            sent=by_state.get("sent", 0),
            skipped=by_state.get("skipped", 0),
            failed=by_state.get("failed", 0),
            uncertain=by_state.get("uncertain", 0),
            problems=[f"{email}: {detail}" for email, detail in problems],
        )
        return counts
