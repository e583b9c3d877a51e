"""Inputs and results of the enrichment workflow and its activities (never a key)."""

from __future__ import annotations

from dataclasses import dataclass

from core import defaults


@dataclass
class EnrichOrgRef:
    org_id: int


@dataclass
class EnrichPlan:
    enabled: bool
    provider: str = ""


@dataclass
class EnrichBatch:
    org_id: int
    after: str = ""  # the last person (normalized email) of the previous batch
    limit: int = defaults.ENRICHMENT_BATCH_SIZE


@dataclass
class EnrichBatchResult:
    people: int = 0
    looked_up: int = 0
    found: int = 0
    from_cache: int = 0
    last: str = ""
    done: bool = True


@dataclass
class EnrichInput:
    org_id: int
    chat_id: int | None = None  # who to tell when done
    batch_size: int = defaults.ENRICHMENT_BATCH_SIZE
    heartbeat_timeout_seconds: float = defaults.ENRICHMENT_HEARTBEAT_TIMEOUT_SECONDS
    # Carried over continue-as-new:
    after: str = ""
    people: int = 0
    looked_up: int = 0
    found: int = 0
    from_cache: int = 0


@dataclass
class EnrichReport:
    enabled: bool
    people: int = 0
    looked_up: int = 0
    found: int = 0
    from_cache: int = 0
    error: str = ""

    def text(self) -> str:
        if self.error:
            return f"🔎 Enrichment stopped: {self.error}"
        return (
            f"🔎 Enrichment done: {self.people} people checked, {self.looked_up} looked up "
            f"({self.found} found), {self.from_cache} already known."
        )
