"""Trends of the token's org: registrations, approvals and attendance, from the cache."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentOrg, SessionDep
from api.schemas import TimeZone
from intel.trends import Dimension, trends
from store.models import utcnow

router = APIRouter(prefix="/v1/trends", tags=["trends"])


class TrendQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: Dimension = Field(Dimension.MONTH, description="what to group the org's guests by")
    timezone: TimeZone = Field("UTC", description="the zone months are counted in")
    limit: int = Field(12, ge=1, le=200, description="latest months/events, or the top groups")


class TrendRowPublic(BaseModel):
    key: str
    events: int
    registered: int
    approved: int
    attended: int
    no_shows: int
    approval_rate: float | None
    attendance_rate: float | None = Field(description="attended / approved at events over")
    no_show_rate: float | None


class TrendsPublic(BaseModel):
    by: Dimension
    rows: list[TrendRowPublic]
    total: TrendRowPublic
    more: int = Field(description="groups left out by the limit")


@router.get("", summary="Registrations, approvals and attendance by event, city, month, …")
async def get_trends(
    org_id: CurrentOrg, session: SessionDep, query: Annotated[TrendQuery, Query()]
) -> TrendsPublic:
    report = await trends(
        session,
        org_id=org_id,
        dimension=query.by,
        now=utcnow(),
        timezone=query.timezone,
        limit=query.limit,
    )
    return TrendsPublic(
        by=report.dimension,
        rows=[TrendRowPublic(**tally.public()) for tally in report.rows],
        total=TrendRowPublic(**report.total.public()),
        more=report.more,
    )
