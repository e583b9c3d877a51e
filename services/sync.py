"""A sync with Luma that a person asks for now, while it also runs on a schedule.

It joins the run already going, whether a person or the org's Temporal Schedule started it
(`Automations.sync_now` asks the schedule for its running action), so a click during a
scheduled sync never syncs twice at once. An enrichment run now is `services.enrichment`'s.
"""

from __future__ import annotations

from typing import Any

from temporalio.client import WorkflowHandle

from services.automations import Automations
from services.caller import Caller


async def sync_now(
    caller: Caller, automations: Automations, *, interactive: bool = False
) -> WorkflowHandle[Any, Any]:
    """Sync the org's guest lists with Luma now, or join the sync running. Reading, not
    writing: members may ask for it. `interactive` when a person waits for the answer."""
    return await automations.sync_now(caller.org_id, interactive=interactive)
