"""Deterministic workflow and schedule ids, and the search attributes set on every run.

Ids are derived from the tenant and the purpose, so a double-clicked button or a repeated
API call finds the job already running instead of starting it twice. Ids are not encrypted
(Temporal lists and searches by them), so a guest's email appears in one only as a hash.
"""

from __future__ import annotations

import hashlib

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from catalog.guest_filter import GuestFilter

ORG_ID = SearchAttributeKey.for_keyword("OrgId")
EVENT_ID = SearchAttributeKey.for_keyword("EventId")
KIND = SearchAttributeKey.for_keyword("Kind")
REQUESTED_BY = SearchAttributeKey.for_keyword("RequestedBy")
SEARCH_ATTRIBUTES = (ORG_ID, EVENT_ID, KIND, REQUESTED_BY)


def bulk_id(org_id: int, event_id: str, target_status: str, guest_filter: GuestFilter) -> str:
    return f"bulk-{org_id}-{event_id}-{target_status}-{guest_filter.fingerprint()}"


def bulk_job_key(workflow_id: str, first_run_id: str) -> str:
    """A bulk job's key in its snapshot (`bulk_job_items.job_id`): the same workflow id
    serves later jobs of the same filter, and continue-as-new keeps the first run's id."""
    return f"{workflow_id}/{first_run_id}"


def sync_id(org_id: int) -> str:
    return f"sync-{org_id}"


def sync_schedule_id(org_id: int) -> str:
    return f"sync-schedule-{org_id}"


def digest_schedule_id(chat_id: int) -> str:
    return f"digest-schedule-{chat_id}"


def summary_id(org_id: int, event_id: str) -> str:
    return f"summary-{org_id}-{event_id}"


def opaque(email: str) -> str:
    """A stable stand-in for an email in an id: the same person, the same id."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


def guest_status_id(org_id: int, event_id: str, email: str, target_status: str) -> str:
    return f"guest-status-{org_id}-{event_id}-{opaque(email)}-{target_status}"


def event_sync_id(org_id: int, event_id: str) -> str:
    return f"sync-{org_id}-{event_id}"


def guest_refresh_id(org_id: int, event_id: str, guest_ref: str) -> str:
    """`guest_ref` is Luma's guest id, or the guest's email (hashed here)."""
    ref = opaque(guest_ref) if "@" in guest_ref else guest_ref
    return f"guest-refresh-{org_id}-{event_id}-{ref}"


def policy_id(org_id: int, event_id: str) -> str:
    """The one approval policy workflow of an event (`workflows.policies`)."""
    return f"approval-policy-{org_id}-{event_id}"


def invite_id(org_id: int, event_id: str, job_id: str) -> str:
    """One invite list job (`workflows.invites`); `job_id` names its rows in invite_items."""
    return f"invites-{org_id}-{event_id}-{job_id}"


def search_attributes(
    *, org_id: int, kind: str, event_id: str | None = None, requested_by: int | None = None
) -> TypedSearchAttributes:
    pairs = [SearchAttributePair(ORG_ID, str(org_id)), SearchAttributePair(KIND, kind)]
    if event_id is not None:
        pairs.append(SearchAttributePair(EVENT_ID, event_id))
    if requested_by is not None:
        pairs.append(SearchAttributePair(REQUESTED_BY, str(requested_by)))
    return TypedSearchAttributes(pairs)


def enrich_id(org_id: int) -> str:
    return f"enrich-{org_id}"


def enrich_schedule_id(org_id: int) -> str:
    return f"enrich-schedule-{org_id}"


def followup_id(org_id: int, event_id: str, audience: str, campaign_id: str) -> str:
    return f"followup-{org_id}-{event_id}-{audience}-{campaign_id}"


def digest_id(chat_id: int) -> str:
    """The run a chat's digest schedule starts (Temporal appends the scheduled time)."""
    return f"digest-{chat_id}"


def digest_now_id(chat_id: int) -> str:
    return f"digest-{chat_id}-now"


def crm_id(org_id: int) -> str:
    return f"crm-{org_id}"


def crm_schedule_id(org_id: int) -> str:
    return f"crm-schedule-{org_id}"
