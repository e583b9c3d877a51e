"""An org's VIP rules: read them, preview a change, save it, reset to the defaults.

The portal's editor and the control API both come here, so one set of checks holds: the
same ranges as the settings' `VIP_*` fields (plus upper bounds, so a typo cannot make a
score of billions), bounded lists, friendly sentences for what is wrong. Saving and
resetting are for admins and leave one audit row naming what changed; reading and previewing
are for every member (a preview writes nothing).

Rules travel as the dict `VipRules.stored()` gives (the shape stored in `org_vip_rules` and
the API's body), checked by `checked` into a `VipRules` over the defaults.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from intel import vip_rules as org_rules
from intel.vip import EDITABLE, VipRules, slug
from intel.vip_rules import VipPreview
from services import audit
from services.caller import Caller, Invalid
from store.models import OrgVipRules
from store.profiles import TAG_PATTERN

MAX_POINTS = 1000  # points any one rule gives
MAX_THRESHOLD = 10_000
MAX_ATTENDED_CAP = 100
MAX_MIN_EVENTS = 100
MAX_TAGS = 50
MAX_SENIORITIES = 20
MAX_COMPANIES = 200
COMPANY_MAX = 100  # characters of one company name or domain
SENIORITY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

LABELS = {
    "threshold": "the VIP threshold",
    "points_per_attended": "the points per attended event",
    "attended_cap": "the cap on attended events",
    "attendance_rate": "the attendance rate",
    "attendance_rate_points": "the attendance-rate bonus",
    "attendance_rate_min_events": "the events the attendance rate needs",
    "company_points": "the points for a listed company",
}
RANGES: dict[str, tuple[int, int]] = {
    "threshold": (1, MAX_THRESHOLD),
    "points_per_attended": (0, MAX_POINTS),
    "attended_cap": (1, MAX_ATTENDED_CAP),
    "attendance_rate_points": (0, MAX_POINTS),
    "attendance_rate_min_events": (1, MAX_MIN_EVENTS),
    "company_points": (0, MAX_POINTS),
}


@dataclass(frozen=True)
class VipRulesState:
    """The org's effective rules and whether they are its own or the defaults."""

    rules: VipRules
    own: bool
    updated_at: datetime | None = None
    updated_by: int | None = None


@dataclass(frozen=True)
class Saved:
    state: VipRulesState
    changed: tuple[str, ...]  # the fields that changed (empty: nothing was written)


def _whole(name: str, value: object) -> int:
    low, high = RANGES[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Invalid(f"Give {LABELS[name]} as a whole number from {low} to {high}.")
    return value


def _rate(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise Invalid("Give the attendance rate as a share above 0 and at most 1 (0.8 is 80%).")
    return float(value)


def _tag_key(raw: str) -> str:
    return raw.strip().lstrip("#").lower()  # as /tag stores a tag


def _points(value: object, what: str, limit: int) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise Invalid(f"Give the {what} points as names with points.")
    if len(value) > limit:
        raise Invalid(f"At most {limit} {what}s can give points; there are {len(value)}.")
    key_of, key_ok = (_tag_key, TAG_PATTERN) if what == "tag" else (slug, SENIORITY_PATTERN)
    found: dict[str, int] = {}
    for raw, points in value.items():
        key = key_of(str(raw))
        if not key_ok.match(key):
            raise Invalid(
                f"“{escape(str(raw)[:40])}” is not a {what}: a short name that starts with a "
                "letter (letters, digits, _ or -)."
            )
        if isinstance(points, bool) or not isinstance(points, int) or not 0 <= points <= MAX_POINTS:
            raise Invalid(
                f"Give the points for {what} “{escape(key)}” as a whole number from 0 to "
                f"{MAX_POINTS}."
            )
        found[key] = points
    return found


def _companies(value: object) -> list[str]:
    if not isinstance(value, list | tuple):
        raise Invalid("Give the VIP companies as a list of names or email domains.")
    names = sorted({str(name).strip().lower() for name in value if str(name).strip()})
    if len(names) > MAX_COMPANIES:
        raise Invalid(f"At most {MAX_COMPANIES} VIP companies or domains; there are {len(names)}.")
    for name in names:
        if len(name) > COMPANY_MAX or any(mark in name for mark in ",;\n\r"):
            raise Invalid(
                f"“{escape(name[:40])}” is not a company name or domain: at most "
                f"{COMPANY_MAX} characters, no commas or semicolons."
            )
    return names


def checked(defaults: VipRules, data: Mapping[str, Any]) -> VipRules:
    """Proposed rules (the `VipRules.stored()` shape; fields left out keep the defaults'),
    checked; a field out of range or badly formed is refused with a sentence."""
    unknown = sorted(set(data) - set(EDITABLE))
    if unknown:
        raise Invalid(f"Unknown VIP rule field(s): {escape(', '.join(unknown)[:200])}.")
    clean: dict[str, Any] = {}
    for name, value in data.items():
        if name in RANGES:
            clean[name] = _whole(name, value)
        elif name == "attendance_rate":
            clean[name] = _rate(value)
        elif name == "tag_points":
            clean[name] = _points(value, "tag", MAX_TAGS)
        elif name == "seniority_points":
            clean[name] = _points(value, "seniority", MAX_SENIORITIES)
        elif name == "companies":
            clean[name] = _companies(value)
    return defaults.with_stored(clean)


async def current(caller: Caller, session: AsyncSession, *, defaults: VipRules) -> VipRulesState:
    """The org's effective rules (every member may read them)."""
    row = await session.scalar(select(OrgVipRules).where(OrgVipRules.org_id == caller.org_id))
    if row is None:
        return VipRulesState(defaults, own=False)
    return VipRulesState(
        defaults.with_stored(row.rules),
        own=True,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


async def preview(
    caller: Caller, session: AsyncSession, data: Mapping[str, Any], *, defaults: VipRules
) -> VipPreview:
    """Who the proposed rules would make a VIP, and who would stop being one; nothing saved."""
    proposed = checked(defaults, data)
    now = await org_rules.vip_rules_for(session, org_id=caller.org_id, defaults=defaults)
    return await org_rules.preview(session, org_id=caller.org_id, current=now, proposed=proposed)


def _changes(before: VipRules, after: VipRules) -> dict[str, tuple[Any, Any]]:
    old, new = before.stored(), after.stored()
    return {name: (old[name], new[name]) for name in EDITABLE if old[name] != new[name]}


def _detail(changes: Mapping[str, tuple[Any, Any]]) -> str:
    return "; ".join(
        f"{name}: {json.dumps(old)} -> {json.dumps(new)}" for name, (old, new) in changes.items()
    )[:2000]


async def save(
    caller: Caller, session: AsyncSession, data: Mapping[str, Any], *, defaults: VipRules
) -> Saved:
    """Admins: the org's rules become these (fields left out keep the defaults'). Unchanged
    rules write nothing; a change leaves one audit row naming each field, old and new."""
    caller.require_admin()
    proposed = checked(defaults, data)
    before = await current(caller, session, defaults=defaults)
    changes = _changes(before.rules, proposed)
    if not changes:
        return Saved(before, ())
    await org_rules.save_rules(
        session, org_id=caller.org_id, rules=proposed, user_id=caller.user_id
    )
    await audit.record(
        caller,
        session,
        "vip_rules_saved",
        {"fields": sorted(changes)},
        detail=_detail(changes),
    )
    return Saved(await current(caller, session, defaults=defaults), tuple(sorted(changes)))


async def reset(caller: Caller, session: AsyncSession, *, defaults: VipRules) -> Saved:
    """Admins: back to the settings' defaults (audited with what that changed)."""
    caller.require_admin()
    before = await current(caller, session, defaults=defaults)
    if not before.own:
        return Saved(before, ())
    changes = _changes(before.rules, defaults)
    await org_rules.clear_rules(session, org_id=caller.org_id)
    await audit.record(
        caller,
        session,
        "vip_rules_reset",
        {"fields": sorted(changes)},
        detail=_detail(changes),
    )
    return Saved(VipRulesState(defaults, own=False), tuple(sorted(changes)))


# --- the portal's text fields -----------------------------------------------------------------


def parse_points(text: str, what: str) -> dict[str, int]:
    """`vip=100, speaker 50` (commas or lines; `=`, `:` or a space) as names and points."""
    found: dict[str, int] = {}
    for part in re.split(r"[,\n;]+", text):
        if not part.strip():
            continue
        match = re.fullmatch(r"\s*#?([^=:\s]+)\s*[=:\s]\s*(-?\d{1,7})\s*", part)
        if match is None:
            raise Invalid(
                f"Write the {what} points as name=points, separated by commas "
                f"(like vip=100, speaker=50); “{escape(part.strip()[:40])}” is not."
            )
        found[match[1]] = int(match[2])
    return found


def parse_companies(text: str) -> list[str]:
    """Company names or email domains, separated by commas or lines."""
    return [name.strip() for name in re.split(r"[,\n;]+", text) if name.strip()]


def points_text(points: Mapping[str, int]) -> str:
    return ", ".join(f"{name}={value}" for name, value in points.items())
