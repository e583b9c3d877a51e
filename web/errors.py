"""Friendly HTML error pages for the portal (the JSON API keeps its own error bodies)."""

from __future__ import annotations

import html

from services.caller import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    PlanLimit,
    Refusal,
    Unavailable,
)

PLAN_PAGE_HINT = "The Plan page (/web/plan) shows your plan, its limits and today's usage."
_TITLES: dict[type[Refusal], str] = {
    Invalid: "Check the request",
    Forbidden: "Admins only",
    NotFound: "Not found",
    Conflict: "Cannot do that",
    PlanLimit: "Over your plan's limit",
    Unavailable: "Not available right now",
}


class WebError(Exception):
    """A refusal or a missing page, shown as a page with a title and a sentence."""

    def __init__(
        self, status: int, title: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
        self.headers = headers or {}


def not_found(what: str) -> WebError:
    """Unknown ids and other orgs' ids get the same page, so ids reveal nothing."""
    return WebError(404, "Not found", f"There is no such {what} in this calendar.")


def refusal_page(refusal: Refusal) -> WebError:
    """A use case's refusal as a portal page: its status and sentence under a title; a plan
    limit also points at the Plan page. (Refusals are HTML-safe; pages escape on render.)"""
    title = next(
        (title for kind, title in _TITLES.items() if isinstance(refusal, kind)), "Cannot do that"
    )
    message = html.unescape(refusal.message)
    if isinstance(refusal, PlanLimit):
        message = f"{message} {PLAN_PAGE_HINT}"
    return WebError(refusal.status, title, message)
