"""Request limits of the API, the portal and the bot, shared by every process through the database.

Each limited key (an API token, a portal client or person, a bot user or chat) is one
`request_limits` row with its count in the current fixed window and in the one before. A
request is allowed while `prev_hits * (share of this window still to run) + hits < cap`: the
sliding-window estimate, which a burst across a window's edge cannot double, kept in one row
per key rather than a log of every request.

One statement per request: an upsert that creates the row, rolls its window and counts the
request only if the estimate has room, decided on the row's latest version (PostgreSQL locks
the row for the update; SQLite serializes writers), so N processes together allow the cap,
not N times it. The keys of one request (a person and their chat) go in the same statement,
in a fixed order so two statements never wait on each other. A refused request is not counted;
when one key refuses, the others' counts are given back in the same transaction (a second
statement, on the refusal path only), before any other request can see them.

Window starts come from the callers' UTC clocks; hosts a little apart only blur the edge.
Keys are stored as sha256 digests, so the table holds no token, id or address in the clear.

When the database cannot be reached the limiter fails open: the request goes on and a warning
is logged (once a minute), and the request then meets the outage where it needs the database
for real, which answers it more clearly than a limiter refusing everything would.

A row whose two windows are over says nothing; each process deletes such rows every few
minutes, so the table holds about the keys seen in the last two windows.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import BigInteger, Integer, String, bindparam, case, delete, update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from store.db import upsert_insert
from store.models import RequestLimit

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 300.0
WARN_EVERY_SECONDS = 60.0
_MIN_WAIT = 0.001

Check = tuple["Quota", str]


@dataclass(frozen=True)
class Quota:
    """At most `limit` requests per `window` seconds for each key of `scope`."""

    scope: str
    limit: int
    window: float

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window < 0.001:
            raise ValueError("limit must be >= 1 and window at least a millisecond")

    @property
    def window_ms(self) -> int:
        return round(self.window * 1000)


@dataclass(frozen=True)
class Over:
    """A quota that refused a request: the seconds until it has room again, and whether this
    is the key's first refusal since its last counted request (the one worth telling)."""

    quota: Quota
    wait: float
    first: bool


def digest(key: str) -> str:
    """What the table stores for a key."""
    return hashlib.sha256(key.encode()).hexdigest()


class _Statements:
    """The limiter's SQL for one dialect and number of keys, compiled once.

    SQLAlchemy does not cache the compiled form of a multi-row INSERT, and compiling this one
    costs more than running it; so the count is compiled here to the driver's own SQL.
    """

    def __init__(self, dialect: Dialect, keys: int) -> None:
        row = RequestLimit
        proposed = [
            {
                "scope": bindparam(f"scope{i}", type_=String),
                "key": bindparam(f"key{i}", type_=String),
                "window_start": bindparam(f"start{i}", type_=BigInteger),
                "window_ms": bindparam(f"window{i}", type_=BigInteger),
                "cap": bindparam(f"cap{i}", type_=Integer),
                "hits": 1,
                "prev_hits": 0,
                "refused": 0,
            }
            for i in range(keys)
        ]
        upsert = upsert_insert(dialect.name, RequestLimit).values(proposed)
        new = upsert.excluded
        now = bindparam("now", type_=BigInteger)
        # The row's window is the caller's (or, from a host whose clock runs ahead, a later
        # one: counted in as the same), the one before, or older and forgotten.
        same = row.window_start >= new.window_start
        before = row.window_start == new.window_start - new.window_ms
        prev = case((same, row.prev_hits), (before, row.hits), else_=0)
        hits = case((same, row.hits), else_=0)
        left = new.window_start + new.window_ms - now  # ms of the caller's window still to run
        room = prev * left + hits * new.window_ms < new.cap * new.window_ms
        count = upsert.on_conflict_do_update(
            index_elements=[row.scope, row.key],
            set_={
                "window_start": case((same, row.window_start), else_=new.window_start),
                "window_ms": new.window_ms,
                "cap": new.cap,
                "prev_hits": prev,
                "hits": case((room, hits + 1), else_=hits),
                "refused": case((room, 0), else_=row.refused + 1),
            },
        ).returning(row.scope, row.key, row.window_start, row.hits, row.prev_hits, row.refused)
        compiled = count.compile(dialect=dialect)
        self.count_sql = str(compiled)
        self._defaults = compiled.params  # the literal 1s and 0s of the proposed rows
        self._order = compiled.positiontup  # SQLite's `?` parameters are positional
        self.give_back = (
            update(RequestLimit)
            .where(
                row.scope == bindparam("b_scope"),
                row.key == bindparam("b_key"),
                row.window_start == bindparam("b_start"),
                row.hits > 0,
            )
            .values(hits=row.hits - 1)
        )
        self.prune = delete(RequestLimit).where(row.window_start + 2 * row.window_ms <= now)

    def count_params(self, params: dict[str, Any]) -> Any:
        """`params` and the literals, as the driver takes them."""
        merged = {**self._defaults, **params}
        return merged if self._order is None else tuple(merged[name] for name in self._order)


@cache
def _statements(dialect: Dialect, keys: int) -> _Statements:
    return _Statements(dialect, keys)


class RequestLimits:
    """Counts requests against quotas in the database; one instance per process is enough."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], float] = time.time,
        prune_every: float = PRUNE_EVERY_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._prune_every = prune_every
        self._pruned_at = clock()  # the first prune waits: a restart loop must not repeat it
        self._warned_at: float | None = None
        self._pruning: asyncio.Task[None] | None = None  # held: a task nobody holds may vanish

    async def hit(self, *checks: Check, session: AsyncSession | None = None) -> list[Over]:
        """Count one request against every (quota, key); the quotas that refuse it, if any.

        Counted only when all have room. With `session`, counted in the caller's transaction
        (a request that opens one anyway saves a connection and a commit); the row locks are
        then held until it ends, so it should end soon. Never raises for a database error:
        a failed statement in the caller's transaction fails the caller's commit instead."""
        now = self._clock()
        now_ms = int(now * 1000)
        quotas: dict[tuple[str, str], Quota] = {}
        for quota, key in checks:
            quotas[quota.scope, digest(key)] = quota
        params: dict[str, Any] = {"now": now_ms}
        for i, ((scope, key), quota) in enumerate(sorted(quotas.items())):
            window = quota.window_ms
            params.update(
                {
                    f"scope{i}": scope,
                    f"key{i}": key,
                    f"start{i}": now_ms - now_ms % window,
                    f"window{i}": window,
                    f"cap{i}": quota.limit,
                }
            )
        try:
            if session is not None:
                return await self._count(await session.connection(), quotas, params, now)
            # One key is one statement: run alone it needs no transaction, and its row lock
            # lasts only while the statement runs. Several keys share one, for the give-back.
            alone = {"isolation_level": "AUTOCOMMIT"} if len(quotas) == 1 else {}
            async with self._sessions() as own:
                connection = await own.connection(execution_options=alone)
                over = await self._count(connection, quotas, params, now)
                await own.commit()
                return over
        except (SQLAlchemyError, OSError) as exc:
            self._warn(exc, now)
            return []

    async def _count(
        self,
        connection: AsyncConnection,
        quotas: dict[tuple[str, str], Quota],
        params: dict[str, Any],
        now: float,
    ) -> list[Over]:
        sql = _statements(connection.dialect, len(quotas))
        counting = await connection.exec_driver_sql(sql.count_sql, sql.count_params(params))
        rows: Sequence[Any] = counting.all()  # plain tuples: the SQL is the driver's own
        over, counted = [], []
        for scope, key, start, hits, prev, refused in rows:
            quota = quotas[scope, key]
            if refused:
                wait = _wait(quota, start, hits, prev, params["now"])
                over.append(Over(quota, wait, first=refused == 1))
            else:
                counted.append({"b_scope": scope, "b_key": key, "b_start": start})
        if over and counted:
            await connection.execute(sql.give_back, counted)
        if now - self._pruned_at >= self._prune_every:
            self._pruned_at = now
            # Not in this transaction, nor awaited here: the prune may have to wait for a row
            # the caller's transaction holds until after this returns.
            self._pruning = asyncio.create_task(self._prune(sql.prune, params["now"]))
        return over

    async def drain(self) -> None:
        """Wait for a prune in flight (tests; a process stopping)."""
        if self._pruning is not None:
            await self._pruning

    async def _prune(self, prune: Any, now_ms: int) -> None:
        try:
            async with self._sessions() as own:
                connection = await own.connection(
                    execution_options={"isolation_level": "AUTOCOMMIT"}
                )
                await connection.execute(prune, {"now": now_ms})
        except (SQLAlchemyError, OSError) as exc:
            log.warning("request limits not pruned: %s", exc)

    def _warn(self, exc: Exception, now: float) -> None:
        if self._warned_at is None or now - self._warned_at >= WARN_EVERY_SECONDS:
            self._warned_at = now
            log.warning("request limits not checked, the database is unreachable (%s)", exc)


def retry_after(over: Sequence[Over]) -> int:
    """Whole seconds until every refusing quota has room (a `Retry-After` header's value)."""
    return max(1, math.ceil(max(refusal.wait for refusal in over)))


def _wait(quota: Quota, start: int, hits: int, prev: int, now_ms: int) -> float:
    """Seconds until the estimate drops below the cap, if no other request comes meanwhile."""
    window, cap = quota.window_ms, quota.limit
    if hits < cap and prev > 0:  # room comes as the previous window slides out
        room_at = start + window - (cap - hits) * window / prev
    elif hits > 0:  # this window is full: room comes as it slides out in turn
        room_at = start + 2 * window - cap * window / hits
    else:  # refused with nothing counted: the cap changed meanwhile
        room_at = now_ms
    return max(_MIN_WAIT, (room_at - now_ms) / 1000)
