"""Run Alembic from code (the CLI, `make demo`, tests) wherever the working directory is.

Alembic's env.py runs its own event loop, so these functions are synchronous; async
callers use `asyncio.to_thread`.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

HERE = Path(__file__).resolve().parent


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    # '%' is ConfigParser's interpolation marker; URLs may hold escaped characters.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def revisions(url: str = "sqlite://") -> list[str]:
    """Every revision id, oldest first."""
    script = ScriptDirectory.from_config(alembic_config(url))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def head(url: str = "sqlite://") -> str:
    script = ScriptDirectory.from_config(alembic_config(url))
    return script.get_current_head() or ""
