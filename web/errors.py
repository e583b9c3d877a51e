"""Friendly HTML error pages for the portal (the JSON API keeps its own error bodies)."""

from __future__ import annotations


class WebError(Exception):
    """A refusal or a missing page, shown as a page with a title and a sentence."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


def not_found(what: str) -> WebError:
    """Unknown ids and other orgs' ids get the same page, so ids reveal nothing."""
    return WebError(404, "Not found", f"There is no such {what} in this calendar.")
