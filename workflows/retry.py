"""Retry and timeout choices shared by the workflows."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

# Luma outages get retried patiently with backoff; deliberate failures (a rejected key,
# a missing event) are raised non-retryable by the activities and end the job at once.
LUMA_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=20,
)
QUICK = timedelta(seconds=30)
LONG = timedelta(hours=2)
