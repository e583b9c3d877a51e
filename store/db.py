"""Database engine and sessions for PostgreSQL (psycopg 3) or SQLite (aiosqlite)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, Result, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from core.defaults import DATABASE_MAX_OVERFLOW, DATABASE_POOL_SIZE
from core.settings import Settings


def create_engine(
    url: str,
    *,
    pool_size: int = DATABASE_POOL_SIZE,
    max_overflow: int = DATABASE_MAX_OVERFLOW,
    ping_after_idle: float | None = None,
) -> AsyncEngine:
    """An engine for `url`; SQLite gets its folder, WAL and enforced foreign keys; a
    PostgreSQL pool keeps `pool_size` connections open (`DATABASE_POOL_SIZE`).

    A PostgreSQL connection is pinged when it leaves the pool, so one the server dropped
    (a restart, an idle timeout) is replaced before a statement fails on it. With
    `ping_after_idle` only one that sat in the pool longer than that many seconds is: a busy
    process reuses connections within milliseconds, and a ping is a round trip."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(
            dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry
        ) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    engine = create_async_engine(
        url,
        pool_pre_ping=ping_after_idle is None,
        pool_size=pool_size,
        max_overflow=max_overflow,
    )
    if ping_after_idle is not None:
        _ping_when_idle(engine, ping_after_idle)
    return engine


_IDLE_SINCE = "lumabot_idle_since"


def _ping_when_idle(engine: AsyncEngine, seconds: float) -> None:
    """SQLAlchemy's pre-ping, skipped for a connection back in the pool for under `seconds`
    (and, like the pre-ping, for a new one). A connection the server dropped within that time
    fails its next statement instead; SQLAlchemy then replaces every pooled connection older
    than the failure, so only updates in flight at that moment see it."""
    dialect = engine.dialect

    @event.listens_for(engine.sync_engine, "connect")
    def _new(_dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkin")
    def _back(_dbapi_connection: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _out(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is not None and time.monotonic() - idle_since < seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if not dialect.is_disconnect(exc, dbapi_connection, None):
                raise
            # The pool replaces this connection (and every older one) and checks out anew.
            raise InvalidatePoolError(str(exc)) from exc


# A pooled connection back for less than this is not pinged when the bot or the API takes it
# again: a busy process reuses each within milliseconds, and the ping was a round trip of every
# update's or request's few (one in eight of the bot's under load).
PING_AFTER_IDLE_SECONDS = 1.0


def engine_for(
    settings: Settings, *, ping_after_idle: float | None = None, keep_overflow: bool = False
) -> AsyncEngine:
    """The engine a service process (bot, API, worker) runs on, sized by its settings.

    With `keep_overflow` the pool keeps every connection it opens, up to the same maximum
    (`DATABASE_POOL_SIZE` + `DATABASE_MAX_OVERFLOW`), instead of closing those beyond
    `DATABASE_POOL_SIZE` as they come back: for a process whose load comes in bursts, which
    would otherwise open and close them again at every burst."""
    pool_size, max_overflow = settings.database_pool_size, settings.database_max_overflow
    if keep_overflow:
        pool_size, max_overflow = pool_size + max_overflow, 0
    return create_engine(
        settings.database_url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        ping_after_idle=ping_after_idle,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched. `AsyncSession.execute` is typed as returning a
    plain `Result`; for those statements it is a `CursorResult`, which has the count."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"{type(result).__name__} has no rowcount")
    return result.rowcount


def upsert_insert(dialect: str, table: Any) -> Any:
    """An INSERT with `on_conflict_do_*` for this backend (PostgreSQL and SQLite both have
    `ON CONFLICT`, through their own SQLAlchemy dialect constructs)."""
    return (sqlite if dialect == "sqlite" else postgresql).insert(table)
