"""Operator commands: `migrate`, `rotate-keys`, `doctor`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

import typer
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from cli.context import keybox_for, load_settings, run
from core.settings import ConfigError, Settings
from migrations import runner
from store.crypto import UnreadableKeyError
from store.db import create_engine, session_factory
from store.models import Organization
from store.rotation import rotate_all


def migrate() -> None:
    """Create or upgrade the database schema to the latest version."""
    settings = load_settings()
    runner.upgrade(settings.database_url)
    typer.echo(f"Database schema is at revision {runner.head()}.")


async def _rotate(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine).begin() as session:
            reports = await rotate_all(session, keybox=keybox_for(settings))
    finally:
        await engine.dispose()
    typer.echo("Re-encrypted with the first of ENCRYPTION_KEYS:")
    for report in reports:
        typer.echo(
            f"  {report.column:<40} {report.rotated} re-encrypted, "
            f"{report.already_current} already current"
        )


def rotate_keys_command() -> None:
    """Re-encrypt every encrypted column with the first of ENCRYPTION_KEYS (safe to rerun)."""
    settings = load_settings()
    try:
        run(_rotate(settings))
    except UnreadableKeyError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    warning: bool = False

    def line(self) -> str:
        mark = "!" if self.warning else ("✓" if self.ok else "✗")
        return f"{mark} {self.name}: {self.detail}"


def _config_checks(settings: Settings) -> list[Check]:
    try:
        keys = settings.resolved_encryption_keys()
        key_check = Check(
            "Encryption keys",
            True,
            f"{len(keys)} key(s); new secrets are encrypted with the first"
            + ("" if settings.encryption_keys else " (development key under ./data)"),
        )
    except ConfigError as exc:
        key_check = Check("Encryption keys", False, str(exc))
    checks = [
        Check("Environment", True, settings.environment.value),
        key_check,
        Check("Luma API", True, settings.luma_api_url),
    ]
    if settings.bot_token is None:
        checks.append(
            Check(
                "Telegram",
                True,
                "BOT_TOKEN is not set: the bot runs on a local console only, and the "
                "worker posts no digest, summary or job report to Telegram",
                warning=True,
            )
        )
    if settings.gemini_api_key is None:
        checks.append(
            Check(
                "Gemini",
                True,
                "GEMINI_API_KEY is not set: the offline parser answers",
                warning=True,
            )
        )
    return checks


async def _database_checks(settings: Settings) -> list[Check]:
    engine = create_engine(settings.database_url)
    backend = engine.url.get_backend_name()
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception as exc:  # any driver error means the same thing to an operator
        await engine.dispose()
        if "alembic_version" in str(exc):
            return [Check("Database", False, f"{backend} reachable but empty: run lumabot migrate")]
        return [Check("Database", False, f"cannot connect to {backend}: {type(exc).__name__}")]
    head = runner.head()
    checks = [
        Check(
            "Database",
            revision == head,
            f"{backend}, schema at {revision}"
            + ("" if revision == head else f", latest is {head}: run lumabot migrate"),
        )
    ]
    if revision == head:
        checks.append(await _stored_keys_check(engine, settings))
    await engine.dispose()
    return checks


async def _stored_keys_check(engine: AsyncEngine, settings: Settings) -> Check:
    keybox = keybox_for(settings)
    async with session_factory(engine)() as session:
        tokens = (await session.scalars(select(Organization.key_ciphertext))).all()
    unreadable = 0
    for token in tokens:
        try:
            keybox.decrypt(token)
        except UnreadableKeyError:
            unreadable += 1
    if unreadable:
        return Check(
            "Stored Luma keys",
            False,
            f"{unreadable} of {len(tokens)} cannot be decrypted: an old key is missing "
            "from ENCRYPTION_KEYS",
        )
    return Check("Stored Luma keys", True, f"{len(tokens)} readable")


async def _reachable(address: str) -> bool:
    """A plain TCP connect first: the SDK's own connect retries for a long while, and
    abandoning it half-way can abort the process at exit."""
    host, _, port = address.rpartition(":")
    try:
        async with asyncio.timeout(3):
            _, writer = await asyncio.open_connection(host, int(port))
    except (OSError, ValueError, TimeoutError):
        return False
    writer.close()
    return True


async def _temporal_check(settings: Settings) -> Check:
    from temporalio.client import Client  # heavy: only `doctor` needs it

    from core.payload_codec import data_converter

    unreachable = Check(
        "Temporal",
        False,
        f"cannot reach {settings.temporal_address}: start it with `make demo` "
        "or set TEMPORAL_ADDRESS",
    )
    if not await _reachable(settings.temporal_address):
        return unreachable
    try:
        client = await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=data_converter(settings.resolved_payload_keys()),
        )
        await client.service_client.check_health(timeout=timedelta(seconds=5))
    except Exception:  # reachable but not a healthy Temporal frontend: same advice
        return unreachable
    return Check(
        "Temporal",
        True,
        f"{settings.temporal_address}, namespace {settings.temporal_namespace}",
    )


async def _all_checks(settings: Settings) -> list[Check]:
    checks = _config_checks(settings)
    checks += await _database_checks(settings)
    checks.append(await _temporal_check(settings))
    return checks


def doctor() -> None:
    """Check configuration, database and Temporal, and say in plain words what is wrong."""
    settings = load_settings()
    checks = run(_all_checks(settings))
    for check in checks:
        typer.echo(check.line())
    failed = [check for check in checks if not check.ok]
    if failed:
        typer.secho(f"{len(failed)} problem(s) found.", fg=typer.colors.RED)
        raise typer.Exit(1)
    typer.secho("All good.", fg=typer.colors.GREEN)


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate)
    app.command("rotate-keys")(rotate_keys_command)
    app.command("doctor")(doctor)
