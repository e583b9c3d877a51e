"""`/_sim/` endpoints: inspect and steer a simulator running in another process.

Benchmarks and crash tests run workers in separate processes, so what tests do in-process
through `SimulatorState` (read the write log, change limits, create a big event) is also
offered over HTTP. No Luma key is needed: this is a local test double.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from standins.luma import shapes
from standins.luma.model import ApiError
from standins.luma.state import RUNTIME_FIELDS, OrganizationHandle, SimulatorState


class ConfigPatch(BaseModel):
    """Runtime knobs; only the fields sent are changed (null lifts a rate limit)."""

    model_config = ConfigDict(extra="forbid")

    rate_limit: int | None = Field(default=None, ge=1)
    org_rate_limit: int | None = Field(default=None, ge=1)
    rate_window_seconds: float | None = Field(default=None, gt=0)
    rate_block_seconds: float | None = Field(default=None, ge=0)
    rate_headers: bool | None = None
    latency_seconds: float | None = Field(default=None, ge=0)
    error_rate: float | None = Field(default=None, ge=0, le=1)
    timeout_rate: float | None = Field(default=None, ge=0, le=1)
    hang_seconds: float | None = Field(default=None, ge=0)
    timeouts_apply_writes: bool | None = None
    webhook_url: str | None = None
    reset_rate_limits: bool = False


class OrganizationSpec(BaseModel):
    """An organization to create: its key opens `calendars` new calendars."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    calendars: int = Field(default=3, ge=1, le=20)
    events_per_calendar: int = Field(default=0, ge=0, le=100)
    guests_per_event: int | None = Field(default=None, ge=0, le=5_000)


class EventSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calendar_id: str
    name: str | None = None
    city: str | None = None
    start_at: datetime | None = None
    guests: int = Field(default=0, ge=0, le=200_000)
    status_mix: dict[str, float] | None = None
    paid_share: float = Field(default=0.0, ge=0, le=1)
    checked_in_share: float | None = Field(default=None, ge=0, le=1)


def control_router(state: SimulatorState) -> APIRouter:
    router = APIRouter(prefix="/_sim", tags=["simulator control"])

    @router.get("/calendars")
    async def calendars() -> list[dict[str, Any]]:
        return [
            {
                "id": handle.id,
                "name": handle.name,
                "api_key": handle.api_key,
                "organization_id": handle.organization_id,
                "events": len(state.calendar(handle.id).events),
            }
            for handle in state.calendars
        ]

    @router.get("/organizations")
    async def organizations() -> list[dict[str, Any]]:
        return [_organization_json(handle) for handle in state.organizations]

    @router.post("/organizations")
    async def create_organization(spec: OrganizationSpec) -> dict[str, Any]:
        """An organization with its key and calendars (each with its own key too)."""
        handle = state.add_organization(
            spec.name,
            calendars=spec.calendars,
            events=spec.events_per_calendar,
            guests_per_event=spec.guests_per_event,
        )
        return _organization_json(handle)

    @router.get("/writes")
    async def writes(since: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
        return {
            "entries": [shapes.write_record(r) for r in state.writes_since(since)],
            "total": len(state.writes),
        }

    @router.get("/stats")
    async def stats() -> dict[str, Any]:
        return state.stats()

    @router.get("/config")
    async def get_config() -> dict[str, Any]:
        return _runtime_config(state)

    @router.post("/config")
    async def patch_config(patch: ConfigPatch) -> dict[str, Any]:
        changes = patch.model_dump(exclude_unset=True)
        if changes.pop("reset_rate_limits", False):
            state.reset_rate_limits()
        state.configure(**changes)
        return _runtime_config(state)

    @router.get("/events")
    async def list_events(calendar_id: str) -> list[dict[str, Any]]:
        """A calendar's events by name, so a demo adds its showcase events only once."""
        try:
            calendar = state.calendar(calendar_id)
        except KeyError:
            raise ApiError(404, f"Unknown calendar {calendar_id}") from None
        return [
            {"id": event.id, "name": event.name, "guests": len(event.guests)}
            for event in calendar.events.values()
        ]

    @router.post("/events")
    async def create_event(spec: EventSpec) -> dict[str, Any]:
        event_id = state.add_event(**spec.model_dump())
        return {"id": event_id, "guests": len(state.event(event_id).guests)}

    return router


def _organization_json(handle: OrganizationHandle) -> dict[str, Any]:
    return {
        "id": handle.id,
        "name": handle.name,
        "api_key": handle.api_key,
        "calendars": [
            {"id": calendar.id, "name": calendar.name, "api_key": calendar.api_key}
            for calendar in handle.calendars
        ],
    }


def _runtime_config(state: SimulatorState) -> dict[str, Any]:
    return {name: getattr(state.config, name) for name in sorted(RUNTIME_FIELDS)}
