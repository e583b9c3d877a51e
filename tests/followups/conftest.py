"""Follow-up fixtures: a local SMTP server (aiosmtpd, started per test on its own socket), an org
with a finished event in the cache, and a real worker whose mailer talks to that server."""

from __future__ import annotations

import asyncio
import email
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.http_server import serving
from luma import BudgetPolicy, LumaPool, email_domain, identity_key
from mailer import MailSetup
from mailer.smtp import SmtpMailer
from mailer.unsubscribe import UnsubscribeSigner
from services.automations import Automations, JobDefaults
from store.crypto import KeyBox
from store.models import Event, FollowupSend, Guest
from store.orgs import save_org
from store.rate_budget import DatabaseRateBudget
from tests.ports import HOST, bind_free_socket
from tests.workflows.conftest import worker_clients
from worker import build_worker
from workflows.contracts.followups import FollowupInput

SENDER = "Demo Events <events@demo.test>"
PUBLIC_URL = "http://api.test"


class SocketController(Controller):
    """aiosmtpd's threaded server listening on a socket bound before it starts, so no other
    test process can take its port between choosing and listening (see tests.ports)."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        self.sock = bind_free_socket()
        super().__init__(handler, hostname=HOST, port=self.sock.getsockname()[1], **kwargs)

    def _create_server(self) -> Coroutine[Any, Any, asyncio.AbstractServer]:
        # The server owns the socket from here and closes it when it stops.
        return self.loop.create_server(self._factory_invoker, sock=self.sock, ssl=self.ssl_context)


@dataclass
class Inbox:
    """The SMTP server's handler: every accepted message, refusals on demand, and an
    optional hold on the Nth message (accepted, but the reply withheld until released)."""

    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    full: set[str] = field(default_factory=set)  # refused "for now" (452)
    hold_at: int | None = None
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, options) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        if address in self.full:
            return "452 4.2.2 Mailbox full"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=default)
        assert isinstance(message, EmailMessage)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        message["X-Peer"] = str(session.peer)  # which connection brought it
        with self.lock:
            self.messages.append(message)
            count = len(self.messages)
        if count == self.hold_at:
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
        return "250 Message accepted for delivery"

    def per_recipient(self) -> Counter[str]:
        with self.lock:
            return Counter(message["X-Envelope-To"] for message in self.messages)

    def to(self, address: str) -> EmailMessage:
        matching = [m for m in self.messages if m["X-Envelope-To"] == address]
        assert len(matching) == 1, f"{len(matching)} messages to {address}"
        return matching[0]


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    inbox = Inbox()
    controller = SocketController(inbox)
    inbox.port = controller.port
    controller.start()
    try:
        yield inbox
    finally:
        inbox.release.set()
        controller.stop()


@dataclass
class Seeded:
    org_id: int
    event_id: str
    event_name: str


# name, email, approval status, checked in
GUESTS: list[tuple[str, str, str, bool]] = [
    ("Ada Lovelace", "ada@example.com", "approved", True),
    ("Ada L.", "Ada+events@Example.com", "approved", True),  # the same person again
    ("Grace Hopper", "grace@example.com", "approved", True),
    ("", "anon@example.com", "approved", True),
    ("Alan Turing", "alan@example.com", "approved", False),
    ("Katherine Johnson", "katherine@example.com", "session", False),
    ("Pending Person", "pending@example.com", "pending_approval", False),
    ("Declined Person", "declined@example.com", "declined", False),
]
ATTENDED = {"ada@example.com", "grace@example.com", "anon@example.com"}
NO_SHOWS = {"alan@example.com", "katherine@example.com"}


async def seed_event(
    sessions: async_sessionmaker[AsyncSession],
    keybox: KeyBox,
    guests: list[tuple[str, str, str, bool]] = GUESTS,
    name: str = "Demo Night",
) -> Seeded:
    """An org and a finished event in the cache (no Luma needed: follow-ups read the cache)."""
    suffix = uuid.uuid4().hex[:8]
    event_id = f"evt-{suffix}"
    start = datetime.now(UTC) - timedelta(days=1)
    async with sessions.begin() as session:
        org = await save_org(
            session,
            calendar_id=f"cal-{suffix}",
            name=f"Org {suffix}",
            luma_key=f"secret-{uuid.uuid4().hex}",
            keybox=keybox,
        )
        session.add(
            Event(
                org_id=org.id,
                luma_event_id=event_id,
                name=name,
                start_at=start,
                end_at=start + timedelta(hours=3),
            )
        )
        for index, (guest_name, address, status, checked_in) in enumerate(guests):
            session.add(
                Guest(
                    org_id=org.id,
                    luma_event_id=event_id,
                    luma_guest_id=f"gst-{suffix}-{index}",
                    email=address,
                    normalized_email=identity_key(address),
                    email_domain=email_domain(address),
                    name=guest_name,
                    approval_status=status,
                    checked_in_at=start + timedelta(minutes=10) if checked_in else None,
                )
            )
    return Seeded(org.id, event_id, name)


@pytest.fixture
async def seeded(sessions, keybox) -> Seeded:
    return await seed_event(sessions, keybox)


@pytest.fixture
def signer(encryption_keys: list[str]) -> UnsubscribeSigner:
    return UnsubscribeSigner(lambda: encryption_keys)


@pytest.fixture
def defaults() -> JobDefaults:
    return JobDefaults(
        task_queue=f"followups-{uuid.uuid4().hex}",
        heartbeat_timeout_seconds=5,
        followup_batch_size=2,
    )


@pytest.fixture
async def luma_pool(sessions) -> AsyncIterator[LumaPool]:
    """Never called by follow-ups; the worker's other activities want one."""
    budget = DatabaseRateBudget(sessions, BudgetPolicy(limit=100_000))
    async with LumaPool("http://127.0.0.1:9", budget=budget, timeout=1) as pool:
        yield pool


@pytest.fixture
async def smtp_setup(inbox: Inbox, signer: UnsubscribeSigner) -> AsyncIterator[MailSetup]:
    mailer = SmtpMailer("127.0.0.1", inbox.port, sender=SENDER, starttls=False, timeout=5)
    setup = MailSetup(mailer, signer, PUBLIC_URL)
    yield setup
    await setup.aclose()


async def running_worker(
    temporal_env, sessions, keybox, pool, defaults: JobDefaults, mail: MailSetup | None
):
    clients = replace(worker_clients(sessions, keybox, pool), mail=mail)
    return build_worker(temporal_env.client, defaults.task_queue, clients)


@pytest.fixture
async def automations(
    temporal_env, sessions, keybox, luma_pool, defaults, smtp_setup
) -> AsyncIterator[Automations]:
    worker = await running_worker(temporal_env, sessions, keybox, luma_pool, defaults, smtp_setup)
    async with worker:
        yield Automations(temporal_env.client, defaults)


def campaign(seeded: Seeded, audience: str = "attended", **changes: Any) -> FollowupInput:
    return FollowupInput(
        org_id=seeded.org_id,
        event_id=seeded.event_id,
        event_name=seeded.event_name,
        audience=audience,
        campaign_id=uuid.uuid4().hex[:12],
        subject=changes.pop("subject", "Thank you for coming to {event}"),
        body=changes.pop("body", "Hi {first_name},\n\nThanks for joining {event}!"),
        **changes,
    )


@dataclass
class FakeSendGrid:
    """SendGrid's v3 mail/send: 202, or the status scripted for an address (used once)."""

    api_key: str = "SG.test-key-0123456789"
    script: dict[str, list[int]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v3/mail/send")
        async def send(request: Request) -> JSONResponse:
            body = await request.json()
            self.requests.append(body)
            if request.headers.get("authorization") != f"Bearer {self.api_key}":
                return JSONResponse({"errors": [{"message": "unauthorized"}]}, status_code=401)
            address = body["personalizations"][0]["to"][0]["email"]
            planned = self.script.get(address)
            if planned:
                status = planned.pop(0)
                return JSONResponse({"errors": [{"message": f"scripted {status}"}]}, status)
            self.accepted.append(body)
            return JSONResponse(None, status_code=202)

        return app


@pytest.fixture
async def sendgrid() -> AsyncIterator[tuple[FakeSendGrid, str]]:
    fake = FakeSendGrid()
    async with serving(fake.app()) as url:
        yield fake, url


@pytest.fixture
def fixtures(
    temporal_env, sessions, keybox, encryption_keys, db_url, defaults, inbox, tmp_path
) -> dict[str, Any]:
    """What a test driving worker processes needs, as keyword arguments."""
    return {
        "temporal_env": temporal_env,
        "sessions": sessions,
        "keybox": keybox,
        "encryption_keys": encryption_keys,
        "db_url": db_url,
        "defaults": defaults,
        "inbox": inbox,
        "tmp_path": tmp_path,
    }


async def send_states(
    sessions: async_sessionmaker[AsyncSession], org_id: int, campaign_id: str
) -> dict[str, str]:
    """Email -> state of one campaign's rows."""
    async with sessions() as session:
        rows = await session.execute(
            select(FollowupSend.email, FollowupSend.state).where(
                FollowupSend.org_id == org_id, FollowupSend.campaign_id == campaign_id
            )
        )
        return dict(rows.all())
