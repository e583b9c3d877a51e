"""`/_local/` endpoints: play the users and watch the bot from another process.

The demo console runs apart from the server, so what tests do in-process through
`BotApiState` (say something, press a button, read what the bot sent) is offered over HTTP
too. Answers use the Bot API envelope so one client helper reads both.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from standins.telegram.media import UploadedFile
from standins.telegram.state import BotApiState, Json, MemberStatus

LONG_POLL_LIMIT = 60.0


class UpdateIn(BaseModel):
    """A user's action: a `message` with text, or a `callback` press of a button."""

    kind: Literal["message", "callback"]
    chat: int
    user: int
    text: str | None = None
    reply_to: int | None = None
    message_id: int | None = None  # the message whose button is pressed
    data: str | None = None  # the button's callback data
    bot: int | None = None  # bot id; the default bot when omitted


class UserIn(BaseModel):
    id: int
    first_name: str | None = None
    username: str | None = None


class ChatIn(BaseModel):
    id: int
    title: str | None = None


class MemberIn(BaseModel):
    chat_id: int
    user_id: int
    status: MemberStatus


def _ok(result: Any) -> Json:
    return {"ok": True, "result": result}


def _refused(error: Exception) -> JSONResponse:
    return JSONResponse(
        {"ok": False, "error_code": 400, "description": f"Bad Request: {error}"}, status_code=400
    )


def control_router(state: BotApiState) -> APIRouter:
    router = APIRouter(prefix="/_local", tags=["local control"])

    @router.post("/updates")
    async def post_update(body: UpdateIn) -> Any:
        try:
            if body.kind == "message":
                update = state.user_says(
                    body.chat, body.user, body.text or "", reply_to=body.reply_to, bot=body.bot
                )
            elif body.message_id is None or body.data is None:
                raise ValueError("a callback needs message_id and data")
            else:
                update = state.user_presses(body.chat, body.user, body.message_id, body.data)
        except ValueError as error:
            return _refused(error)
        return _ok(update)

    @router.get("/messages")
    async def get_messages(
        chat_id: int | None = None,
        since: int = 0,
        timeout: float = 0.0,  # noqa: ASYNC109 - a query parameter: the long-poll length
    ) -> Json:
        """The bot's sends, edits and deletions after event `since`; waits up to `timeout`
        seconds for the first one. Pass the last `seq` seen as the next `since`."""
        events = await state.wait_until(
            lambda: state.events(since=since, chat_id=chat_id) or None,
            min(timeout, LONG_POLL_LIMIT),
        )
        return _ok([event.to_api() for event in events or []])

    @router.get("/calls")
    async def get_calls(method: str | None = None) -> Json:
        return _ok(
            [
                {
                    "bot_id": call.bot_id,
                    "method": call.method,
                    "params": {name: _jsonable(value) for name, value in call.params.items()},
                    "at": call.at,
                    "error": call.error,
                }
                for call in state.calls(method)
            ]
        )

    @router.get("/files/{file_id}")
    async def get_file(file_id: str) -> Response:
        stored = state.files.get(file_id)
        if stored is None:
            return _refused(ValueError("wrong file identifier"))
        return Response(
            stored.data,
            media_type=stored.mime_type,
            headers={"Content-Disposition": f'attachment; filename="{stored.filename}"'},
        )

    @router.post("/users")
    async def post_user(body: UserIn) -> Json:
        return _ok(
            state.add_user(body.id, first_name=body.first_name, username=body.username).to_api()
        )

    @router.post("/chats")
    async def post_chat(body: ChatIn) -> Json:
        return _ok(state.add_chat(body.id, title=body.title).to_api())

    @router.post("/members")
    async def post_member(body: MemberIn) -> Json:
        state.set_member_status(body.chat_id, body.user_id, body.status)
        return _ok(True)

    return router


def _jsonable(value: Any) -> Any:
    if isinstance(value, UploadedFile):
        return {"filename": value.filename, "size": len(value.data)}
    return value
