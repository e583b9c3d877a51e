"""Inputs and results of the daily digest workflow and its activities."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DigestRequest:
    chat_id: int
    org_id: int


@dataclass
class Digest:
    text: str
    fingerprint: str
    changed: bool


@dataclass
class DigestSent:
    chat_id: int
    fingerprint: str


@dataclass
class DigestInput:
    chat_id: int
    org_id: int
    force: bool = False  # send even when nothing changed


@dataclass
class DigestOutcome:
    sent: bool  # a digest was due (something changed, or it was asked for)
    text: str
    # Whether it reached the chat: not when the chat was relinked elsewhere, the DM's person
    # left the org, or no bot is configured. Added later, so old results read as False.
    posted: bool = False
