"""Failures of the Luma API, each with a sentence fit to show an organizer.

Callers branch on the type (retry later, ask for a new key, tell the user) and show
`user_message` as is. No exception ever carries the API key or request headers: messages are
built from the status, the path and Luma's own error text only.
"""

from __future__ import annotations


class LumaError(Exception):
    """Base of every Luma failure; `user_message` is one friendly sentence."""

    user_message = "Luma could not complete the request."

    def __init__(self, detail: str | None = None, *, status: int | None = None) -> None:
        self.detail = detail
        self.status = status
        super().__init__(detail or self.user_message)


class InvalidKeyError(LumaError):
    """401/403: the key is wrong, revoked, or lacks access; retrying cannot help."""

    user_message = "Luma rejected this API key; check it in Luma → Settings → API."


class NotFoundError(LumaError):
    """404: the event, guest or person does not exist for this key."""

    user_message = "Luma has no such event or guest for this calendar."


class RateLimitedError(LumaError):
    """429 after the retry limit: the calendar's request budget is spent for now."""

    user_message = "Luma is rate-limiting this calendar; try again in a minute."

    def __init__(self, retry_after: float, detail: str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(detail or f"rate limited; retry after {retry_after:g} s", status=429)


class LumaUnavailableError(LumaError):
    """5xx, timeouts and connection failures that outlasted the retries."""

    user_message = "Luma is not responding right now; try again in a few minutes."


class BadRequestError(LumaError):
    """400/422 (or a request we refuse to send): the request itself is wrong."""

    user_message = "Luma refused the request."

    def __init__(self, detail: str | None = None, *, status: int | None = None) -> None:
        super().__init__(detail, status=status)
        if detail:
            self.user_message = f"Luma refused the request: {detail}"


class InvalidEmailError(BadRequestError):
    """An email address we refuse before any request is sent."""

    user_message = "That email address is not valid."

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"{raw!r} is not a valid email address: {reason}")
        self.raw = raw
        self.user_message = f"“{raw}” is not a valid email address: {reason}"


class LumaProtocolError(LumaError):
    """An answer that breaks Luma's published contract (a body the client cannot read,
    `has_more` without a `next_cursor`): acting on it would lose data, e.g. take a cut-off
    guest list for the whole one."""

    user_message = "Luma sent an answer this bot cannot read; try again in a few minutes."
