"""Opening a Luma client for an org inside an activity, and mapping its errors for Temporal.

Keys never travel through workflow inputs or history: the activity looks the org up, decrypts
its key and hands back a client that spends that calendar's shared budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError

from luma import InvalidKeyError, LumaClient, LumaPool, NotFoundError
from store.crypto import KeyBox
from store.orgs import get_org


class OrgGone(ApplicationError):
    """The org was unlinked or deleted while a job was queued; retrying cannot help."""

    def __init__(self, org_id: int) -> None:
        super().__init__(
            f"organization {org_id} no longer exists", type="OrgGone", non_retryable=True
        )


class LumaAccess:
    """Gives activities a Luma client per org, sharing one connection pool per process."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], keybox: KeyBox, pool: LumaPool
    ) -> None:
        self.sessions = sessions
        self.keybox = keybox
        self.pool = pool

    async def client(self, org_id: int, *, interactive: bool = False) -> LumaClient:
        async with self.sessions() as session:
            org = await get_org(session, org_id=org_id)
            if org is None:
                raise OrgGone(org_id)
            key = self.keybox.decrypt(org.key_ciphertext)
            return self.pool.client(key, budget_key=org.luma_calendar_id, interactive=interactive)


@contextmanager
def luma_failures_are_final() -> Iterator[None]:
    """Turn Luma errors that retrying cannot fix into non-retryable activity failures.

    A rejected key would otherwise make Temporal retry forever (a retry storm against Luma);
    transient errors (5xx, timeouts, 429) propagate as they are and are retried with backoff.
    """
    try:
        yield
    except InvalidKeyError as exc:
        raise ApplicationError(exc.user_message, type="InvalidKey", non_retryable=True) from None
    except NotFoundError as exc:
        raise ApplicationError(exc.user_message, type="NotFound", non_retryable=True) from None
