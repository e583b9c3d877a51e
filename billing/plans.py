"""Plans come from configuration, not code: a JSON file (BILLING_PLANS_FILE) or the default
`billing/plans.json` beside this module.

A limit of `null` in the file means "no limit". Plans are ordered cheapest first, so a
message can name the next plan up, and `free_plan` is what an org falls back to when its
subscription ends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DEFAULT_PLANS_FILE = Path(__file__).with_name("plans.json")

_LIMIT_FIELDS = (
    "calendars",
    "min_sync_interval_minutes",
    "max_bulk_guests",
    "gemini_questions_per_day",
    "linked_chats",
    "team_members",
)


class PlanConfigError(ValueError):
    """The plans file cannot be used; the text says which plan and field are wrong."""


@dataclass(frozen=True)
class Plan:
    """What one plan allows; `None` for a limit means unlimited."""

    key: str
    name: str
    calendars: int | None
    min_sync_interval_minutes: int | None
    max_bulk_guests: int | None
    gemini_questions_per_day: int | None
    enrichment: bool
    linked_chats: int | None
    team_members: int | None
    stripe_price_id: str | None = None

    def limits(self) -> dict[str, Any]:
        """The plan as plain data, for the API and the web portal."""
        data: dict[str, Any] = {field: getattr(self, field) for field in _LIMIT_FIELDS}
        data["enrichment"] = self.enrichment
        return {"plan": self.key, "name": self.name, **data}


@dataclass(frozen=True)
class PlanCatalog:
    """Every plan, cheapest first."""

    plans: tuple[Plan, ...]
    free_plan: str

    def get(self, key: str) -> Plan | None:
        wanted = key.strip().lower()
        return next((plan for plan in self.plans if plan.key == wanted), None)

    def __getitem__(self, key: str) -> Plan:
        plan = self.get(key)
        if plan is None:
            raise KeyError(key)
        return plan

    @property
    def free(self) -> Plan:
        return self[self.free_plan]

    def for_price(self, price_id: str | None) -> Plan | None:
        """The plan a Stripe price stands for (subscription updates name prices, not plans)."""
        if not price_id:
            return None
        return next((plan for plan in self.plans if plan.stripe_price_id == price_id), None)

    def purchasable(self) -> list[Plan]:
        return [plan for plan in self.plans if plan.stripe_price_id]

    def upgrades_from(self, current: Plan) -> list[Plan]:
        """The plans above `current` that can be bought, cheapest first."""
        keys = [plan.key for plan in self.plans]
        above = self.plans[keys.index(current.key) + 1 :] if current.key in keys else self.plans
        return [plan for plan in above if plan.stripe_price_id]


def _limit(raw: dict[str, Any], key: str, field: str) -> int | None:
    value = raw.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PlanConfigError(f"plan {key!r}: {field} must be a whole number ≥ 0 or null")
    return value


def parse_catalog(data: dict[str, Any]) -> PlanCatalog:
    """Validate the plans document (see billing/plans.json) into a catalog."""
    raw_plans = data.get("plans")
    if not isinstance(raw_plans, dict) or not raw_plans:
        raise PlanConfigError("the plans file needs a non-empty object `plans`")
    order = data.get("order") or list(raw_plans)
    if sorted(order) != sorted(raw_plans):
        raise PlanConfigError("`order` must list every plan exactly once")
    plans = []
    for key in order:
        raw = raw_plans[key]
        if not isinstance(raw, dict):
            raise PlanConfigError(f"plan {key!r} must be an object")
        plans.append(
            Plan(
                key=str(key).lower(),
                name=str(raw.get("name") or key),
                enrichment=bool(raw.get("enrichment", False)),
                stripe_price_id=raw.get("stripe_price_id") or None,
                **{field: _limit(raw, key, field) for field in _LIMIT_FIELDS},
            )
        )
    free_plan = str(data.get("free_plan") or order[0]).lower()
    catalog = PlanCatalog(tuple(plans), free_plan)
    if catalog.get(free_plan) is None:
        raise PlanConfigError(f"free_plan {free_plan!r} is not one of the plans")
    return catalog


@lru_cache(maxsize=8)
def load_catalog(path: Path | None = None) -> PlanCatalog:
    """The plans of `path` (default: billing/plans.json), read once per process."""
    source = path or DEFAULT_PLANS_FILE
    try:
        data = json.loads(Path(source).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise PlanConfigError(f"cannot read the plans file {source}: {exc}") from None
    return parse_catalog(data)
