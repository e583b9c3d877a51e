"""Liveness (the process answers) and readiness (its database and Temporal answer too)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import DepsDep
from api.schemas import Health, Readiness

log = logging.getLogger("lumabot.api")
router = APIRouter(tags=["health"])

CHECK_TIMEOUT = 3.0


@router.get("/healthz", summary="The process is up")
async def healthz() -> Health:
    return Health()


async def _database_ok(deps: DepsDep) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT), deps.sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; the type says why
        log.warning("Readiness: database down (%s)", type(exc).__name__)
        return False
    return True


async def _temporal_ok(deps: DepsDep) -> bool:
    service = deps.automations.client.service_client
    try:
        return await service.check_health(timeout=timedelta(seconds=CHECK_TIMEOUT))
    except Exception as exc:  # any failure means "not ready"; the type says why
        log.warning("Readiness: Temporal down (%s)", type(exc).__name__)
        return False


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="The database and Temporal are reachable",
    responses={503: {"model": Readiness, "description": "something is down"}},
)
async def readyz(deps: DepsDep) -> JSONResponse:
    database, temporal = await asyncio.gather(_database_ok(deps), _temporal_ok(deps))
    report = Readiness(
        status="ok" if database and temporal else "unavailable",
        database="ok" if database else "down",
        temporal="ok" if temporal else "down",
    )
    return JSONResponse(report.model_dump(), status_code=200 if report.status == "ok" else 503)
