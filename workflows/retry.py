"""Retry and timeout choices shared by the workflows."""

from __future__ import annotations

from datetime import timedelta
from typing import TypedDict

from temporalio.common import RetryPolicy

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


class ActivityOptions(TypedDict, total=False):
    """Options shared by several `execute_activity_method` calls, passed as `**options`."""

    start_to_close_timeout: timedelta
    heartbeat_timeout: timedelta
    retry_policy: RetryPolicy
