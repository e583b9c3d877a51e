"""`GET /metrics`: the API's Prometheus metrics (`core.metrics`; every worker process's, added
together, under `lumabot api --workers N`), not in the OpenAPI docs.

With METRICS_TOKEN set it wants `Authorization: Bearer <METRICS_TOKEN>`; without one it is
open in development and absent (404) in production, where Prometheus scrapes METRICS_PORT
inside the deployment's network instead (docker-compose.yml).
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.errors import ApiError
from core.metrics import registry
from core.settings import Environment, Settings


def install_metrics(app: FastAPI, settings: Settings) -> None:
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    if token is None and settings.environment is not Environment.DEVELOPMENT:
        return
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        if token is not None:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.encode(), token.encode()
            ):
                raise ApiError(
                    401,
                    "Send `Authorization: Bearer <METRICS_TOKEN>` to read the metrics.",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return Response(generate_latest(registry()), media_type=CONTENT_TYPE_LATEST)

    app.include_router(router)
