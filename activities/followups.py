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
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import heartbeating
from mailer import (
    MailConfigError,
    MailRejected,
    MailSetup,
    MailUnavailable,
    OutgoingMail,
    drafts,
    lists,
    message_id,
)
from store.db import rowcount, upsert_insert
from store.models import FollowupSend, utcnow
from workflows.contracts.followups import (
    CampaignRef,
    FollowupBatch,
    FollowupCounts,
    ResolveFollowup,
)

KEY_COLUMNS = ["org_id", "luma_event_id", "campaign_id", "normalized_email"]
MAIL_OFF = (
    "Email is off on the automation worker: set MAIL_BACKEND (smtp or sendgrid) and MAIL_FROM."
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


class FollowupActivities:
    """Holds the database sessions and the mail setup (None when MAIL_BACKEND is off)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], mail: MailSetup | None) -> None:
        self.sessions = sessions
        self.mail = mail

    def _setup(self) -> MailSetup:
        if self.mail is None:
            raise ApplicationError(MAIL_OFF, type="MailOff", non_retryable=True)
        return self.mail

    @activity.defn
    async def resolve_followup_recipients(self, job: ResolveFollowup) -> FollowupCounts:
        """Snapshot the audience into the table; a rerun inserts nothing new."""
        setup = self._setup()
        campaign = job.campaign
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
                        "message_id": message_id(
                            _key(campaign, person.normalized_email), setup.mailer.sender
                        ),
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
        async with heartbeating(0) as progress:
            for row in todo:
                if activity.is_worker_shutdown():
                    break  # a stopping worker hands the rest to the next batch, elsewhere
                if row.normalized_email in opted_out:
                    await self._settle(campaign, row.id, "pending", "skipped", "unsubscribed")
                elif await self._settle(campaign, row.id, "pending", "sending"):
                    await self._send(setup, batch, row)
                progress.value += 1
        return await self.followup_counts(campaign)

    async def _send(self, setup: MailSetup, batch: FollowupBatch, row: FollowupSend) -> None:
        campaign = batch.campaign
        unsubscribe_url = setup.unsubscribe_url(campaign.org_id, row.normalized_email)
        body = drafts.render(batch.body, name=row.name, event=batch.event_name)
        subject = drafts.render(batch.subject, name=row.name, event=batch.event_name)
        mail = OutgoingMail(
            to=row.email,
            to_name=" ".join(row.name.split()),  # headers are one line
            subject=" ".join(subject.split()),
            text=drafts.with_footer(body, unsubscribe_url),
            message_id=row.message_id,
            headers={
                "List-Unsubscribe": f"<{unsubscribe_url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        try:
            await setup.mailer.send(mail)
        except MailRejected as exc:
            await self._settle(campaign, row.id, "sending", "failed", str(exc))
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
