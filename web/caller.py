"""The portal's side of `services.caller`: who a signed-in viewer acts as in the application
layer."""

from __future__ import annotations

from services.caller import Caller
from web.auth import Viewer


def caller_of(viewer: Viewer) -> Caller:
    """The viewer in the org they look at; their membership role (re-read on every request)
    decides what they may change."""
    return Caller(viewer.org_id, viewer.role, "web", viewer.user_id)
