"""VIP scores: points from configurable rules, each with the reason shown to the organizer.

Rules (all in `core.settings`, `VIP_*`): points per event attended (up to a cap), a bonus for
a high show-up rate once enough past approvals exist, points per tag (vip, speaker, ...), a
company list, and enrichment's seniority when enrichment ran. A person whose score reaches
the threshold is a VIP. The score is computed when asked, never stored, so changing a rule
changes every answer at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.settings import Settings


def _slug(value: str) -> str:
    return "_".join(value.strip().lower().replace("-", " ").split())


@dataclass(frozen=True)
class VipRules:
    """The scoring rules, built by `from_settings`: the numbers live once, in `Settings`
    (whose defaults are `core.defaults`), so no field here has a default of its own."""

    threshold: int
    points_per_attended: int
    attended_cap: int
    attendance_rate: float
    attendance_rate_points: int
    attendance_rate_min_events: int
    tag_points: Mapping[str, int]
    companies: frozenset[str]
    company_points: int
    seniority_points: Mapping[str, int]
    repeat_min_events: int

    @classmethod
    def from_settings(cls, settings: Settings) -> VipRules:
        return cls(
            threshold=settings.vip_threshold,
            points_per_attended=settings.vip_points_per_attended,
            attended_cap=settings.vip_attended_cap,
            attendance_rate=settings.vip_attendance_rate,
            attendance_rate_points=settings.vip_attendance_rate_points,
            attendance_rate_min_events=settings.vip_attendance_rate_min_events,
            tag_points={tag.lower(): points for tag, points in settings.vip_tag_points.items()},
            companies=frozenset(name.strip().lower() for name in settings.vip_companies),
            company_points=settings.vip_company_points,
            seniority_points={_slug(k): v for k, v in settings.vip_seniority_points.items()},
            repeat_min_events=settings.repeat_min_events,
        )


@dataclass(frozen=True)
class PersonFacts:
    """What the rules look at, gathered from a profile and our tags."""

    attended: int = 0
    no_shows: int = 0
    tags: tuple[str, ...] = ()
    company: str | None = None
    domain: str | None = None
    seniority: str | None = None


@dataclass(frozen=True)
class VipScore:
    score: int
    reasons: tuple[str, ...]
    is_vip: bool


def score(facts: PersonFacts, rules: VipRules) -> VipScore:
    """The person's points and, for each rule that gave some, the reason in plain words."""
    earned: list[tuple[int, str]] = []
    if facts.attended and rules.points_per_attended:
        counted = min(facts.attended, rules.attended_cap)
        plural = "event" if facts.attended == 1 else "events"
        earned.append((counted * rules.points_per_attended, f"attended {facts.attended} {plural}"))
    past = facts.attended + facts.no_shows
    if past >= rules.attendance_rate_min_events and facts.attended / past >= rules.attendance_rate:
        earned.append(
            (
                rules.attendance_rate_points,
                f"showed up to {facts.attended} of {past} approved events",
            )
        )
    for tag in facts.tags:
        if points := rules.tag_points.get(tag, 0):
            earned.append((points, f"tagged {tag}"))
    if rules.companies and (match := _listed_company(facts, rules)):
        earned.append((rules.company_points, f"{match} is on the VIP company list"))
    if facts.seniority and (points := rules.seniority_points.get(_slug(facts.seniority), 0)):
        earned.append((points, f"seniority {facts.seniority} (enrichment)"))
    earned = [(points, reason) for points, reason in earned if points > 0]
    total = sum(points for points, _ in earned)
    reasons = tuple(f"{reason} (+{points})" for points, reason in earned)
    return VipScore(total, reasons, total >= rules.threshold)


def _listed_company(facts: PersonFacts, rules: VipRules) -> str | None:
    """The company or email domain that the list names (either spelling counts)."""
    for candidate in (facts.company, facts.domain):
        if candidate and candidate.strip().lower() in rules.companies:
            return candidate.strip()
    return None
