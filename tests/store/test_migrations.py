"""Stairway test: every revision upgrades, downgrades and upgrades again, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from migrations import runner
from store.models import Base


def _stairway(url: str) -> None:
    revisions = runner.revisions()
    assert revisions, "no migrations found"
    previous = "base"
    for revision in revisions:
        runner.upgrade(url, revision)
        runner.downgrade(url, previous)
        runner.upgrade(url, revision)
        previous = revision
    runner.downgrade(url, "base")
    runner.upgrade(url, "head")


def _tables(sync_url: str) -> set[str]:
    engine = create_engine(sync_url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_stairway_postgres(empty_pg_url: str) -> None:
    _stairway(empty_pg_url)
    assert set(Base.metadata.tables) <= _tables(empty_pg_url)


def test_stairway_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lumabot.db'}"
    _stairway(url)
    assert set(Base.metadata.tables) <= _tables(f"sqlite:///{tmp_path / 'lumabot.db'}")


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_models_match_migrations(backend: str, empty_pg_url: str, tmp_path: Path) -> None:
    """The migrations create exactly what the models describe: autogenerate finds nothing."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    if backend == "postgres":
        url, sync_url = empty_pg_url, empty_pg_url
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
        sync_url = f"sqlite:///{tmp_path / 'm.db'}"
    runner.upgrade(url)
    engine = create_engine(sync_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []
