"""VIP scores: points from configurable rules, each with the reason shown to the organizer.

Rules: points per event attended (up to a cap), a bonus for a high show-up rate once enough
past approvals exist, points per tag (vip, speaker, ...), a company list, and enrichment's
seniority when enrichment ran. A person whose score reaches the threshold is a VIP. Each org
has its own rules (`intel.vip_rules.vip_rules_for`: what an admin saved, else the settings'
`VIP_*` defaults). The score is computed when asked, never stored, so changing a rule changes
every answer at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from core.settings import Settings


def slug(value: str) -> str:
    """A seniority as compared: lowercase, words joined by _ (\"C-Suite\" is c_suite)."""
    return "_".join(value.strip().lower().replace("-", " ").split())


# The fields an org may set for itself (`repeat_min_events` defines a repeat guest, not a VIP,
# and stays the settings').
EDITABLE = (
    "threshold",
    "points_per_attended",
    "attended_cap",
    "attendance_rate",
    "attendance_rate_points",
    "attendance_rate_min_events",
    "tag_points",
    "companies",
    "company_points",
    "seniority_points",
)


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
            seniority_points={slug(k): v for k, v in settings.vip_seniority_points.items()},
            repeat_min_events=settings.repeat_min_events,
        )

    def stored(self) -> dict[str, Any]:
        """The editable fields as JSON (companies sorted, so equal rules store equally)."""
        return {
            "threshold": self.threshold,
            "points_per_attended": self.points_per_attended,
            "attended_cap": self.attended_cap,
            "attendance_rate": self.attendance_rate,
            "attendance_rate_points": self.attendance_rate_points,
            "attendance_rate_min_events": self.attendance_rate_min_events,
            "tag_points": dict(sorted(self.tag_points.items())),
            "companies": sorted(self.companies),
            "company_points": self.company_points,
            "seniority_points": dict(sorted(self.seniority_points.items())),
        }

    def with_stored(self, data: Mapping[str, Any]) -> VipRules:
        """These rules with the editable fields `data` holds (as `stored` wrote them) put in;
        fields it lacks keep these values. Spellings are normalized as `from_settings` does."""
        known: dict[str, Any] = {key: data[key] for key in EDITABLE if key in data}
        if "tag_points" in known:
            known["tag_points"] = {
                str(tag).lower(): int(points) for tag, points in known["tag_points"].items()
            }
        if "companies" in known:
            known["companies"] = frozenset(
                str(name).strip().lower() for name in known["companies"] if str(name).strip()
            )
        if "seniority_points" in known:
            known["seniority_points"] = {
                slug(str(k)): int(v) for k, v in known["seniority_points"].items()
            }
        return replace(self, **known)


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
    if facts.seniority and (points := rules.seniority_points.get(slug(facts.seniority), 0)):
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
