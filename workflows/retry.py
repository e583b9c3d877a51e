"""Retry and timeout choices shared by the workflows."""

from __future__ import annotations

from datetime import timedelta
from typing import TypedDict

from temporalio.common import RetryPolicy

from core import defaults

# The only retries of Luma calls made by activities (their clients make one attempt each,
# see activities.luma_access): outages are retried patiently with backoff; a 429 comes back
# after Luma's Retry-After, which the activity failure's `next_retry_delay` puts in place of
# this backoff; deliberate failures (a rejected key, a missing event) are raised
# non-retryable and end the job at once.
#
# The interval is capped at 5 s so work resumes within about 5 s of our own services (the
# database, the network, Luma after an outage) coming back, instead of waiting out a backoff
# grown to minutes; 120 attempts at that pace ride out about ten minutes of outage. A 429
# still waits exactly what Luma asks (`next_retry_delay` is not capped by this interval).
LUMA_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=120,
)
QUICK = timedelta(seconds=30)
LONG = timedelta(hours=2)
# A dead worker's heartbeating step moves to a live one this long after its last heartbeat.
HEARTBEAT = timedelta(seconds=defaults.HEARTBEAT_TIMEOUT_SECONDS)


class ActivityOptions(TypedDict, total=False):
    """Options shared by several `execute_activity_method` calls, passed as `**options`."""

    start_to_close_timeout: timedelta
    heartbeat_timeout: timedelta
    retry_policy: RetryPolicy


# A long Luma step that heartbeats (activities.heartbeat): retried patiently, and moved to a
# live worker within seconds when its worker dies.
LUMA_STEP: ActivityOptions = {
    "start_to_close_timeout": LONG,
    "heartbeat_timeout": HEARTBEAT,
    "retry_policy": LUMA_RETRY,
}
