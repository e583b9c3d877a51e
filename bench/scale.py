"""Benchmark (report, no target): what many orgs cost one worker, one API and one PostgreSQL.

The real pieces, on this machine: a throwaway PostgreSQL database, a Temporal dev server, the
Luma simulator with one calendar per org (`--events` events of about `--guests` guests each,
seeded around today: some past, most upcoming), ONE `lumabot worker` process and ONE
`lumabot api` process. Every org is linked the way `/link` does it
(`services.linking.link_calendar`: key checked, org, chat and admin stored, audit row, Luma
webhook registered at the API's `/luma/webhook/{token}`, sync schedule created, first sync).

Real time is short, so each cost is measured on its own and then scaled:

0. Idle: 30 s with nothing to do; what each process spends then (polling, timers) is paid
   once per process, and is taken out of the figures below.
1. Full pass: `sync_now` for every org at once (what the schedule's safety net does every
   `WEBHOOK_SYNC_INTERVAL_MINUTES`, and every run of a calendar whose Luma refuses webhooks).
2. Scheduled runs: the product's schedule (`ensure_sync_schedule`) with a shorter interval
   (`--interval`, 1 minute by default instead of 15): with the webhook active, each run checks
   the webhook and stops. Each org's schedule fires at its own point of the interval
   (`services.automations.sync.spread`), so runs are counted by their start in the window.
3. Webhooks: schedules paused, guests register and change status in the simulator at a steady
   rate (`--changes-per-org-hour`, compressed like the schedule, at least one a second); Luma's
   signed deliveries go to the API, which starts one guest refresh per guest on the worker.

For each: CPU seconds of the worker, the API, the PostgreSQL backends of this database (read
from /proc, sampled every half second) and the Temporal dev server; rows and bytes per table;
workflow starts and their billable actions (from sampled histories). The derived figures scale
them to the product's 15-minute schedule (a full pass every 6 hours) and the assumed change
rate, per org-hour and per org-month, and say how many orgs one process serves at 50% of a core.

A run of 500 orgs takes about 16 minutes on 2 cores (linking and first syncs about 5, the
full pass between 2 and 3); try `--orgs 20 --minutes 2` (about 4 minutes) first. It exits 1,
saying what, when the syncs or refreshes did not happen.

    .venv/bin/python -m bench.scale [--orgs 500] [--minutes 6]   # PostgreSQL on :5432
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from subprocess import Popen
from typing import IO, Any, TypeVar

import psycopg
from cryptography.fernet import Fernet
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecution

from bench.api import wait_until_up
from bench.bulk import LUMABOT, database, dev_temporal, peak_memory_mb, stop
from billing import Billing
from core.defaults import SYNC_INTERVAL_MINUTES, WEBHOOK_SYNC_INTERVAL_MINUTES
from core.settings import Settings
from luma import LumaPool
from services import linking
from services.automations import Automations, JobDefaults
from standins.luma import RunningSimulator, SimulatorConfig, running_simulator
from store.crypto import KeyBox
from store.db import create_engine, session_factory
from store.orgs import upsert_user
from workflows.ids import sync_schedule_id

T = TypeVar("T")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
HOURS_PER_MONTH = 730
CORE_SHARE = 0.5  # a process is "full" at half of one core: headroom for bursts
IDLE_SECONDS = 30
SYNC = "SyncOrgWorkflow"
REFRESH = "RefreshGuestWorkflow"
# Tables the product prunes by age, so their size follows the rate, not the months
# (read in the code: store/rate_budget.py, services/luma_webhooks.first_delivery,
# store/request_limits.py).
BOUNDED = {
    "luma_rate_sends": "one rate window per key",
    "luma_webhook_deliveries": "10 minutes of delivery ids",
    "request_limits": "the last two windows' keys",
}
# History events that Temporal Cloud bills as an action (besides the start itself).
BILLED_EVENTS = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    EventType.EVENT_TYPE_TIMER_STARTED,
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
    EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--orgs", type=int, default=500, help="orgs (one calendar each)")
    parser.add_argument(
        "--minutes",
        type=int,
        default=6,
        help="measured minutes: half scheduled runs, half webhooks (full pass not counted)",
    )
    parser.add_argument("--events", type=int, default=4, help="events per calendar")
    parser.add_argument("--guests", type=int, default=40, help="guests per event (about)")
    parser.add_argument("--interval", type=int, default=1, help="compressed schedule, minutes")
    parser.add_argument(
        "--changes-per-org-hour",
        type=float,
        default=1.0,
        help="assumed real rate of guest registrations and status changes per org",
    )
    args = parser.parse_args(argv)
    if args.orgs < 1 or args.minutes < 2 or args.interval < 1:
        parser.error("--orgs >= 1, --minutes >= 2, --interval >= 1")
    return args


# --- CPU of processes ----------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def temporal_server_pids() -> list[int]:
    """The dev server `WorkflowEnvironment.start_local` runs as our child."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        parent = int(text.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and "temporal" in name:
            found.append(int(stat.parent.name))
    return found


class PostgresCpu:
    """CPU of this database's client backends, sampled from /proc every half second.

    A backend that exits keeps the CPU it had at its last sample, so the total only misses
    the last half second of a backend closed in between. The benchmark's own connections
    (this sampler's, on the `postgres` database; the table counts', excluded) do not count;
    the server's shared processes (checkpointer, WAL writer, autovacuum) are not included.
    """

    def __init__(self, admin_dsn: str, database: str) -> None:
        self._dsn = admin_dsn
        self._database = database
        self._seen: dict[int, float] = {}
        self.excluded: set[int] = set()
        self._task: asyncio.Task[None] | None = None

    @property
    def total(self) -> float:
        return sum(self._seen.values())

    async def sample(self, conn: psycopg.AsyncConnection[Any]) -> None:
        cursor = await conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = "
            "'client backend'",
            (self._database,),
        )
        for (pid,) in await cursor.fetchall():
            if pid not in self.excluded:
                now = cpu_seconds(pid)
                self._seen[pid] = max(now, self._seen.get(pid, 0.0))

    async def _run(self) -> None:
        async with await psycopg.AsyncConnection.connect(self._dsn, autocommit=True) as conn:
            while True:
                await self.sample(conn)
                await asyncio.sleep(0.5)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


# --- what one measured window saw ----------------------------------------------------------


@dataclass
class Snapshot:
    at: float
    worker: float
    api: float
    postgres: float
    temporal: float
    tables: dict[str, tuple[int, int]]  # rows, bytes
    commits: int
    luma_requests: int
    deliveries: int
    failed_deliveries: int


@dataclass
class Window:
    """What one phase cost in all: `units` of `unit` (full passes, runs, changes)."""

    name: str
    unit: str
    units: int
    seconds: float
    worker: float
    api: float
    postgres: float
    temporal: float
    commits: int
    luma_requests: int
    tables: dict[str, tuple[int, int]]
    workflows: Counter[str] = field(default_factory=Counter)
    actions: float = 0.0  # billable actions of the window's workflows (sampled histories)

    @classmethod
    def between(cls, name: str, unit: str, units: int, a: Snapshot, b: Snapshot) -> Window:
        tables = {
            t: (
                b.tables[t][0] - a.tables.get(t, (0, 0))[0],
                b.tables[t][1] - a.tables.get(t, (0, 0))[1],
            )
            for t in b.tables
        }
        return cls(
            name,
            unit,
            units,
            b.at - a.at,
            b.worker - a.worker,
            b.api - a.api,
            b.postgres - a.postgres,
            b.temporal - a.temporal,
            b.commits - a.commits,
            b.luma_requests - a.luma_requests,
            tables,
        )

    def per(self, value: float) -> float:
        return value / self.units if self.units else float("nan")

    def less_idle(self, idle: Window) -> None:
        """Take out what each process spends doing nothing (polling, timers) over the same
        time: that is paid once per process, not per org (see `Idle`)."""
        share = self.seconds / idle.seconds
        self.worker = max(0.0, self.worker - idle.worker * share)
        self.api = max(0.0, self.api - idle.api * share)
        self.postgres = max(0.0, self.postgres - idle.postgres * share)
        self.temporal = max(0.0, self.temporal - idle.temporal * share)


class Meter:
    """Takes snapshots of every process and of the database."""

    def __init__(
        self,
        sim: RunningSimulator,
        worker: Popen[bytes],
        api: Popen[bytes],
        postgres: PostgresCpu,
        conn: psycopg.AsyncConnection[Any],
        database: str,
    ) -> None:
        self.sim, self.worker, self.api = sim, worker, api
        self.postgres, self.conn, self.database = postgres, conn, database
        self.temporal_pids = temporal_server_pids()

    async def snapshot(self) -> Snapshot:
        await self.postgres.sample(self.conn)
        stats = self.sim.state.stats()
        cursor = await self.conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version' ORDER BY tablename"
        )
        tables: dict[str, tuple[int, int]] = {}
        for (name,) in await cursor.fetchall():
            row = await (
                await self.conn.execute(
                    f'SELECT count(*), pg_total_relation_size(\'"{name}"\') FROM "{name}"'
                )
            ).fetchone()
            assert row is not None
            tables[name] = (int(row[0]), int(row[1]))
        commits = await (
            await self.conn.execute(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (self.database,)
            )
        ).fetchone()
        return Snapshot(
            at=time.monotonic(),
            worker=cpu_seconds(self.worker.pid),
            api=cpu_seconds(self.api.pid),
            postgres=self.postgres.total,
            temporal=sum(cpu_seconds(pid) for pid in self.temporal_pids),
            tables=tables,
            commits=int(commits[0]) if commits else 0,
            luma_requests=int(stats["requests_total"]),
            deliveries=int(stats["webhooks_sent"]),
            failed_deliveries=int(stats["webhooks_failed"]),
        )


# --- Temporal: runs, bursts, actions ---------------------------------------------------------


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def runs_of(client: Client, kind: str, since: datetime, until: datetime) -> list[Any]:
    query = (
        f"WorkflowType = '{kind}' AND StartTime >= '{rfc3339(since)}' "
        f"AND StartTime < '{rfc3339(until)}'"
    )
    return [run async for run in client.list_workflows(query, page_size=1000)]


async def running(client: Client, kind: str) -> int:
    query = f"WorkflowType = '{kind}' AND ExecutionStatus = 'Running'"
    return (await client.count_workflows(query)).count


async def drained(client: Client, kinds: Iterable[str], limit: float) -> bool:
    """Wait until no run of `kinds` is open (visibility lags a little), at most `limit` s."""
    deadline = time.monotonic() + limit
    quiet = 0
    while time.monotonic() < deadline:
        busy = sum([await running(client, kind) for kind in kinds])
        quiet = quiet + 1 if busy == 0 else 0
        if quiet >= 2:
            return True
        await asyncio.sleep(0.5)
    return False


async def actions_per_run(client: Client, runs: list[WorkflowExecution], sample: int = 12) -> float:
    """Billable actions of one run, the mean over a sample of histories: its start, each
    activity, timer, child start, signal and update; a delayed start counts as a timer too."""
    if not runs:
        return 0.0
    chosen = random.Random(7).sample(runs, min(sample, len(runs)))
    total = 0
    for run in chosen:
        history = await client.get_workflow_handle(run.id, run_id=run.run_id).fetch_history()
        total += 1 + sum(1 for event in history.events if event.event_type in BILLED_EVENTS)
    return total / len(chosen)


# --- the pieces ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_process(args: list[str], env: dict[str, str], log: IO[bytes]) -> Popen[bytes]:
    return Popen([LUMABOT, *args], env=env, stdout=log, stderr=log)


async def bounded(items: Iterable[T], work: Callable[[T], Awaitable[Any]], limit: int) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(item: T) -> Any:
        async with gate:
            return await work(item)

    return await asyncio.gather(*(one(item) for item in items))


async def at(moment: float) -> None:
    """Sleep until the wall-clock `moment`."""
    await asyncio.sleep(max(0.0, moment - time.time()))


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Org:
    org_id: int
    calendar_id: str
    api_key: str


async def link_all(
    sim: RunningSimulator,
    sessions: Any,
    automations: Automations,
    billing: Billing,
    keybox: KeyBox,
    api_url: str,
    args: argparse.Namespace,
) -> list[Org]:
    """One calendar per org in the simulator, each linked as `/link` does from a private chat."""
    handles = [
        sim.state.add_calendar(f"Org {n + 1}", events=args.events, guests_per_event=args.guests)
        for n in range(args.orgs)
    ]
    async with LumaPool(sim.base_url) as pool:

        async def link(n: int) -> Org:
            user_id = 10**9 + n
            async with sessions.begin() as session:
                await upsert_user(session, user_id=user_id, username=f"u{n}", full_name=f"U {n}")
            async with sessions() as session:
                linked = await linking.link_calendar(
                    linking.Place(user_id, user_id, "private", ""),
                    session,
                    luma=pool,
                    keybox=keybox,
                    billing=billing,
                    automations=automations,
                    key=handles[n].api_key,
                    public_url=api_url,
                )
            assert isinstance(linked, linking.Linked), linked
            if linked.webhook != "active" or not linked.syncing:
                raise SystemExit(f"org {n}: webhook {linked.webhook}, syncing {linked.syncing}")
            return Org(linked.org_id, handles[n].id, handles[n].api_key)

        return await bounded(range(args.orgs), link, 8)


async def pause_schedules(client: Client, orgs: list[Org], pause: bool) -> None:
    async def one(org: Org) -> None:
        handle = client.get_schedule_handle(sync_schedule_id(org.org_id))
        await (handle.pause() if pause else handle.unpause())

    await bounded(orgs, one, 20)


async def check_synced(conn: psycopg.AsyncConnection[Any], orgs: list[Org]) -> None:
    """Fail loudly unless every org was synced and has events and guests in the cache."""
    row = await (
        await conn.execute(
            "SELECT count(*) FILTER (WHERE o.last_synced_at IS NOT NULL), "
            "count(*) FILTER (WHERE EXISTS (SELECT 1 FROM events e WHERE e.org_id = o.id)), "
            "count(*) FILTER (WHERE EXISTS (SELECT 1 FROM guests g WHERE g.org_id = o.id)) "
            "FROM organizations o"
        )
    ).fetchone()
    assert row is not None
    synced, with_events, with_guests = (int(value) for value in row)
    if not synced == with_events == with_guests == len(orgs):
        raise SystemExit(
            f"SYNC FAILED: of {len(orgs)} orgs {synced} synced, {with_events} have events, "
            f"{with_guests} have guests"
        )


async def full_pass(automations: Automations, orgs: list[Org]) -> int:
    async def one(org: Org) -> int:
        handle = await automations.sync_now(org.org_id)
        report = await handle.result()
        return int(report.events_synced)

    synced = await bounded(orgs, one, 50)
    return sum(synced)


class Changes:
    """Guest registrations and status changes made in the simulator, as people would."""

    def __init__(self, sim: RunningSimulator, orgs: list[Org]) -> None:
        self.sim, self.orgs = sim, orgs
        self.rng = random.Random(11)
        self.registered: dict[str, tuple[int, str]] = {}  # email -> org, event
        self.changed: dict[tuple[str, str], tuple[int, str]] = {}  # (event, guest) -> org, status
        self.count = 0

    def one(self) -> None:
        org = self.rng.choice(self.orgs)
        calendar = self.sim.state.calendar(org.calendar_id)
        now = time.time()
        events = [e for e in calendar.events.values() if e.start_at > now] or list(
            calendar.events.values()
        )
        event = self.rng.choice(events)
        self.count += 1
        if self.rng.random() < 0.6 or not event.guests:
            email = f"bench-{uuid.uuid4().hex[:10]}@example.org"
            self.sim.state.add_guests(
                calendar, event, [(email, "Bench Guest")], status="pending_approval", path="bench"
            )
            self.registered[email] = (org.org_id, event.id)
            return
        guest = self.rng.choice(list(event.guests.values()))
        status = self.rng.choice(
            [s for s in ("approved", "waitlist", "pending_approval") if s != guest.approval_status]
        )
        self.sim.state.update_guest_status(
            calendar, event, guest, status, should_refund=None, path="bench"
        )
        self.changed[(event.id, guest.id)] = (org.org_id, status)

    async def drive(self, rate: float, seconds: float) -> None:
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            due = int(elapsed * rate) + 1
            while self.count < due:
                self.one()
            await asyncio.sleep(0.05)


async def check_refreshed(conn: psycopg.AsyncConnection[Any], changes: Changes) -> None:
    """Fail loudly unless every registration is in the cache and every change shows."""
    emails = list(changes.registered)
    row = await (
        await conn.execute("SELECT count(*) FROM guests WHERE email = ANY(%s)", (emails,))
    ).fetchone()
    found = int(row[0]) if row else 0
    wrong = 0
    for (_, guest_id), (org_id, status) in changes.changed.items():
        got = await (
            await conn.execute(
                "SELECT approval_status FROM guests WHERE org_id = %s AND luma_guest_id = %s",
                (org_id, guest_id),
            )
        ).fetchone()
        wrong += got is None or got[0] != status
    if found != len(emails) or wrong:
        raise SystemExit(
            f"WEBHOOK REFRESH FAILED: {found} of {len(emails)} registrations cached, "
            f"{wrong} of {len(changes.changed)} status changes not shown"
        )


async def main(argv: list[str]) -> None:
    args = parse_args(argv)
    keys = [Fernet.generate_key().decode()]
    keybox = KeyBox(keys)
    interval = args.interval * 60.0
    compression = SYNC_INTERVAL_MINUTES / args.interval
    schedule_minutes = math.ceil(args.minutes / 2)
    webhook_minutes = args.minutes - schedule_minutes
    logs = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    print(
        f"Scale benchmark (report, no target): {args.orgs} orgs, one calendar each of "
        f"{args.events} events x ~{args.guests} guests; one worker and one API process; "
        f"{os.cpu_count()} cores. Process logs: {logs}",
        flush=True,
    )
    config = SimulatorConfig(calendars=0)  # Luma's own limits (200 a minute per calendar)
    async with (
        database() as db_url,
        await dev_temporal(keys) as env,
        running_simulator(config) as sim,
    ):
        db_name = db_url.rsplit("/", 1)[1]
        plain_url = db_url.replace("postgresql+psycopg", "postgresql")
        admin_url = plain_url.rsplit("/", 1)[0] + "/postgres"
        queue = f"bench-{uuid.uuid4().hex[:6]}"
        api_url = f"http://127.0.0.1:{free_port()}"
        env_vars = {
            **os.environ,
            "DATABASE_URL": db_url,
            "ENCRYPTION_KEYS": keys[0],
            "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "TEMPORAL_TASK_QUEUE": queue,
            "LUMA_API_URL": sim.base_url,
            "PUBLIC_URL": api_url,
        }
        # One API process (API_WORKERS unset), no bot, billing or metrics servers.
        for name in (
            "API_WORKERS",
            "BOT_TOKEN",
            "STRIPE_API_KEY",
            "METRICS_PORT",
            "TEMPORAL_METRICS_PORT",
        ):
            env_vars.pop(name, None)
        engine = create_engine(db_url)
        sessions = session_factory(engine)
        billing = Billing.from_settings(Settings(_env_file=None, database_url=db_url))
        automations = Automations(env.client, JobDefaults(task_queue=queue, public_url=api_url))
        postgres = PostgresCpu(admin_url, db_name)
        with (
            (logs / "worker.log").open("wb") as worker_log,
            (logs / "api.log").open("wb") as api_log,
        ):
            worker = start_process(["worker"], env_vars, worker_log)
            api = start_process(
                ["api", "--host", "127.0.0.1", "--port", api_url.rsplit(":", 1)[1]],
                env_vars,
                api_log,
            )
            try:
                await wait_until_up(api_url, api)
                async with await psycopg.AsyncConnection.connect(
                    plain_url, autocommit=True
                ) as conn:
                    row = await (await conn.execute("SELECT pg_backend_pid()")).fetchone()
                    assert row is not None
                    postgres.excluded.add(int(row[0]))
                    postgres.start()
                    meter = Meter(sim, worker, api, postgres, conn, db_name)
                    await run_phases(
                        args,
                        env.client,
                        sim,
                        sessions,
                        automations,
                        billing,
                        keybox,
                        api_url,
                        meter,
                        conn,
                        interval,
                        compression,
                        schedule_minutes,
                        webhook_minutes,
                        worker,
                    )
            finally:
                await postgres.stop()
                await stop(api)
                await stop(worker)
                await engine.dispose()


async def run_phases(
    args: argparse.Namespace,
    client: Client,
    sim: RunningSimulator,
    sessions: Any,
    automations: Automations,
    billing: Billing,
    keybox: KeyBox,
    api_url: str,
    meter: Meter,
    conn: psycopg.AsyncConnection[Any],
    interval: float,
    compression: float,
    schedule_minutes: int,
    webhook_minutes: int,
    worker: Popen[bytes],
) -> None:
    # --- linking and the first sync (one-off per org) ---
    started = time.monotonic()
    before = await meter.snapshot()
    since = datetime.now(UTC)
    orgs = await link_all(sim, sessions, automations, billing, keybox, api_url, args)
    if not await drained(client, [SYNC], 1800):
        raise SystemExit("SYNC FAILED: the first syncs did not finish within 30 minutes")
    await check_synced(conn, orgs)
    until = datetime.now(UTC)
    link = Window.between("link + first sync", "org", len(orgs), before, await meter.snapshot())
    link.workflows = Counter({SYNC: len(await runs_of(client, SYNC, since, until))})
    await pause_schedules(client, orgs, pause=True)
    print(f"linked and synced {len(orgs)} orgs in {time.monotonic() - started:.0f} s", flush=True)

    # --- 0. idle: every process with nothing to do (schedules paused, nothing changing) ---
    await drained(client, [SYNC], 120)
    before = await meter.snapshot()
    await asyncio.sleep(IDLE_SECONDS)
    idle = Window.between("idle", "second", IDLE_SECONDS, before, await meter.snapshot())
    link.less_idle(idle)

    # --- 1. a full pass of every org ---
    before = await meter.snapshot()
    since = datetime.now(UTC)
    events_synced = await full_pass(automations, orgs)
    if not events_synced:
        raise SystemExit("SYNC FAILED: the full pass re-read no event's guests")
    await drained(client, [SYNC], 60)
    until = datetime.now(UTC)
    full = Window.between("full pass", "full pass", len(orgs), before, await meter.snapshot())
    full.less_idle(idle)
    full_runs = await runs_of(client, SYNC, since, until)
    full.workflows = Counter({SYNC: len(full_runs)})
    full.actions = await actions_per_run(client, full_runs)
    print(
        f"full pass: {len(orgs)} orgs, {events_synced} event guest lists re-read, "
        f"{full.seconds:.0f} s",
        flush=True,
    )

    # --- 2. scheduled runs at the compressed interval (webhook active: checks) ---
    await bounded(orgs, lambda o: automations.ensure_sync_schedule(o.org_id, args.interval), 20)
    await pause_schedules(client, orgs, pause=False)
    requests_before = {org.calendar_id: sim.state.requests[org.calendar_id] for org in orgs}
    await asyncio.sleep(interval)  # every org's schedule has fired once: a steady state
    since = datetime.now(UTC)
    before = await meter.snapshot()
    await at(since.timestamp() + schedule_minutes * 60)
    after = await meter.snapshot()
    until = datetime.now(UTC)
    scheduled_runs = await runs_of(client, SYNC, since, until)
    scheduled = Window.between("scheduled runs", "run", len(scheduled_runs), before, after)
    scheduled.less_idle(idle)
    scheduled.workflows = Counter({SYNC: len(scheduled_runs)})
    scheduled.actions = await actions_per_run(client, scheduled_runs) + 1  # + the trigger
    await pause_schedules(client, orgs, pause=True)
    unsynced = [
        o for o in orgs if sim.state.requests[o.calendar_id] == requests_before[o.calendar_id]
    ]
    if not scheduled_runs or unsynced:
        raise SystemExit(
            f"SCHEDULE FAILED: {len(scheduled_runs)} scheduled runs; {len(unsynced)} orgs "
            "never asked Luma"
        )
    print(
        f"scheduled runs: {len(scheduled_runs)} in {scheduled.seconds:.0f} s "
        f"(every {args.interval} min, each org at its own point of the interval)",
        flush=True,
    )

    # --- 3. webhooks: guests register and change, Luma delivers, the API refreshes ---
    await drained(client, [SYNC], 120)
    rate = max(1.0, len(orgs) * args.changes_per_org_hour * compression / 3600)
    changes = Changes(sim, orgs)
    before = await meter.snapshot()
    since = datetime.now(UTC)
    await changes.drive(rate, webhook_minutes * 60)
    await asyncio.sleep(3)  # the last deliveries and their settle delay
    await drained(client, [REFRESH, SYNC], 300)
    after = await meter.snapshot()
    until = datetime.now(UTC)
    refresh_runs = await runs_of(client, REFRESH, since, until)
    webhooks = Window.between("webhooks", "change", changes.count, before, after)
    webhooks.less_idle(idle)
    webhooks.workflows = Counter({REFRESH: len(refresh_runs)})
    webhooks.actions = (
        await actions_per_run(client, refresh_runs) * len(refresh_runs) / max(1, changes.count)
    )
    delivered = after.deliveries - before.deliveries
    failed = after.failed_deliveries - before.failed_deliveries
    await check_refreshed(conn, changes)
    if failed or not refresh_runs:
        raise SystemExit(
            f"WEBHOOKS FAILED: {failed} deliveries failed, {len(refresh_runs)} refreshes"
        )
    print(
        f"webhooks: {changes.count} guest changes at {rate:.2f}/s ({len(changes.registered)} "
        f"registrations), {delivered} signed deliveries, {len(refresh_runs)} guest refreshes",
        flush=True,
    )
    report(
        args,
        compression,
        rate,
        Phases(idle, link, full, scheduled, webhooks),
        after.tables,
        delivered,
        peak_memory_mb(worker),
    )


@dataclass
class Phases:
    idle: Window
    link: Window
    full: Window
    scheduled: Window
    webhooks: Window


def report(
    args: argparse.Namespace,
    compression: float,
    rate: float,
    phases: Phases,
    sizes: dict[str, tuple[int, int]],
    delivered: int,
    worker_peak_mb: float,
) -> None:
    idle, link, full = phases.idle, phases.link, phases.full
    scheduled, webhooks = phases.scheduled, phases.webhooks
    changes_h = args.changes_per_org_hour
    runs_h = 60 / SYNC_INTERVAL_MINUTES
    fulls_h = 60 / WEBHOOK_SYNC_INTERVAL_MINUTES
    checks_h = runs_h - fulls_h
    mix = ((scheduled, checks_h), (full, fulls_h), (webhooks, changes_h))

    def hourly(value: Callable[[Window], float], windows: Iterable[tuple[Window, float]]) -> float:
        return sum(w.per(value(w)) * per_hour for w, per_hour in windows)

    print(
        f"\nMeasured (the schedule every {args.interval} min = {compression:g}x the product's "
        f"{SYNC_INTERVAL_MINUTES}; guest changes at {rate:.2f}/s = "
        f"{rate * 3600 / link.units / changes_h:.0f}x the assumed {changes_h:g} per org-hour; "
        "CPU net of each process's idle)"
    )
    print(
        f"{'per unit':26}{'units':>7}{'wall s':>8}{'worker ms':>11}{'API ms':>8}{'PG ms':>8}"
        f"{'Temporal ms':>13}{'Luma req':>10}{'commits':>9}{'workflows':>11}{'actions':>9}"
    )
    for w in (link, full, scheduled, webhooks):
        starts = sum(w.workflows.values())
        print(
            f"{w.name + ' (' + w.unit + ')':26}{w.units:>7}{w.seconds:>8.0f}"
            f"{w.per(w.worker) * 1000:>11.1f}{w.per(w.api) * 1000:>8.1f}"
            f"{w.per(w.postgres) * 1000:>8.1f}{w.per(w.temporal) * 1000:>13.1f}"
            f"{w.per(w.luma_requests):>10.1f}{w.per(w.commits):>9.1f}"
            f"{w.per(starts):>11.2f}{w.actions if w is not link else float('nan'):>9.1f}"
        )
    print(
        f"  a change is {delivered / max(1, webhooks.units):.2f} signed deliveries "
        "(a sign-up is guest.registered + guest.updated); actions: sampled histories (start, "
        "activities, timers, children), + 1 per schedule trigger"
    )

    print(
        f"\nDerived per org-hour: the product's schedule (every {SYNC_INTERVAL_MINUTES} min: "
        f"with the webhook active a check, a full pass every {WEBHOOK_SYNC_INTERVAL_MINUTES // 60} "
        f"h) and {changes_h:g} guest change(s) per org-hour through webhooks; "
        f'"serves" = orgs at {CORE_SHARE:.0%} of one core'
    )
    print(f"{'':26}{'worker':>10}{'API':>10}{'PostgreSQL':>12}{'Temporal dev*':>14}")
    resources: list[Callable[[Window], float]] = [
        lambda w: w.worker,
        lambda w: w.api,
        lambda w: w.postgres,
        lambda w: w.temporal,
    ]
    idle_h = [value(idle) / idle.seconds * 3600 for value in resources]
    per_hour = [hourly(value, mix) for value in resources]
    off = [hourly(value, ((full, runs_h),)) for value in resources]
    row("idle CPU s per hour", idle_h, "{:.1f}", "(per process, whatever the orgs)")
    row("CPU s per org-hour", per_hour, "{:.4f}")
    row("serves (orgs)", serves(per_hour, idle_h), "{}")
    row("  webhooks off: CPU s", off, "{:.4f}", "(no Luma Plus: every run a full pass)")
    row("  webhooks off: serves", serves(off, idle_h), "{}")
    print(
        "* the Temporal dev server (one process, in-memory SQLite) is no production Temporal; "
        "its idle grows with the schedules and timers it keeps. For Temporal Cloud, see the "
        "actions below."
    )
    print(f"worker peak RSS (VmHWM): {worker_peak_mb:.0f} MB with {link.units} orgs")

    starts_h = runs_h + changes_h * webhooks.per(sum(webhooks.workflows.values()))
    actions_h = (
        checks_h * scheduled.actions + fulls_h * (full.actions + 1) + changes_h * webhooks.actions
    )
    print(
        f"Temporal: {starts_h:.2f} workflow starts per org-hour ({runs_h:g} scheduled + "
        f"{starts_h - runs_h:.2f} guest refreshes), about {actions_h:.1f} billable actions per "
        f"org-hour = {actions_h * HOURS_PER_MONTH:,.0f} per org-month"
    )

    footprint_rows = link.per(sum(r for r, _ in link.tables.values()))
    footprint_kb = link.per(sum(b for _, b in link.tables.values())) / 1024
    print(
        f"\nDatabase growth per org-month: rows from the windows above, scaled; bytes = rows x "
        f"the table's mean row size with its indexes (updates leave dead row versions that "
        f"autovacuum reuses, so raw size deltas over minutes overstate growth). After linking "
        f"and the first sync an org holds {footprint_rows:.0f} rows, {footprint_kb:.0f} KB."
    )
    print(f"{'table':26}{'rows/org-month':>16}{'KB/org-month':>14}")
    flat, bounded = [], []
    for table in sorted(
        link.tables, key=lambda t: -hourly(table_delta(t, 0), mix) * row_size(sizes, t)
    ):
        rows = HOURS_PER_MONTH * hourly(table_delta(table, 0), mix)
        if table in BOUNDED:
            bounded.append(f"{table:26}{'bounded':>16}{'':>14}  pruned by age: {BOUNDED[table]}")
        elif abs(rows) >= 0.5:
            print(f"{table:26}{rows:>16,.0f}{rows * row_size(sizes, table) / 1024:>14,.0f}")
        else:
            flat.append(table)
    print("\n".join(bounded))
    print(f"flat (no rows added): {', '.join(flat)}")
    print("(report, no target)")


def row(label: str, values: list[Any], form: str, note: str = "") -> None:
    cells = "".join(f"{form.format(v):>{n}}" for v, n in zip(values, WIDTHS, strict=True))
    print(f"{label:26}{cells}   {note}".rstrip())


def row_size(sizes: dict[str, tuple[int, int]], table: str) -> float:
    rows, size = sizes.get(table, (0, 0))
    return size / rows if rows else 0.0


def serves(per_org_hour: list[float], idle_hour: list[float]) -> list[str]:
    """Orgs one process serves at `CORE_SHARE` of a core, after its own idle cost."""
    return [
        f"{(CORE_SHARE * 3600 - idle) / cost:,.0f}" if cost >= 0.001 else "no load"
        for cost, idle in zip(per_org_hour, idle_hour, strict=True)
    ]


WIDTHS = (10, 10, 12, 14)


def table_delta(table: str, column: int) -> Callable[[Window], float]:
    """A window's change in one table: its rows (column 0) or bytes (1)."""
    return lambda w: w.tables.get(table, (0, 0))[column]


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
