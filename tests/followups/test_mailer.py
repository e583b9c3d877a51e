"""The senders on their own: SMTP login, SendGrid's answers, settings, tokens and drafts."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography.fernet import Fernet
from pydantic import ValidationError

from core.settings import Settings
from mailer import (
    MailConfigError,
    MailRejected,
    MailUnavailable,
    OutgoingMail,
    build_mailer,
    drafts,
    message_id,
)
from mailer.sendgrid import SendGridMailer
from mailer.smtp import SmtpMailer
from mailer.unsubscribe import UnsubscribeSigner
from tests.followups.conftest import SENDER, Inbox, SocketController
from tests.ports import reserved_ports

MAIL = OutgoingMail(
    to="ada@example.com",
    subject="Thank you",
    text="Hi Ada",
    message_id=message_id("1/evt/c/ada@example.com", SENDER),
    to_name="Ada Lovelace",
)


async def test_sendgrid_payload_and_answers(sendgrid) -> None:
    fake, url = sendgrid
    mailer = SendGridMailer(fake.api_key, sender=SENDER, base_url=url)
    try:
        await mailer.send(MAIL)
        (body,) = fake.accepted
        assert body["from"] == {"email": "events@demo.test", "name": "Demo Events"}
        assert body["personalizations"] == [
            {"to": [{"email": "ada@example.com", "name": "Ada Lovelace"}]}
        ]
        assert body["subject"] == "Thank you"
        assert body["content"] == [{"type": "text/plain", "value": "Hi Ada"}]
        assert body["headers"]["Message-ID"] == MAIL.message_id
        fake.script["ada@example.com"] = [429, 503, 400]
        with pytest.raises(MailUnavailable):
            await mailer.send(MAIL)
        with pytest.raises(MailUnavailable):
            await mailer.send(MAIL)
        with pytest.raises(MailRejected):
            await mailer.send(MAIL)
    finally:
        await mailer.aclose()
    wrong = SendGridMailer("SG.wrong-key-000000000", sender=SENDER, base_url=url)
    try:
        with pytest.raises(MailConfigError):
            await wrong.send(MAIL)
    finally:
        await wrong.aclose()
    unreachable = SendGridMailer(fake.api_key, sender=SENDER, base_url="http://127.0.0.1:9")
    try:
        with pytest.raises(MailUnavailable):
            await unreachable.send(MAIL)
    finally:
        await unreachable.aclose()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_smtp_login_and_refusals() -> None:
    def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
        wanted = LoginPassword(b"mailer", b"s3cret-pass")
        # handled=False: the server answers 535 itself (True would leave the client hanging).
        return AuthResult(success=auth_data == wanted, handled=False)

    inbox = Inbox()
    controller = SocketController(
        inbox,
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    inbox.port = controller.port
    controller.start()
    try:
        good = SmtpMailer(
            "127.0.0.1",
            inbox.port,
            sender=SENDER,
            username="mailer",
            password="s3cret-pass",
            starttls=False,
        )
        await good.send(MAIL)
        assert inbox.per_recipient() == {"ada@example.com": 1}
        message = inbox.messages[0]
        assert message["Message-ID"] == MAIL.message_id
        assert message["To"] == "Ada Lovelace <ada@example.com>"

        bad = SmtpMailer(
            "127.0.0.1",
            inbox.port,
            sender=SENDER,
            username="mailer",
            password="nope",
            starttls=False,
        )
        with pytest.raises(MailConfigError):
            await bad.send(MAIL)
        inbox.refuse.add("ada@example.com")
        with pytest.raises(MailRejected, match="550"):
            await good.send(MAIL)
        # A server without STARTTLS, when STARTTLS is required: a config error, nothing sent.
        with pytest.raises(MailConfigError):
            await SmtpMailer("127.0.0.1", inbox.port, sender=SENDER, starttls=True).send(MAIL)
        await good.aclose()
    finally:
        controller.stop()
    with reserved_ports(1) as (nobody,), pytest.raises(MailUnavailable):
        await SmtpMailer("127.0.0.1", nobody, sender=SENDER, starttls=False).send(MAIL)
    assert len(inbox.messages) == 1


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_settings_need_a_sender_and_a_key() -> None:
    assert build_mailer(settings()) is None
    with pytest.raises(ValidationError, match="MAIL_FROM"):
        settings(mail_backend="smtp")
    with pytest.raises(ValidationError, match="SENDGRID_API_KEY"):
        settings(mail_backend="sendgrid", mail_from=SENDER)
    smtp = settings(mail_backend="smtp", mail_from=SENDER, smtp_password="hunter2-smtp-pass")
    assert isinstance(build_mailer(smtp), SmtpMailer)
    assert "hunter2-smtp-pass" in smtp.secret_values()


async def test_mail_secrets_are_redacted_from_logs(caplog) -> None:
    from core.logs import secrets

    configured = settings(
        mail_backend="sendgrid", mail_from=SENDER, sendgrid_api_key="SG.very-secret-key-42"
    )
    mailer = build_mailer(configured)
    assert isinstance(mailer, SendGridMailer)
    await mailer.aclose()
    secrets.add(*configured.secret_values())
    with caplog.at_level(logging.INFO):
        logging.getLogger("lumabot.test").info("key is %s", "SG.very-secret-key-42")
    assert "SG.very-secret-key-42" not in caplog.text


def test_unsubscribe_tokens_are_signed_and_survive_key_rotation() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = UnsubscribeSigner(lambda: [old])
    token = before.sign(7, "ada@example.com")
    after = UnsubscribeSigner(lambda: [new, old])
    verified = after.verify(token)
    assert verified is not None and verified.org_id == 7
    assert UnsubscribeSigner(lambda: [new]).verify(token) is None
    payload, mac = token.split(".")
    other = before.sign(8, "ada@example.com").split(".")[0]
    assert before.verify(f"{other}.{mac}") is None  # another org with this person's MAC
    for garbage in ("", ".", "abc", "a.b", f"{payload}.", "%%%.%%%"):
        assert before.verify(garbage) is None


def test_drafts() -> None:
    assert drafts.render("Hi {first_name} — {event} {x}", name="Ada Lovelace", event="Gala") == (
        "Hi Ada — Gala {x}"
    )
    assert drafts.render("Hi {first_name}", name="  ", event="Gala") == "Hi there"
    custom = drafts.from_text("Subject: See you at {event}\nHello {first_name}!", "Fallback")
    assert custom == drafts.Draft("See you at {event}", "Hello {first_name}!")
    assert drafts.from_text("Just text", "Fallback") == drafts.Draft("Fallback", "Just text")


async def test_smtp_keeps_one_connection_and_replaces_a_dropped_one() -> None:
    # The server comes back on the same port: reserved (not a socket), so it stays ours
    # while nobody listens on it.
    with reserved_ports(1) as (port,):
        inbox = Inbox(port=port)
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        mailer = SmtpMailer("127.0.0.1", port, sender=SENDER, starttls=False, timeout=5)
        try:
            inbox.refuse.add("p1@example.com")
            for n in range(3):
                try:
                    await mailer.send(replace(MAIL, to=f"p{n}@example.com"))
                except MailRejected:
                    assert n == 1  # refused, and the connection carries on after RSET
            assert set(inbox.per_recipient()) == {"p0@example.com", "p2@example.com"}
            assert len({message["X-Peer"] for message in inbox.messages}) == 1

            controller.stop()  # the server goes away: the idle connection is dead
            controller = Controller(inbox, hostname="127.0.0.1", port=port)
            controller.start()
            await mailer.send(replace(MAIL, to="p3@example.com"))
            assert inbox.per_recipient()["p3@example.com"] == 1
            assert len({message["X-Peer"] for message in inbox.messages}) == 2
        finally:
            await mailer.aclose()
            controller.stop()
