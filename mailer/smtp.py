"""SMTP through the standard library, run in a thread so the event loop never blocks.

The transaction is driven step by step (MAIL, RCPT, DATA) rather than with `send_message`,
so every failure before DATA is known not to have sent anything (`MailUnavailable` or
`MailRejected`), and only a failure inside DATA can leave the outcome unknown.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate

from mailer import (
    MailConfigError,
    MailRejected,
    MailUnavailable,
    OutgoingMail,
    sender_address,
)

TIMEOUT_SECONDS = 30.0


def build_message(mail: OutgoingMail, sender: str) -> EmailMessage:
    """The MIME message: plain text, UTF-8, our Message-ID and any extra headers."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = formataddr((mail.to_name, mail.to)) if mail.to_name else mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = mail.message_id
    for name, value in mail.headers.items():
        message[name] = value
    message.set_content(mail.text)
    return message


def _refusal(code: int, reply: bytes, what: str) -> Exception:
    text = f"{what} refused: {code} {reply.decode(errors='replace').strip()}"[:300]
    return MailRejected(text) if 500 <= code < 600 else MailUnavailable(text)


class SmtpMailer:
    """One connection per message: simple, and no state to lose between retries."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout = timeout

    async def send(self, mail: OutgoingMail) -> None:
        await asyncio.to_thread(self._send, mail)

    async def aclose(self) -> None:
        return None

    def _send(self, mail: OutgoingMail) -> None:
        try:
            data = build_message(mail, self.sender).as_bytes()
        except (ValueError, TypeError) as exc:  # a header the email package refuses
            raise MailRejected(f"cannot build the message: {exc}") from None
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except OSError as exc:
            raise MailUnavailable(f"cannot reach {self.host}:{self.port}: {exc}") from None
        with smtp:
            self._open(smtp)
            self._envelope(smtp, mail.to)
            try:
                smtp.data(data)
            except smtplib.SMTPDataError as exc:  # the server answered: it kept nothing
                raise _refusal(exc.smtp_code, exc.smtp_error, "message") from None
            # Anything else raised by DATA leaves the outcome unknown and propagates as is.

    def _open(self, smtp: smtplib.SMTP) -> None:
        try:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise MailConfigError(f"SMTP login refused ({exc.smtp_code})") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise MailConfigError(f"SMTP server: {exc}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise MailUnavailable(f"SMTP session failed: {exc}") from None

    def _envelope(self, smtp: smtplib.SMTP, to: str) -> None:
        try:
            code, reply = smtp.mail(sender_address(self.sender)[1])
            if code != 250:
                error = _refusal(code, reply, "sender")
                raise MailConfigError(str(error)) if isinstance(error, MailRejected) else error
            code, reply = smtp.rcpt(to)
            if code not in (250, 251):
                raise _refusal(code, reply, "recipient")
        except (smtplib.SMTPException, OSError) as exc:
            raise MailUnavailable(f"SMTP envelope failed: {exc}") from None
