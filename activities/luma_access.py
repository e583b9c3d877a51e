"""Opening a Luma client for an org inside an activity, and mapping its errors for Temporal.

Keys never travel through workflow inputs or history: the activity looks the org up, decrypts
its key and hands back a client that spends the shared budget Luma counts it in: the
calendar's for a calendar key, the organization's (one for all its calendars) for an
organization key (`luma.ratelimit.budget_key`), and that an organization key's client keeps to
the org's own calendar (`LumaPool.tenant_client`).

Temporal owns the retries of everything an activity asks of Luma. The clients handed out
here make one attempt per call, and every Luma failure is turned into an `ApplicationError`
in one place (`activity_failure`), applied to every activity by `LumaFailureInterceptor`:
a rejected key, a missing event or a refused request end the job at once; a 429 comes back
after exactly the `Retry-After` Luma asked for; 5xx, timeouts and dropped connections are
retried with the workflow's backoff (`workflows.retry.LUMA_RETRY`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from luma import (
    BadRequestError,
    InvalidKeyError,
    LumaClient,
    LumaError,
    LumaPool,
    LumaUnavailableError,
    NotFoundError,
    RateLimitedError,
)
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
        """A single-attempt client (`max_retries=0`) whatever the pool's own setting.

        Retrying inside an activity attempt would multiply Temporal's attempts by the
        client's and could sleep a 60 s `Retry-After` inside a 30 s activity timeout; a
        failure is raised at once and the activity's retry policy decides what comes next.
        """
        async with self.sessions() as session:
            org = await get_org(session, org_id=org_id)
            if org is None:
                raise OrgGone(org_id)
            return self.pool.tenant_client(
                self.keybox.decrypt(org.key_ciphertext),
                calendar_id=org.luma_calendar_id,
                key_kind=org.key_kind,
                interactive=interactive,
                max_retries=0,
            )


def activity_failure(exc: LumaError) -> ApplicationError:
    """The activity failure a Luma error becomes: final, or retried on Luma's terms.

    A rejected key would otherwise make Temporal retry for hours (a retry storm against
    Luma), and a request Luma refused is refused again. A 429 has already been recorded in
    the shared budget by the client; `next_retry_delay` makes Temporal wait exactly what Luma
    asked instead of its own backoff.
    """
    if isinstance(exc, InvalidKeyError):
        return ApplicationError(exc.user_message, type="InvalidKey", non_retryable=True)
    if isinstance(exc, NotFoundError):
        return ApplicationError(exc.user_message, type="NotFound", non_retryable=True)
    if isinstance(exc, BadRequestError):
        return ApplicationError(exc.user_message, type="BadRequest", non_retryable=True)
    if isinstance(exc, RateLimitedError):
        delay = timedelta(seconds=exc.retry_after) if exc.retry_after > 0 else None
        return ApplicationError(str(exc), type="RateLimited", next_retry_delay=delay)
    if isinstance(exc, LumaUnavailableError):
        return ApplicationError(str(exc), type="LumaUnavailable")
    return ApplicationError(str(exc), type=type(exc).__name__)


def only_this_call(failure: ApplicationError) -> bool:
    """Whether a mapped Luma failure concerns only the call that met it (a 5xx, a timeout,
    a dropped connection), so a batch may finish its other calls and leave this one to
    Temporal's retry. A rejected key, a refused request or a 429 (the whole calendar must
    wait) concern every call of the batch."""
    return not failure.non_retryable and failure.type == "LumaUnavailable"


@contextmanager
def luma_failures_are_final() -> Iterator[None]:
    """`activity_failure` at the call site, for code that must see the mapped failure
    before the activity ends; the worker's interceptor maps whatever escapes anyway."""
    try:
        yield
    except LumaError as exc:
        raise activity_failure(exc) from None


class LumaFailureInterceptor(Interceptor):
    """Maps a `LumaError` escaping any activity with `activity_failure`, so no activity has
    to remember to (`worker.build_worker` installs it)."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _LumaFailures(next)


class _LumaFailures(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await self.next.execute_activity(input)
        except LumaError as exc:
            raise activity_failure(exc) from None
