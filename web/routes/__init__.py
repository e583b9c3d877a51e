"""The portal's pages, one module per page, joined under /web."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from web.render import see_other
from web.routes import (
    automations,
    crm,
    events,
    followup_templates,
    gmail,
    guests,
    invites,
    jobs,
    key,
    people,
    plan,
    policies,
    signin,
    team,
    vip_rules,
)

router = APIRouter(prefix="/web", include_in_schema=False)


@router.get("")
async def home() -> RedirectResponse:
    return see_other("/web/events")


for module in (
    signin,
    events,
    guests,
    invites,
    policies,
    people,
    jobs,
    automations,
    vip_rules,
    followup_templates,
    crm,
    team,
    key,
    gmail,
    plan,
):
    router.include_router(module.router)
