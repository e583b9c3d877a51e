"""Sending email: one small interface with SMTP and SendGrid behind it (MAIL_BACKEND).

A sender either returns (the provider took the message) or raises one of three errors that
tell the caller whether the message may have gone out, which is what idempotent sending
needs to know:

- `MailRejected`: refused for good (a bad recipient); nothing was sent, retrying cannot help.
- `MailUnavailable`: not taken now (connection refused, 4xx, 429); nothing was sent, retry.
- `MailConfigError`: our configuration is wrong (login refused, bad API key); nothing was sent.
- `MailDailyLimit`: the sender's daily sending limit is reached (Gmail); nothing was sent, and
  nothing more will be taken before `resume_at`.

Any other exception means the outcome is unknown (the connection died after the message was
handed over), and the follow-up activity then refuses to send that message again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr
from typing import TYPE_CHECKING, Protocol

from core.settings import MailBackend, Settings
from mailer.unsubscribe import UnsubscribeSigner

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from mailer.gmail import GmailSenders


@dataclass(frozen=True)
class OutgoingMail:
    """One plain-text message to one person."""

    to: str
    subject: str
    text: str
    message_id: str  # derived from the idempotency key: the same send always has the same id
    to_name: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class MailRejected(Exception):
    """The provider refused this message for good; it was not sent."""


class MailUnavailable(Exception):
    """The provider could not take the message now; it was not sent, so retrying is safe."""


class MailConfigError(Exception):
    """Our mail settings are wrong (credentials, sender); nothing was sent."""


class MailDailyLimit(Exception):
    """The sender's daily limit is reached: nothing was sent, and no more before `resume_at`
    (a campaign stops for the day and resumes then, rather than retrying)."""

    def __init__(self, message: str, resume_at: datetime, *, sender: str) -> None:
        super().__init__(message)
        self.resume_at = resume_at
        self.sender = sender  # whose limit, for the report ("Gmail")


class Mailer(Protocol):
    """What the follow-up activities need from a sender."""

    sender: str

    async def send(self, mail: OutgoingMail) -> None: ...

    async def aclose(self) -> None: ...


def sender_address(sender: str) -> tuple[str, str]:
    """(display name, address) of `Events <events@example.com>` or a bare address."""
    name, address = parseaddr(sender)
    return name, address or sender


def message_id(key: str, sender: str) -> str:
    """A Message-ID fixed by the idempotency key, on the sender's domain (RFC 5322 form).

    If a crash ever leaves a send ambiguous, the copies (if any) share this id, so a mailbox
    or the provider's logs can tell them apart from two different emails.
    """
    domain = sender_address(sender)[1].rpartition("@")[2] or "lumabot.local"
    return f"<followup.{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


@dataclass
class MailSetup:
    """A worker's senders plus what it needs to write unsubscribe links: MAIL_BACKEND's
    (None when off) and, when the Google OAuth client is set, each org's connected Gmail."""

    mailer: Mailer | None
    signer: UnsubscribeSigner
    public_url: str
    gmail: GmailSenders | None = None

    async def mailer_for(self, session: AsyncSession, org_id: int) -> Mailer | None:
        """The org's connected Gmail when it has one, else MAIL_BACKEND's sender (or None)."""
        if self.gmail is not None:
            own = await self.gmail.mailer_for(session, org_id)
            if own is not None:
                return own
        return self.mailer

    def unsubscribe_url(self, org_id: int, normalized_email: str) -> str:
        token = self.signer.sign(org_id, normalized_email)
        return f"{self.public_url.rstrip('/')}/unsubscribe/{token}"

    async def aclose(self) -> None:
        if self.mailer is not None:
            await self.mailer.aclose()
        if self.gmail is not None:
            await self.gmail.aclose()


def build_mailer(settings: Settings) -> Mailer | None:
    """The configured sender, or None when MAIL_BACKEND is off."""
    if settings.mail_backend is MailBackend.SMTP:
        from mailer.smtp import SmtpMailer

        return SmtpMailer(
            settings.smtp_host,
            settings.smtp_port,
            sender=settings.mail_from,
            username=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
        )
    if settings.mail_backend is MailBackend.SENDGRID:
        from mailer.sendgrid import SendGridMailer

        assert settings.sendgrid_api_key is not None  # the settings validator insists
        return SendGridMailer(
            settings.sendgrid_api_key.get_secret_value(),
            sender=settings.mail_from,
            base_url=settings.sendgrid_api_url,
        )
    return None


def mail_setup(settings: Settings) -> MailSetup | None:
    """Everything a worker needs to send follow-ups, or None when mail is off (no
    MAIL_BACKEND and no Google OAuth client for orgs to connect their Gmail)."""
    from mailer.gmail import GmailSenders

    mailer = build_mailer(settings)
    gmail = GmailSenders.from_settings(settings)
    if mailer is None and gmail is None:
        return None
    signer = UnsubscribeSigner.from_settings(settings)
    return MailSetup(mailer, signer, settings.public_url, gmail)
