"""SMTP through the standard library, run in a thread so the event loop never blocks.

The transaction is driven step by step (MAIL, RCPT, DATA) rather than with `send_message`,
so every failure before DATA is known not to have sent anything (`MailUnavailable` or
`MailRejected`), and only a failure inside DATA can leave the outcome unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import ssl
import threading
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


def _refusal(code: int, reply: bytes | str, what: str) -> Exception:
    if isinstance(reply, bytes):
        reply = reply.decode(errors="replace")
    text = f"{what} refused: {code} {reply.strip()}"[:300]
    return MailRejected(text) if 500 <= code < 600 else MailUnavailable(text)


class SmtpMailer:
    """Keeps one SMTP connection open between messages (a batch pays the TLS handshake and
    login once); sends are serialized on it. A connection the server dropped while idle is
    found out at MAIL, before anything is sent, and replaced once."""

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
        self._lock = threading.Lock()
        self._smtp: smtplib.SMTP | None = None

    async def send(self, mail: OutgoingMail) -> None:
        await asyncio.to_thread(self._send, mail)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._close)

    def _send(self, mail: OutgoingMail) -> None:
        try:
            data = build_message(mail, self.sender).as_bytes()
        except (ValueError, TypeError) as exc:  # a header the email package refuses
            raise MailRejected(f"cannot build the message: {exc}") from None
        with self._lock:
            reused = self._smtp is not None
            try:
                smtp = self._envelope(mail.to)
            except MailUnavailable:
                if not reused:
                    raise
                smtp = self._envelope(mail.to)  # the idle connection was gone: once more
            try:
                smtp.data(data)
            except smtplib.SMTPDataError as exc:  # the server answered: it kept nothing
                self._reset(smtp)
                raise _refusal(exc.smtp_code, exc.smtp_error, "message") from None
            except Exception:
                # The outcome is unknown: drop the connection and let the error propagate.
                self._drop()
                raise

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except OSError as exc:
            raise MailUnavailable(f"cannot reach {self.host}:{self.port}: {exc}") from None
        try:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            smtp.close()
            raise MailConfigError(f"SMTP login refused ({exc.smtp_code})") from None
        except smtplib.SMTPNotSupportedError as exc:
            smtp.close()
            raise MailConfigError(f"SMTP server: {exc}") from None
        except (smtplib.SMTPException, OSError) as exc:
            smtp.close()
            raise MailUnavailable(f"SMTP session failed: {exc}") from None
        self._smtp = smtp
        return smtp

    def _envelope(self, to: str) -> smtplib.SMTP:
        """MAIL and RCPT on the open connection; any failure here sent nothing."""
        smtp = self._connection()
        try:
            code, reply = smtp.mail(sender_address(self.sender)[1])
            if code != 250:
                self._reset(smtp)
                error = _refusal(code, reply, "sender")
                raise MailConfigError(str(error)) if isinstance(error, MailRejected) else error
            code, reply = smtp.rcpt(to)
            if code not in (250, 251):
                self._reset(smtp)
                error = _refusal(code, reply, "recipient")
                if code != 421:  # not the server going away: this recipient's refusal alone
                    # Even "for now" (452 mailbox full): retrying would hold up everyone after.
                    error = MailRejected(str(error))
                raise error
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise MailUnavailable(f"SMTP envelope failed: {exc}") from None
        return smtp

    def _reset(self, smtp: smtplib.SMTP) -> None:
        """Forget a refused transaction so the connection can carry the next message."""
        try:
            smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def _close(self) -> None:
        with self._lock:
            if self._smtp is not None:
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    self._smtp.quit()
            self._drop()
