"""The org's VIP rules: read, replace, preview, reset (`services.vip_rules`).

The body is the whole rule set (`VipRules.stored()`'s fields), bounded here so a generated or
careless request is refused with a 422 naming the field; `services.vip_rules` checks it again
with the same bounds and the portal's sentences. Tokens are admins', so every holder may save;
a token whose maker is no longer an admin is refused before this (401).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from api.deps import CurrentCaller, DepsDep, SessionDep
from intel.vip_rules import PreviewPerson, VipPreview
from services import vip_rules
from services.vip_rules import (
    COMPANY_MAX,
    MAX_ATTENDED_CAP,
    MAX_COMPANIES,
    MAX_MIN_EVENTS,
    MAX_POINTS,
    MAX_SENIORITIES,
    MAX_TAGS,
    MAX_THRESHOLD,
    SENIORITY_PATTERN,
    VipRulesState,
)
from store.profiles import TAG_PATTERN

router = APIRouter(prefix="/v1/vip-rules", tags=["VIP rules"])

Points = Annotated[StrictInt, Field(ge=0, le=MAX_POINTS)]
TagName = Annotated[str, Field(pattern=TAG_PATTERN.pattern)]
SeniorityName = Annotated[str, Field(pattern=SENIORITY_PATTERN.pattern)]
Company = Annotated[
    str, Field(min_length=1, max_length=COMPANY_MAX, pattern=r"^[^,;\n\r]*[^,;\s][^,;\n\r]*$")
]


class VipRulesBase(BaseModel):
    """Every rule; a person whose points reach `threshold` is a VIP."""

    model_config = ConfigDict(extra="forbid")

    threshold: StrictInt = Field(ge=1, le=MAX_THRESHOLD, description="score that makes a VIP")
    points_per_attended: Points = Field(description="points per event checked in")
    attended_cap: StrictInt = Field(
        ge=1, le=MAX_ATTENDED_CAP, description="attended events counted at most"
    )
    attendance_rate: float = Field(
        gt=0, le=1, strict=True, description="share of past approvals attended for the bonus"
    )
    attendance_rate_points: Points = Field(description="the attendance-rate bonus")
    attendance_rate_min_events: StrictInt = Field(
        ge=1, le=MAX_MIN_EVENTS, description="past approvals needed before the rate counts"
    )
    tag_points: dict[TagName, Points] = Field(
        max_length=MAX_TAGS, description="points per tag of ours (vip, speaker, …)"
    )
    companies: list[Company] = Field(
        max_length=MAX_COMPANIES, description="company names or email domains"
    )
    company_points: Points = Field(description="points for a listed company or domain")
    seniority_points: dict[SeniorityName, Points] = Field(
        max_length=MAX_SENIORITIES, description="points per enrichment seniority (c_suite, vp, …)"
    )


class VipRulesUpdate(VipRulesBase):
    pass


class VipRulesPublic(VipRulesBase):
    own: bool = Field(description="the org's own rules; false: the installation's defaults")
    updated_at: datetime | None = Field(description="when an admin last saved them")


class PreviewPersonPublic(BaseModel):
    email: str
    name: str
    score_before: int
    score_after: int


class VipPreviewPublic(BaseModel):
    people: int = Field(description="people on the org's guest lists")
    vips_before: int
    vips_after: int
    becoming_count: int = Field(description="people the proposed rules make VIPs")
    leaving_count: int = Field(description="VIPs the proposed rules would no longer count")
    becoming: list[PreviewPersonPublic] = Field(description="a few of them, highest score first")
    leaving: list[PreviewPersonPublic]


def _public(state: VipRulesState) -> VipRulesPublic:
    return VipRulesPublic(**state.rules.stored(), own=state.own, updated_at=state.updated_at)


def _person(person: PreviewPerson) -> PreviewPersonPublic:
    return PreviewPersonPublic(
        email=person.email,
        name=person.name,
        score_before=person.score_before,
        score_after=person.score_after,
    )


def _preview(found: VipPreview) -> VipPreviewPublic:
    return VipPreviewPublic(
        people=found.people,
        vips_before=found.vips_before,
        vips_after=found.vips_after,
        becoming_count=found.becoming_count,
        leaving_count=found.leaving_count,
        becoming=[_person(p) for p in found.becoming],
        leaving=[_person(p) for p in found.leaving],
    )


@router.get("", summary="Your organization's VIP rules (its own, or the defaults)")
async def get_vip_rules(
    caller: CurrentCaller, session: SessionDep, deps: DepsDep
) -> VipRulesPublic:
    return _public(await vip_rules.current(caller, session, defaults=deps.vip_rules))


@router.put("", summary="Replace your organization's VIP rules (audited)")
async def put_vip_rules(
    caller: CurrentCaller, deps: DepsDep, body: VipRulesUpdate
) -> VipRulesPublic:
    """Every VIP list, filter, export and approval policy of the org uses them at once."""
    async with deps.sessions.begin() as session:
        saved = await vip_rules.save(caller, session, body.model_dump(), defaults=deps.vip_rules)
    return _public(saved.state)


@router.delete("", summary="Back to the installation's default VIP rules (audited)")
async def reset_vip_rules(caller: CurrentCaller, deps: DepsDep) -> VipRulesPublic:
    async with deps.sessions.begin() as session:
        saved = await vip_rules.reset(caller, session, defaults=deps.vip_rules)
    return _public(saved.state)


@router.post("/preview", summary="Who the proposed rules make or unmake a VIP (nothing saved)")
async def preview_vip_rules(
    caller: CurrentCaller, session: SessionDep, deps: DepsDep, body: VipRulesUpdate
) -> VipPreviewPublic:
    """Scores everyone on the org's guest lists with the current and the proposed rules."""
    found = await vip_rules.preview(caller, session, body.model_dump(), defaults=deps.vip_rules)
    return _preview(found)
