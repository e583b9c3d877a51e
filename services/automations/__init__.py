"""The layer that starts and steers jobs: the product's one door into Temporal.

Split by feature (`bulk`, `sync`, `digest`, `enrichment`, `followups`, `guest_status`,
`policies`) on a
shared `client.AutomationsBase`; `Automations` is all of them in one handle, which the bot,
the API, the portal and billing receive. `jobs` lists and finds an org's jobs.
"""

from __future__ import annotations

from services.automations.bulk import BulkJobs, ControlAction, JobControlError, NoWorker
from services.automations.client import (
    BulkStart,
    JobDefaults,
    JobInfo,
    register_search_attributes,
)
from services.automations.crm import CrmJobs
from services.automations.digest import DigestJobs
from services.automations.enrichment import EnrichmentJobs
from services.automations.followups import FollowupJobs
from services.automations.guest_status import GuestStatusError, GuestStatusJobs
from services.automations.invites import InviteJobs
from services.automations.policies import PolicyJobs
from services.automations.sync import SyncJobs
from workflows import ids


class Automations(
    BulkJobs,
    SyncJobs,
    DigestJobs,
    EnrichmentJobs,
    FollowupJobs,
    GuestStatusJobs,
    PolicyJobs,
    InviteJobs,
    CrmJobs,
):
    """Every feature's starters in one handle, and what happens when an org comes and goes."""

    async def on_org_linked(self, org_id: int, interval_minutes: int | None = None) -> None:
        await self.ensure_sync_schedule(org_id, interval_minutes)
        await self.sync_now(org_id)

    async def on_org_unlinked(self, org_id: int, chat_ids: list[int]) -> None:
        """The last chat let go of the org: stop its schedules."""
        await self.delete_schedule(ids.sync_schedule_id(org_id))
        await self.delete_schedule(ids.enrich_schedule_id(org_id))
        await self.delete_schedule(ids.crm_schedule_id(org_id))
        for chat_id in chat_ids:
            await self.clear_digest(chat_id)


__all__ = [
    "Automations",
    "BulkStart",
    "ControlAction",
    "GuestStatusError",
    "JobControlError",
    "JobDefaults",
    "JobInfo",
    "NoWorker",
    "register_search_attributes",
]
