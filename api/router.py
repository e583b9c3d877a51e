"""The one router that includes every resource's routes, with the errors each can answer."""

from __future__ import annotations

from fastapi import APIRouter

from api.errors import error_responses
from api.routes import (
    automations,
    codec,
    events,
    guests,
    health,
    invites,
    jobs,
    policies,
    stripe,
    vip_rules,
    webhooks,
)
from api.routes import trends as trends_routes

api_router = APIRouter()
for module in (events, guests, jobs, automations, policies, invites, vip_rules):
    api_router.include_router(
        module.router, responses=error_responses(400, 401, 404, 409, 413, 422, 429, 503)
    )
api_router.include_router(webhooks.router, responses=error_responses(400, 401, 404, 413, 422, 503))
api_router.include_router(stripe.router, responses=error_responses(400, 401, 404, 409, 422, 429))
api_router.include_router(
    trends_routes.router, responses=error_responses(400, 401, 413, 422, 429, 503)
)
api_router.include_router(health.router)
api_router.include_router(codec.router)  # operators only, outside the OpenAPI schema
