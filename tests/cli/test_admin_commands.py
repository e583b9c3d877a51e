"""`lumabot migrate`, `rotate-keys` and `doctor`, run as a user runs them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import select

from store.crypto import KeyBox
from store.db import create_engine, session_factory
from store.models import OrgEnrichment
from store.orgs import luma_key, save_org

LUMABOT = str(Path(sys.prefix) / "bin" / "lumabot")


def lumabot(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"ENCRYPTION_KEYS", "DATABASE_URL"}}
    return subprocess.run(
        [LUMABOT, *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


async def run_lumabot(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(lumabot, *args, cwd=cwd, **env)


async def test_migrate_then_doctor_reports_plainly(tmp_path: Path, empty_pg_url: str) -> None:
    closed_port = "127.0.0.1:1"
    before = await run_lumabot(
        "doctor", cwd=tmp_path, DATABASE_URL=empty_pg_url, TEMPORAL_ADDRESS=closed_port
    )
    assert before.returncode == 1
    assert "run lumabot migrate" in before.stdout
    assert "cannot reach 127.0.0.1:1" in before.stdout
    assert "Traceback" not in before.stdout + before.stderr

    migrated = await run_lumabot("migrate", cwd=tmp_path, DATABASE_URL=empty_pg_url)
    assert migrated.returncode == 0, migrated.stderr
    assert "revision" in migrated.stdout


async def test_doctor_all_good(tmp_path: Path, db_url: str, temporal_env) -> None:
    address = temporal_env.client.service_client.config.target_host
    result = await run_lumabot(
        "doctor",
        cwd=tmp_path,
        DATABASE_URL=db_url,
        TEMPORAL_ADDRESS=address,
        ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    )
    # Keys stored by other tests use other encryption keys, so only that line may complain.
    lines = [line for line in result.stdout.splitlines() if line.startswith("✗")]
    assert all(line.startswith("✗ Stored Luma keys") for line in lines), result.stdout
    assert "✓ Temporal" in result.stdout and "✓ Database" in result.stdout
    assert (
        "! Telegram: BOT_TOKEN is not set: the bot runs on a local console only, and the "
        "worker posts no digest, summary or job report to Telegram"
    ) in result.stdout


async def test_bad_configuration_is_explained(tmp_path: Path) -> None:
    result = await run_lumabot("migrate", cwd=tmp_path, ENCRYPTION_KEYS="hunter2")
    assert result.returncode == 2
    assert "Fernet key" in result.stderr and "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr


async def test_rotate_keys_command(tmp_path: Path, empty_pg_url: str, unique: str) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    assert (await run_lumabot("migrate", cwd=tmp_path, DATABASE_URL=empty_pg_url)).returncode == 0
    engine = create_engine(empty_pg_url)
    sessions = session_factory(engine)
    async with sessions.begin() as session:
        for n in range(3):
            org = await save_org(
                session,
                calendar_id=f"cal-{n}-{unique}",
                name=f"Org {n}",
                luma_key=f"secret-{n}-{unique}",
                keybox=KeyBox([old]),
            )
            if n < 2:  # two orgs with an enrichment provider key: the other encrypted column
                session.add(
                    OrgEnrichment(
                        org_id=org.id,
                        provider="pdl",
                        key_ciphertext=KeyBox([old]).encrypt(f"pdl-{n}"),
                        key_fingerprint="…",
                    )
                )
    env = {"DATABASE_URL": empty_pg_url, "ENCRYPTION_KEYS": f"{new},{old}"}
    first = await run_lumabot("rotate-keys", cwd=tmp_path, **env)
    second = await run_lumabot("rotate-keys", cwd=tmp_path, **env)
    lines = {line.split()[0]: line for line in first.stdout.splitlines()[1:]}
    assert "3 re-encrypted, 0 already current" in lines["organizations.key_ciphertext"]
    assert "2 re-encrypted, 0 already current" in lines["org_enrichment.key_ciphertext"]
    assert "0 re-encrypted, 3 already current" in second.stdout
    assert "0 re-encrypted, 2 already current" in second.stdout
    async with sessions() as session:
        orgs = [1, 2, 3]
        keys = [await luma_key(session, org_id=o, keybox=KeyBox([new])) for o in orgs]
        provider_keys = [
            KeyBox([new]).decrypt(row.key_ciphertext)
            for row in await session.scalars(select(OrgEnrichment).order_by(OrgEnrichment.org_id))
        ]
    assert sorted(keys) == sorted(f"secret-{n}-{unique}" for n in range(3))
    assert provider_keys == ["pdl-0", "pdl-1"]
    await engine.dispose()

    missing = await run_lumabot(
        "rotate-keys",
        cwd=tmp_path,
        DATABASE_URL=empty_pg_url,
        ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    )
    assert missing.returncode == 1 and "cannot be decrypted" in missing.stderr
