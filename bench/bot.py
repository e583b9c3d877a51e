"""Benchmark: the bot answering cached questions from 50 chats at once.

The bot runs as `lumabot bot` does (`bot.app.run_polling`, default throttling included) in a
process of its own, long-polling the local Bot API server that this process serves; Telegram
is the only stand-in. 50 group chats, all linked to one calendar, ask at the same moment, in
waves: an event summary, a pending list, a guest page, the event list, a person's history,
and a plain-language count read by the offline parser (Gemini excluded). The next wave
starts when all 50 are answered. The cache is seeded fresh, so no question reaches Luma.

Latency runs from the update entering the Bot API server's queue to the answer leaving the
bot. Targets: p95 under 150 ms, and at most 3 ms of the bot process's CPU a message (what
decides the latency once 50 chats keep it busy); each printed as a ratio. Also printed:
messages per second.

    .venv/bin/python -m bench.bot        # a scratch database on the local PostgreSQL
    BENCH_PROFILE=/tmp/bot.prof .venv/bin/python -m bench.bot   # and the bot's cProfile
    DATABASE_URL=sqlite+aiosqlite:///... .venv/bin/python bench/bot.py
"""

from __future__ import annotations

import asyncio
import cProfile
import multiprocessing
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from cryptography.fernet import Fernet
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from bot.app import run_polling
from cli.context import run as run_command
from core.binaries import temporal_cli
from core.payload_codec import data_converter
from core.settings import Settings
from migrations import runner
from standins.telegram import BotApiState, running_local_api
from store import cache
from store.crypto import KeyBox
from store.db import create_engine, session_factory
from store.models import Event, Organization
from store.orgs import link_chat, save_org

CHATS = 50
ROUNDS = 10  # waves; per chat within the default throttle of 12 questions per 10 s
WARM_UP_CHATS = 5
TARGET_P95 = 0.150
TARGET_CPU = 0.003  # bot CPU seconds a message
GUESTS_PER_EVENT = 300
EVENTS = ("Main Conference 2026", "Founders Dinner", "Lisbon Workshop", "Summer Mixer")
STATUSES = ("approved", "pending_approval", "waitlist", "declined", "invited")
QUESTIONS = (
    "/event Main Conference 2026",
    "/pending founders dinner",
    "/guests Lisbon Workshop approved",
    "/events",
    "/find {email}",
    "@{bot} how many guests are pending for the summer mixer?",  # groups: mention the bot
)


def fake_guest(rng: random.Random, index: int, event_id: str) -> dict[str, object]:
    """A plausible cached guest row (`store.cache.upsert_guests`) of one event."""
    first = rng.choice(("Ada", "Grace", "Alan", "Linus", "Barbara", "Ken", "Margaret"))
    last = rng.choice(("Lovelace", "Hopper", "Turing", "Torvalds", "Liskov", "Thompson"))
    domain = rng.choice(("acme.com", "globex.com", "initech.com", "gmail.com"))
    email = f"{first.lower()}.{last.lower()}{index}@{domain}"
    return {
        "luma_guest_id": f"gst-{event_id}-{index}",
        "email": email,
        "normalized_email": email,
        "email_domain": domain,
        "name": f"{first} {last}",
        "approval_status": rng.choice(STATUSES),
        "company": None,
        "job_title": None,
        "registration_answers": [],
        "is_paid": rng.random() < 0.2,
        "registered_at": datetime.now(UTC) - timedelta(days=rng.randint(1, 30)),
        "invited_at": None,
        "checked_in_at": None,
    }


async def fresh_calendar(
    session: AsyncSession, keybox: KeyBox, rng: random.Random, guest_counts: Sequence[int]
) -> tuple[int, list[str], list[dict[str, object]]]:
    """One org whose EVENTS are cached and fresh, with `guest_counts[i]` guests on event i
    (no question reaches Luma). Returns the org id, the event ids and the last event's guests."""
    now = datetime.now(UTC)
    org = await save_org(
        session,
        calendar_id=f"cal-bench-{time.time_ns()}",
        name="Bench Calendar",
        luma_key="secret-bench-key-never-used",
        keybox=keybox,
    )
    events: list[dict[str, Any]] = [
        {
            "luma_event_id": f"evt-{org.id}-{n}",
            "name": name,
            "start_at": now + timedelta(days=7 * (n + 1)),
            "end_at": now + timedelta(days=7 * (n + 1), hours=3),
            "timezone": "Europe/Lisbon",
            "city": "Lisbon",
            "country": "Portugal",
            "url": None,
            "raw": {},
        }
        for n, name in enumerate(EVENTS)
    ]
    await cache.upsert_events(session, org_id=org.id, events=events)
    guests: list[dict[str, object]] = []
    for event, count in zip(events, guest_counts, strict=True):
        event_id = str(event["luma_event_id"])
        guests = [fake_guest(rng, i, event_id) for i in range(count)]
        await cache.upsert_guests(session, org_id=org.id, luma_event_id=event_id, guests=guests)
    await session.execute(update(Event).where(Event.org_id == org.id).values(guests_synced_at=now))
    await session.execute(
        update(Organization).where(Organization.id == org.id).values(last_synced_at=now)
    )
    return org.id, [str(event["luma_event_id"]) for event in events], guests


async def seed(
    sessions: async_sessionmaker[AsyncSession], keybox: KeyBox, chats: dict[int, int]
) -> str:
    """One calendar with its events and guests cached and fresh, linked to every chat;
    returns a guest's email to look up."""
    async with sessions.begin() as session:
        org_id, _, guests = await fresh_calendar(
            session, keybox, random.Random(7), [GUESTS_PER_EVENT] * len(EVENTS)
        )
        for chat, admin in chats.items():
            await link_chat(
                session, chat_id=chat, org_id=org_id, kind="supergroup", title="", linked_by=admin
            )
    return str(guests[0]["email"])


def serve_bot(environment: dict[str, str]) -> None:
    """`lumabot bot`, configured by the environment like any deployment; SIGTERM stops it.
    With BENCH_PROFILE=<file> the process runs under cProfile and writes its stats there."""
    os.environ.update(environment)
    profile_to = os.environ.get("BENCH_PROFILE")
    if not profile_to:
        run_command(run_polling(Settings(_env_file=None)), on_uvloop=True)  # as `lumabot bot`
        return
    # CPU time: waits for others are not ours. On uvloop, as measured. Read its tottime:
    # cumulative times of coroutines are wrong wherever SQLAlchemy switches greenlets.
    profiler = cProfile.Profile(time.process_time)
    profiler.runcall(run_command, run_polling(Settings(_env_file=None)), on_uvloop=True)
    profiler.dump_stats(profile_to)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Replies:
    """Every answer the bot sends, handed to the chat waiting for it (one scan per change)."""

    def __init__(self, state: BotApiState) -> None:
        self.state = state
        self.seen = len(state.events())
        self.waiting: dict[int, asyncio.Future[float]] = {}
        self.texts: list[str] = []

    def expect(self, chat: int) -> asyncio.Future[float]:
        self.waiting[chat] = asyncio.get_running_loop().create_future()
        return self.waiting[chat]

    async def run(self) -> None:
        while True:
            await self.state.wait_until(lambda: self.state.events(since=self.seen) or None, 1.0)
            for event in self.state.events(since=self.seen):
                self.seen = event.seq
                future = self.waiting.pop(event.message.chat.id, None)
                if event.kind == "sent" and future is not None and not future.done():
                    self.texts.append(event.message.text or "")
                    future.set_result(time.perf_counter())


async def ask_all(
    state: BotApiState, replies: Replies, chats: dict[int, int], slots: dict[str, str]
) -> dict[str, list[float]]:
    """ROUNDS waves: every chat asks at the same moment, then all answers are awaited.

    Returns the latencies by question.
    """
    latencies: dict[str, list[float]] = defaultdict(list)

    async def ask(template: str, chat: int, user: int) -> None:
        answered = replies.expect(chat)
        asked = time.perf_counter()
        state.user_says(chat, user, template.format(**slots))
        latencies[template].append(await asyncio.wait_for(answered, 30) - asked)

    for round_ in range(ROUNDS):
        await asyncio.gather(
            *(
                ask(QUESTIONS[(index + round_) % len(QUESTIONS)], chat, user)
                for index, (chat, user) in enumerate(chats.items())
            )
        )
    return latencies


async def run(database_url: str) -> bool:
    key = Fernet.generate_key().decode()
    people = {-1_002_000_000_000 - n: 5_000_000 + n for n in range(CHATS + WARM_UP_CHATS)}
    engine = create_engine(database_url)
    email = await seed(session_factory(engine), KeyBox([key]), people)
    await engine.dispose()
    warm_up = dict(list(people.items())[CHATS:])
    chats = dict(list(people.items())[:CHATS])
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli()),
        ui=False,
        data_converter=data_converter([key]),  # the bot process's (ENCRYPTION_KEYS)
    )
    bot_process = None
    try:
        async with running_local_api() as api:
            state = api.state
            for chat in people:
                state.add_chat(chat)
            environment = {
                "DATABASE_URL": database_url,
                "BOT_TOKEN": state.default_bot.token,
                "TELEGRAM_API_URL": api.base_url,
                "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
                "ENCRYPTION_KEYS": key,
                "LUMA_API_URL": "http://127.0.0.1:9",  # never called: the cache is fresh
                "LOG_LEVEL": "WARNING",
            }
            bot_process = multiprocessing.get_context("spawn").Process(
                target=serve_bot, args=(environment,), daemon=True
            )
            bot_process.start()
            assert bot_process.pid is not None
            replies = Replies(state)
            watcher = asyncio.create_task(replies.run())
            slots = {"email": email, "bot": state.default_bot.user.username or ""}
            # Warm up: connection pools, the parser's tables, aiogram's handler caches.
            await ask_all(state, replies, warm_up, slots)
            started, cpu_before = time.perf_counter(), cpu_seconds(bot_process.pid)
            by_question = await ask_all(state, replies, chats, slots)
            elapsed = time.perf_counter() - started
            bot_cpu = cpu_seconds(bot_process.pid) - cpu_before
            watcher.cancel()
    finally:
        if bot_process is not None and bot_process.pid is not None:
            os.kill(bot_process.pid, signal.SIGTERM)
            await asyncio.to_thread(bot_process.join, 30)
        await env.shutdown()
    return report(by_question, elapsed, bot_cpu, replies.texts)


def report(
    by_question: dict[str, list[float]], elapsed: float, bot_cpu: float, texts: list[str]
) -> bool:
    latencies = sorted(latency for values in by_question.values() for latency in values)
    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    cpu = bot_cpu / len(latencies)
    print(
        f"{CHATS} chats x {ROUNDS} cached questions: p50 {p50 * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms = "
        f"{p95 / TARGET_P95:.2f}x the target (p95 < {TARGET_P95 * 1000:.0f} ms); "
        f"bot CPU {cpu * 1000:.1f} ms a message = {cpu / TARGET_CPU:.2f}x the target "
        f"(<= {TARGET_CPU * 1000:.0f} ms); {len(latencies) / elapsed:.0f} messages/s"
    )
    for template, values in by_question.items():
        print(f"  p50 {statistics.median(values) * 1000:4.0f} ms  {template}")
    refused = [text for text in texts if "went wrong" in text or text.startswith("Slow down")]
    if refused:
        print(f"{len(refused)} answers were failures or refusals, e.g. {refused[0]!r}")
    return p95 < TARGET_P95 and cpu <= TARGET_CPU and not refused


@contextmanager
def scratch_database() -> Iterator[str]:
    """DATABASE_URL if set; else a throwaway database on the local PostgreSQL (what
    production runs, and what `make bench` starts), or SQLite when there is none."""
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    host, port = os.environ.get("TEST_PG_HOST", "127.0.0.1"), os.environ.get("TEST_PG_PORT", "5432")
    user = os.environ.get("TEST_PG_USER", "postgres")
    name = f"lumabot_bench_bot_{os.getpid()}"
    try:
        admin = psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True)
    except psycopg.OperationalError:
        with tempfile.TemporaryDirectory() as scratch:
            yield f"sqlite+aiosqlite:///{Path(scratch)}/bench.db"
        return
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://{user}@{host}:{port}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    with scratch_database() as url:
        runner.upgrade(url)
        print(f"database: {url.split('://')[0]}")
        ok = asyncio.run(run(url))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
