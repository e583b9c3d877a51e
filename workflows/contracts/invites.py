"""Inputs and results of an invite list job (`workflows.invites`): the addresses stay in the
database (`invite_items`), so the history carries the job's id and counts only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

InviteHow = Literal["add", "invite"]  # add as going (guests/add), or send Luma's invitations


@dataclass
class InviteJobInput:
    job_id: str
    org_id: int
    event_id: str
    how: InviteHow
    event_name: str = ""
    requested_by: int | None = None
    chat_id: int | None = None


@dataclass
class InviteBatch:
    job_id: str
    org_id: int
    event_id: str
    how: InviteHow
    limit: int = 50


@dataclass
class InviteTotals:
    """Every address of the list, by what became of it."""

    counts: dict[str, int] = field(default_factory=dict)
    refused_sample: list[str] = field(default_factory=list)  # a few refused addresses
