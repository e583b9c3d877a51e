"""The bot end to end: the local Bot API, the Luma simulator, a real Temporal worker, PostgreSQL.

The expensive parts (servers, the worker) live for the whole test process; each test gets a
freshly started dispatcher long-polling the local Bot API, its own calendars and its own chat
and user ids, so tests never see each other's data. `World` plays the people: it says things,
presses buttons and waits for what the bot sends, with no sleeps.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Bot
from cryptography.fernet import Fernet
from sqlalchemy import select

from bot.app import BotDeps, build_dispatcher
from bot.factory import create_bot
from core.settings import Settings
from luma import BudgetPolicy, LumaPool
from nlp import IntentParser
from services.automations import Automations, JobDefaults
from standins.luma import RunningSimulator, SimulatorConfig, running_simulator
from standins.telegram import BotApiState, ChatMessage, LocalBotApi, running_local_api
from store.crypto import KeyBox
from store.models import AuditEntry, Role
from store.orgs import get_role, link_chat, remove_member, save_org, set_role
from store.rate_budget import DatabaseRateBudget
from tests.workflows.conftest import worker_clients
from worker import build_worker

_ids = itertools.count(1)
PROCESS_SALT = os.getpid() % 10_000 * 100_000


def new_user_id() -> int:
    """A Telegram user id (and private chat id) no other test uses."""
    return 1_000_000_000 + PROCESS_SALT + next(_ids)


def new_group_id() -> int:
    return -1_001_000_000_000 - PROCESS_SALT - next(_ids)


@dataclass
class Calendar:
    org_id: int
    calendar_id: str
    api_key: str
    name: str
    events: dict[str, str]  # name -> Luma event id


@dataclass
class Services:
    api: LocalBotApi
    sim: RunningSimulator
    bot: Bot
    deps: BotDeps


@dataclass
class World:
    """One running bot and the people talking to it."""

    services: Services
    deps: BotDeps

    @property
    def tg(self) -> BotApiState:
        return self.services.api.state

    @property
    def sim(self) -> RunningSimulator:
        return self.services.sim

    @property
    def bot_id(self) -> int:
        return self.tg.default_bot.id

    async def say(self, chat: int, user: int, text: str, *, timeout: float = 15) -> ChatMessage:
        """Send `text` as `user` in `chat`; the bot's next new message there."""
        self.tg.user_says(chat, user, text)
        return await self.tg.wait_for_reply(chat, timeout=timeout)

    async def press(
        self, chat: int, user: int, message: ChatMessage, label: str, *, timeout: float = 15
    ) -> ChatMessage:
        """Press a button; the next message the bot sends or edits in the chat."""
        self.tg.user_presses(chat, user, message.message_id, message.callback_data(label))
        return await self.tg.wait_for_bot_message(chat, timeout=timeout)

    def press_only(self, chat: int, user: int, message: ChatMessage, label: str) -> dict[str, Any]:
        return self.tg.user_presses(chat, user, message.message_id, message.callback_data(label))

    async def next_message(
        self, chat: int, predicate: Callable[[ChatMessage], bool] | None = None, timeout: float = 15
    ) -> ChatMessage:
        return await self.tg.wait_for_bot_message(chat, predicate=predicate, timeout=timeout)

    def group(self, *, admin: int | None = None, bot_admin: bool = True) -> int:
        """A new group; `admin` is a Telegram administrator of it, and so is the bot."""
        chat = new_group_id()
        self.tg.add_chat(chat, title=f"Group {chat}")
        if bot_admin:
            self.tg.set_member_status(chat, self.bot_id, "administrator")
        if admin is not None:
            self.tg.set_member_status(chat, admin, "administrator")
        return chat

    def person(self, username: str | None = None) -> int:
        user = new_user_id()
        self.tg.add_user(user, first_name=f"Person {user}", username=username)
        return user

    async def calendar(self, *, name: str | None = None, sync: bool = True) -> Calendar:
        """A simulator calendar with known events, stored as an org (not linked to a chat)."""
        name = name or f"Calendar {uuid.uuid4().hex[:6]}"
        state = self.sim.state
        handle = state.add_calendar(name)
        now = datetime.now(UTC)
        conference = {"pending_approval": 0.5, "approved": 0.3, "waitlist": 0.1, "declined": 0.1}
        plans = [  # name, city, days from now, guests, statuses, paid share
            ("Main Conference 2026", "Lisbon", 14, 40, conference, 0.3),
            ("Founders Dinner", "Dubai", 7, 12, {"pending_approval": 0.5, "approved": 0.5}, 0.0),
            ("Lisbon Workshop", "Lisbon", 20, 8, {"approved": 1.0}, 0.0),
            ("Lisbon Meetup", "Lisbon", 25, 8, {"approved": 1.0}, 0.0),
            ("Winter Gala", "London", -10, 20, {"approved": 1.0}, 0.0),  # no summary: long over
        ]
        events = {
            event_name: state.add_event(
                handle.id,
                name=event_name,
                city=city,
                start_at=now + timedelta(days=days),
                guests=guests,
                status_mix=mix,
                paid_share=paid,
            )
            for event_name, city, days, guests, mix, paid in plans
        }
        async with self.deps.sessions.begin() as session:
            org = await save_org(
                session,
                calendar_id=handle.id,
                name=name,
                luma_key=handle.api_key,
                keybox=self.deps.keybox,
            )
        calendar = Calendar(org.id, handle.id, handle.api_key, name, events)
        if sync:
            await (await self.deps.automations.sync_now(org.id)).result()
        return calendar

    async def link(self, calendar: Calendar, chat: int, linked_by: int) -> None:
        """Link a chat the way /link does, without the Luma key check."""
        kind = "private" if chat > 0 else "supergroup"
        async with self.deps.sessions.begin() as session:
            await link_chat(
                session,
                chat_id=chat,
                org_id=calendar.org_id,
                kind=kind,
                title="",
                linked_by=linked_by,
            )

    async def member(self, calendar: Calendar, user: int, role: Role = Role.MEMBER) -> None:
        """Give a person a role in the calendar's org, as /role or the portal does."""
        async with self.deps.sessions.begin() as session:
            await set_role(session, org_id=calendar.org_id, user_id=user, role=role)

    async def role(self, calendar: Calendar, user: int) -> Role | None:
        async with self.deps.sessions() as session:
            return await get_role(session, org_id=calendar.org_id, user_id=user)

    async def remove(self, calendar: Calendar, user: int) -> None:
        """Take a person out of the calendar's org, as the portal's team page does."""
        async with self.deps.sessions.begin() as session:
            await remove_member(session, org_id=calendar.org_id, user_id=user)

    async def linked_group(self, calendar: Calendar | None = None) -> tuple[Calendar, int, int]:
        """A calendar, a group linked to it, and the group's admin (who linked it)."""
        calendar = calendar or await self.calendar()
        admin = self.person()
        chat = self.group(admin=admin)
        await self.link(calendar, chat, admin)
        return calendar, chat, admin

    def guests(self, calendar: Calendar, event: str, status: str | None = None) -> list[Any]:
        guests = self.sim.state.event(calendar.events[event]).guests.values()
        return [g for g in guests if status is None or g.approval_status == status]

    def writes(self, calendar: Calendar) -> list[Any]:
        return [w for w in self.sim.state.writes if w.calendar_id == calendar.calendar_id]

    async def audit(self, org_id: int, action: str | None = None) -> list[AuditEntry]:
        async with self.deps.sessions() as session:
            query = select(AuditEntry).where(AuditEntry.org_id == org_id)
            if action is not None:
                query = query.where(AuditEntry.action == action)
            return list((await session.scalars(query.order_by(AuditEntry.id))).all())


@pytest.fixture(scope="session")
def bot_keybox() -> KeyBox:
    return KeyBox([Fernet.generate_key().decode()])


@pytest.fixture(scope="session")
async def services(temporal_env, sessions, bot_keybox) -> AsyncIterator[Services]:
    """Servers and the Temporal worker, shared by every bot test of this process."""
    async with (
        running_local_api() as api,
        # A seed of its own: another simulator with the same seed (the demo's, say) would
        # hand out the same calendar ids, and tests sharing one database must not share an org.
        running_simulator(
            SimulatorConfig(seed=uuid.uuid4().int % 10**9, calendars=0, rate_limit=None)
        ) as sim,
    ):
        budget = DatabaseRateBudget(sessions, BudgetPolicy(limit=100_000))
        pool = LumaPool(sim.base_url, budget=budget, timeout=5, backoff_base=0.05)
        bot = create_bot(api.state.default_bot.token, api.base_url)
        defaults = JobDefaults(
            task_queue=f"bot-tests-{uuid.uuid4().hex}",
            batch_size=10,
            concurrency=4,
            heartbeat_timeout_seconds=5,
        )
        worker = build_worker(
            temporal_env.client,
            defaults.task_queue,
            worker_clients(sessions, bot_keybox, pool, bot),
        )
        async with worker:
            deps = BotDeps(
                settings=Settings(_env_file=None),
                sessions=sessions,
                keybox=bot_keybox,
                luma=pool,
                automations=Automations(temporal_env.client, defaults),
                parser=IntentParser(),
                progress_interval=0.2,
            )
            yield Services(api, sim, bot, deps)
            await deps.progress.aclose()
        await bot.session.close()
        await pool.aclose()


@asynccontextmanager
async def running_bot(services: Services, **overrides: Any) -> AsyncIterator[World]:
    """A dispatcher long-polling the local Bot API, with BotDeps tunables overridden."""
    deps = services.deps
    if overrides:
        deps = BotDeps(**{**_fields(deps), **overrides})
    dispatcher = build_dispatcher(deps)
    # No need to wait for the poller: what users say meanwhile waits in the server's queue.
    task = asyncio.create_task(
        dispatcher.start_polling(
            services.bot, handle_signals=False, close_bot_session=False, polling_timeout=1
        )
    )
    try:
        yield World(services, deps)
    finally:
        await dispatcher.stop_polling()
        await task
        if deps is not services.deps:
            await deps.progress.aclose()
        account = services.api.state.default_bot
        account.confirm(account.next_update_id)  # the next test's poller starts clean


def _fields(deps: BotDeps) -> dict[str, Any]:
    return {f.name: getattr(deps, f.name) for f in fields(deps) if f.init}


@pytest.fixture
async def world(services: Services) -> AsyncIterator[World]:
    async with running_bot(services) as world:
        yield world


@pytest.fixture
def bot_with(services: Services) -> Callable[..., AbstractAsyncContextManager[World]]:
    """`async with bot_with(throttle=...) as world:` for tests that need other tunables."""
    return lambda **overrides: running_bot(services, **overrides)
