"""The FastAPI application: `create_app(settings)`, served by `lumabot api`.

The lifespan owns the process's clients (database engine, Temporal client) on `app.state`;
tests hand in their own through `deps`. The API never calls Luma itself: reads come from the
cache and every write runs as a workflow, so Luma keys are only ever decrypted by the worker.
OpenAPI docs are at /docs (Swagger UI served from local files, see `api.docs`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from temporalio.client import Client

from api.bodylimit import BodyLimitMiddleware
from api.deps import ApiDeps, ApiLimits
from api.docs import install_docs
from api.errors import install_error_handlers
from api.metrics import install_metrics
from api.router import api_router
from api.routes import unsubscribe
from api.routes.codec import CodecAccess
from api.telegram import bot_webhook
from core.logs import configure_logging
from core.metrics import metrics_served
from core.payload_codec import data_converter
from core.settings import Settings, get_settings
from intel.vip import VipRules
from mailer.unsubscribe import UnsubscribeSigner
from services.automations import Automations, JobDefaults
from services.rubric_reader import rubric_reader
from store.db import PING_AFTER_IDLE_SECONDS, engine_for, session_factory
from store.request_limits import RequestLimits
from web.app import install_web
from web.deps import WebDeps, connect_web

if TYPE_CHECKING:
    pass

DESCRIPTION = (
    "Control API of the Luma Event Intelligence Bot. Authenticate with "
    "`Authorization: Bearer <token>` (create one in the bot with `/token new`). Every route "
    'sees only the token\'s organization; errors are JSON `{"error": {"code", "message"}}`.'
)


@asynccontextmanager
async def connect(settings: Settings, bot_webhook_url: str | None = None) -> AsyncIterator[ApiDeps]:
    """The clients of one API process, closed when it stops.

    Temporal is connected lazily so the API starts (and `/readyz` says what is down) even
    while Temporal is still coming up. With a webhook URL the bot's own clients come up too
    (see `api.telegram`).
    """
    engine = engine_for(settings, ping_after_idle=PING_AFTER_IDLE_SECONDS)
    try:
        client = await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            lazy=True,
            data_converter=data_converter(settings.resolved_payload_keys()),
        )
        automations = Automations(client, JobDefaults.from_settings(settings))
        sessions = session_factory(engine)
        rubric = rubric_reader(settings, sessions)
        async with bot_webhook(settings, bot_webhook_url) as telegram:
            yield ApiDeps(sessions, automations, telegram, VipRules.from_settings(settings), rubric)
        if rubric is not None:
            await rubric.aclose()
    finally:
        await engine.dispose()


def create_app(
    settings: Settings,
    *,
    deps: ApiDeps | None = None,
    limits: ApiLimits | None = None,
    bot_webhook_url: str | None = None,
    web: WebDeps | None = None,
) -> FastAPI:
    """The app; its lifespan connects the clients unless `deps` are handed in (tests)."""
    limits = limits or ApiLimits.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            app.state.deps = deps or await stack.enter_async_context(
                connect(settings, bot_webhook_url)
            )
            app.state.web = web or await stack.enter_async_context(connect_web(settings))
            # The API's and the portal's rates, counted in the database all processes share.
            app.state.limiter = RequestLimits(app.state.deps.sessions)
            # The process's metrics on METRICS_PORT too, where Prometheus scrapes (core.metrics).
            stack.enter_context(metrics_served(settings.metrics_port, settings.metrics_host))
            yield

    app = FastAPI(
        title="Lumabot control API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by `install_docs` from local files, not a CDN
        redoc_url=None,
    )
    app.state.limits = limits
    app.state.unsubscribe = UnsubscribeSigner.from_settings(settings)  # keys read on first use
    app.state.codec = CodecAccess.from_settings(settings)  # likewise
    app.add_middleware(BodyLimitMiddleware, max_bytes=limits.max_body_bytes)
    install_error_handlers(app)
    install_docs(app)
    app.include_router(api_router)
    install_web(app)  # the admin portal under /web
    # Reached from emails, so no API token: the link is signed.
    app.include_router(unsubscribe.router)
    install_metrics(app, settings)  # GET /metrics (api.metrics), not in the OpenAPI docs
    return app


def app_from_environment() -> FastAPI:
    """One worker process's app under `lumabot api --workers N` (uvicorn's factory): the
    settings and logging of the environment the supervisor was started in."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.secret_values(), settings.log_format.value)
    return create_app(settings)
