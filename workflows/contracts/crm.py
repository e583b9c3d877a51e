"""Inputs and results of the CRM sync workflow and its activities (ids and counts only:
never a token)."""

from __future__ import annotations

from dataclasses import dataclass, field

from core import defaults
from crm import NAMES

# The failure types of a page's activity: a refused token ends the run, refused records end
# the page at once, an unavailable service is retried.
INVALID_TOKEN = "InvalidCrmToken"
REJECTED = "CrmRejected"
UNAVAILABLE = "CrmUnavailable"


@dataclass
class CrmRunOpen:
    org_id: int
    run_key: str  # workflow id / first run id: the run's row


@dataclass
class CrmPlan:
    enabled: bool
    run_id: int = 0
    connector: str = ""
    luma_contact_tags: bool = False  # also push our tags to Luma after the batches


@dataclass
class CrmContactTags:
    org_id: int


@dataclass
class CrmContactTagsResult:
    tags: int = 0  # our tags pushed
    applied: int = 0  # contacts Luma tagged (already tagged ones included)
    skipped: int = 0  # emails that are not contacts of the calendar (Luma made none)


@dataclass
class CrmBatch:
    org_id: int
    run_id: int
    after: str = ""  # the last person (normalized email) of the previous batch
    limit: int = defaults.CRM_BATCH_SIZE


@dataclass
class CrmBatchFailed:
    org_id: int
    run_id: int
    after: str
    limit: int
    error: str


@dataclass
class CrmBatchResult:
    profiles: int = 0
    written: int = 0
    unchanged: int = 0
    failed: int = 0
    rate_limited: int = 0
    last: str = ""
    done: bool = True


@dataclass
class CrmRunClose:
    org_id: int
    run_id: int
    profiles: int
    failed: int
    error: str = ""
    chat_id: int | None = None  # who asked; None: the org's linked chats, when there is news


@dataclass
class CrmReport:
    enabled: bool
    connector: str = ""
    profiles: int = 0
    written: int = 0
    unchanged: int = 0
    failed: int = 0
    failed_batches: int = 0
    error: str = ""
    notify: list[int] = field(default_factory=list)  # chats to tell

    def text(self) -> str:
        name = NAMES.get(self.connector, "CRM")
        if self.error:
            return f"📇 {name} sync stopped: {self.error}"
        text = (
            f"📇 {name} sync done: {self.profiles} profiles checked, {self.written} written, "
            f"{self.unchanged} unchanged"
        )
        if self.failed:
            text += (
                f", {self.failed} failed in {self.failed_batches} batch(es), listed in the "
                "portal and sent again by the next run"
            )
        return text + "."


@dataclass
class CrmSyncInput:
    org_id: int
    chat_id: int | None = None  # who to tell when done
    batch_size: int = defaults.CRM_BATCH_SIZE
    heartbeat_timeout_seconds: float = defaults.CRM_HEARTBEAT_TIMEOUT_SECONDS
    # Carried over continue-as-new:
    run_id: int = 0
    luma_contact_tags: bool = False
    after: str = ""
    profiles: int = 0
    failed: int = 0
