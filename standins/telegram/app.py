"""The local Bot API server's HTTP face: `/bot{token}/{method}` plus `/_local/` controls.

Every Bot API request, GET or POST, JSON or form, goes through one route that decodes the
parameters, runs the method and answers in Telegram's envelope, so aiogram cannot tell this
server from Telegram's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from standins.telegram import methods
from standins.telegram.control import control_router
from standins.telegram.errors import ApiError
from standins.telegram.state import BotApiState
from standins.telegram.webhooks import run_pusher
from standins.telegram.wire import decode_params


def create_app(state: BotApiState) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pusher = asyncio.create_task(run_pusher(state))
        try:
            yield
        finally:
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pusher

    app = FastAPI(title="Local Telegram Bot API", lifespan=lifespan)
    app.state.bot_api = state
    app.include_router(control_router(state))

    @app.api_route("/bot{token}/{method}", methods=["GET", "POST"])
    async def bot_api(token: str, method: str, request: Request) -> JSONResponse:
        try:
            bot = state.bot_for(token)
            params = await decode_params(request.headers, request.query_params, request.stream())
            result = await methods.call(state, bot, method, params)
        except ApiError as error:
            return JSONResponse(error.envelope(), status_code=error.code)
        return JSONResponse({"ok": True, "result": result})

    return app
