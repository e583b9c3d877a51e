"""Inputs, results and progress of the follow-up email workflow and its activities."""

from __future__ import annotations

from dataclasses import dataclass, field

from core import defaults

BATCHES_PER_RUN = 200  # then continue-as-new


@dataclass
class CampaignRef:
    org_id: int
    event_id: str
    campaign_id: str


@dataclass
class ResolveFollowup:
    campaign: CampaignRef
    audience: str


@dataclass
class FollowupBatch:
    campaign: CampaignRef
    subject: str
    body: str
    event_name: str
    batch_size: int = defaults.FOLLOWUP_BATCH_SIZE
    syntax: str = "plain"  # see FollowupInput.syntax


@dataclass
class FollowupCounts:
    """The campaign's rows by state, read from the table (the truth, whatever retried)."""

    total: int = 0
    pending: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    uncertain: int = 0
    problems: list[str] = field(default_factory=list)  # "email: reason", failed and uncertain
    # Set by a batch that stopped at the sender's daily limit (Gmail): the rest waits until then.
    daily_limit: DailyLimit | None = None


@dataclass
class DailyLimit:
    """The sender took no more today: who (for the report) and when to resume (ISO 8601, UTC)."""

    sender: str
    resume_at: str


@dataclass
class FollowupInput:
    org_id: int
    event_id: str
    event_name: str
    audience: str  # attended | no-shows | all
    campaign_id: str
    # The wording's snapshot, filled in per recipient: a template edited after Send does not
    # change a running campaign.
    subject: str
    body: str
    chat_id: int | None = None
    requested_by: int | None = None
    # The starter fills these from `Settings`; the defaults decode histories that predate them.
    batch_size: int = defaults.FOLLOWUP_BATCH_SIZE
    heartbeat_timeout_seconds: float = defaults.HEARTBEAT_TIMEOUT_SECONDS
    batches_per_run: int = BATCHES_PER_RUN
    resolved: bool = False  # carried over continue-as-new
    # "jinja": `mailer.templates` fills subject and body in. "plain" (runs started before
    # templates): `{first_name}` and `{event}` replaced literally.
    syntax: str = "plain"


@dataclass
class FollowupReport:
    counts: FollowupCounts
    text: str = ""


@dataclass
class FollowupProgress:
    phase: str  # resolving | sending | paused (the sender's daily limit) | finished
    counts: FollowupCounts = field(default_factory=FollowupCounts)
