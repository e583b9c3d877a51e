"""`store.db.create_engine(ping_after_idle=...)`: pooled connections the server dropped, with
and without a ping on the way out of the pool (PostgreSQL)."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from store.db import create_engine
from tests.conftest import in_thread


async def _backend(engine: AsyncEngine) -> int:
    """The server process id of the connection a checkout gets (then back to the pool)."""
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


def _drop(db_url: str, pid: int) -> None:
    """End a server process, as a restart or an idle timeout would, and wait until it is gone."""
    dsn = db_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone() == (True,)


async def test_a_connection_idle_past_the_threshold_is_pinged_and_replaced(db_url: str) -> None:
    engine = create_engine(db_url, pool_size=1, max_overflow=0, ping_after_idle=0.0)
    try:
        dropped = await _backend(engine)
        await in_thread(_drop, db_url, dropped)
        assert await _backend(engine) != dropped  # the ping found it gone: a new one, no error
    finally:
        await engine.dispose()


async def test_a_connection_back_within_the_threshold_is_used_unpinged(db_url: str) -> None:
    engine = create_engine(db_url, pool_size=1, max_overflow=0, ping_after_idle=3600.0)
    try:
        dropped = await _backend(engine)
        await in_thread(_drop, db_url, dropped)
        with pytest.raises(DBAPIError) as failed:  # no ping: the statement meets the loss
            await _backend(engine)
        assert failed.value.connection_invalidated
        assert await _backend(engine) != dropped  # and the pool has replaced it
    finally:
        await engine.dispose()


async def test_without_a_threshold_every_checkout_is_pinged(db_url: str) -> None:
    engine = create_engine(db_url, pool_size=1, max_overflow=0)
    try:
        dropped = await _backend(engine)
        await in_thread(_drop, db_url, dropped)
        assert await _backend(engine) != dropped
    finally:
        await engine.dispose()
