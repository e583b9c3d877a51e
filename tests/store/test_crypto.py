"""Luma keys at rest: encrypted, rotatable, never stored or shown in plaintext."""

from __future__ import annotations

import asyncio
import subprocess

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import LargeBinary
from sqlalchemy.engine import make_url

from migrations import runner
from store.crypto import KeyBox, UnreadableKeyError, fingerprint
from store.db import create_engine, session_factory
from store.models import Base, Organization
from store.orgs import luma_key, save_org
from store.rotation import encrypted_columns, rotate_all


def test_round_trip_and_fingerprint() -> None:
    box = KeyBox([Fernet.generate_key().decode()])
    token = box.encrypt("secret-abcdef123456WXYZ")
    assert b"secret-abcdef" not in token
    assert box.decrypt(token) == "secret-abcdef123456WXYZ"
    assert fingerprint("secret-abcdef123456WXYZ") == "…WXYZ"


def test_unknown_key_is_a_clear_error() -> None:
    token = KeyBox([Fernet.generate_key().decode()]).encrypt("secret-x")
    with pytest.raises(UnreadableKeyError, match="ENCRYPTION_KEYS"):
        KeyBox([Fernet.generate_key().decode()]).decrypt(token)


async def test_rotation_with_two_keys(empty_pg_url: str, unique: str) -> None:
    """On a database of its own: rotation touches every org, other tests' included."""
    await asyncio.to_thread(runner.upgrade, empty_pg_url)
    engine = create_engine(empty_pg_url)
    try:
        await _rotate_and_check(session_factory(engine), unique)
    finally:
        await engine.dispose()


async def _rotate_and_check(sessions, unique: str) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    plaintext = f"secret-rotate-{unique}"
    async with sessions.begin() as session:
        org = await save_org(
            session,
            calendar_id=f"cal-{unique}",
            name="Rotating",
            luma_key=plaintext,
            keybox=KeyBox([old]),
        )
        org_id = org.id

    both = KeyBox([new, old])
    async with sessions.begin() as session:
        # Old rows stay readable before rotation...
        assert await luma_key(session, org_id=org_id, keybox=both) == plaintext
        first = await rotate_all(session, keybox=both)
    rotated = {report.column: report.rotated for report in first}
    assert rotated["organizations.key_ciphertext"] >= 1
    async with sessions.begin() as session:
        second = await rotate_all(session, keybox=both)
        assert sum(report.rotated for report in second) == 0  # safe to run twice
        # ...and after rotation the new key alone reads them.
        assert await luma_key(session, org_id=org_id, keybox=KeyBox([new])) == plaintext
        org = await session.get(Organization, org_id)
        assert org is not None and both.is_current(org.key_ciphertext)


async def test_plaintext_key_never_in_database_dump(sessions, db_url: str, keybox, unique: str):
    plaintext = f"secret-dumpcheck-{unique}"
    async with sessions.begin() as session:
        await save_org(
            session,
            calendar_id=f"cal-dump-{unique}",
            name="Dump",
            luma_key=plaintext,
            keybox=keybox,
        )
    url = make_url(db_url)
    completed = await asyncio.to_thread(
        subprocess.run,
        [
            "pg_dump",
            "-h",
            url.host or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
            "--data-only",
            url.database or "",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    dump = completed.stdout
    assert f"cal-dump-{unique}" in dump  # the row is there...
    assert plaintext not in dump  # ...its key is not
    assert unique not in dump.replace(f"cal-dump-{unique}", "")


def test_every_binary_column_is_an_encrypted_one_and_rotated() -> None:
    """A secret column must be named `*_ciphertext` so `rotate-keys` finds it."""
    binary = {
        f"{table.name}.{column.name}"
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, LargeBinary)
    }
    found = {f"{table.name}.{column.name}" for table, column in encrypted_columns()}
    assert binary == found and "org_enrichment.key_ciphertext" in found
