"""Database engine and sessions for PostgreSQL (psycopg 3) or SQLite (aiosqlite)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, Result, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
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
) -> AsyncEngine:
    """An engine for `url`; SQLite gets its folder, WAL and enforced foreign keys; a
    PostgreSQL pool keeps `pool_size` connections open (`DATABASE_POOL_SIZE`)."""
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
    return create_async_engine(
        url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow
    )


def engine_for(settings: Settings) -> AsyncEngine:
    """The engine a service process (bot, API, worker) runs on, sized by its settings."""
    return create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
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
