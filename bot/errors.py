"""The exception handlers raise to refuse, and the words of a failed workflow."""

from __future__ import annotations

from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError


class UserError(Exception):
    """Bad input or a refusal: the message (HTML, user text escaped) says what to do next.

    Raised anywhere in a handler or middleware, it becomes one reply and nothing else
    happens; the update's database session is rolled back, so nothing it wrote is kept.
    """


def failure_reason(error: WorkflowFailureError) -> str:
    """The first ApplicationError's message down the chain: activities word those for people."""
    cause: BaseException | None = error.cause
    while cause is not None:
        if isinstance(cause, ApplicationError):
            return cause.message
        cause = getattr(cause, "cause", None)
    return "it failed"
