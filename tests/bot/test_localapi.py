"""The local Bot API server, driven by a real aiogram Bot and Dispatcher.

The router below is a tiny stand-in bot. Tests play its users with `user_says` and
`user_presses` and assert on what it sent, the way the real bot's tests do.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import httpx
import pytest
from aiogram import Bot, Dispatcher, F, Router, html
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNotFound,
)
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.methods import SendMessage
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    WebhookInfo,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from standins.telegram import BotApiState, LocalBotApi, running_local_api
from standins.telegram.formatting import render
from standins.telegram.media import image_size
from standins.telegram.webhooks import SECRET_HEADER

USER = 1001
OTHER_USER = 1002
GROUP = -1_001_234_567_890
CSV = b"name,email\nAda,ada@example.com\n"
T = TypeVar("T")


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    pixels = b"".join(b"\x00" + b"\x00\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )


PNG = _png(3, 2)


class Decision(CallbackData, prefix="decide"):
    action: str
    guest: int


def build_router() -> Router:
    router = Router()

    @router.message(Command("ask"))
    async def ask(message: Message) -> None:
        keyboard = InlineKeyboardBuilder()
        keyboard.button(text="Approve", callback_data=Decision(action="approve", guest=7))
        keyboard.button(text="Decline", callback_data=Decision(action="decline", guest=7))
        await message.answer("Approve <b>Ada</b>?", reply_markup=keyboard.as_markup())

    @router.callback_query(Decision.filter())
    async def decide(query: CallbackQuery, callback_data: Decision) -> None:
        assert isinstance(query.message, Message)
        await query.message.edit_text(f"Guest {callback_data.guest}: {callback_data.action}d")
        await query.answer("Done")

    @router.message(Command("progress"))
    async def progress(message: Message) -> None:
        sent = await message.answer("Working: 0%")
        for percent in (50, 100):
            await sent.edit_text(f"Working: {percent}%")

    @router.message(Command("files"))
    async def files(message: Message) -> None:
        await message.answer_document(
            BufferedInputFile(CSV, "guests.csv"), caption="Guest <i>list</i>"
        )
        await message.answer_photo(BufferedInputFile(PNG, "chart.png"), caption="Chart")

    @router.message(Command("role"))
    async def role(message: Message, bot: Bot) -> None:
        assert message.from_user is not None
        member = await bot.get_chat_member(message.chat.id, message.from_user.id)
        await message.answer(f"You are {member.status}")
        await message.delete()

    @router.message(Command("quick"))
    async def quick(message: Message) -> SendMessage:
        return message.answer("Quick reply")  # a webhook reply: executed by the server

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(html.quote(message.text or ""))

    return router


@pytest.fixture
async def api() -> AsyncIterator[LocalBotApi]:
    async with running_local_api() as api:
        yield api


def _bot(api: LocalBotApi) -> Bot:
    return api.bot(default=DefaultBotProperties(parse_mode=ParseMode.HTML))


@pytest.fixture
async def polling(api: LocalBotApi) -> AsyncIterator[BotApiState]:
    """The stand-in bot, long-polling the local server."""
    dispatcher = Dispatcher()
    dispatcher.include_router(build_router())
    task = asyncio.create_task(
        dispatcher.start_polling(_bot(api), handle_signals=False, polling_timeout=5)
    )
    state = api.state
    assert await state.wait_until(lambda: state.calls("getMe") or None, 5)
    yield state
    await dispatcher.stop_polling()
    await task


async def test_echo_over_long_polling(polling: BotApiState) -> None:
    said = polling.user_says(USER, USER, "Hello <world> & 42")
    reply = await polling.wait_for_reply(USER)

    assert reply.text == "Hello <world> & 42"  # quoted by the bot, unquoted by Telegram
    assert reply.from_bot and reply.chat.type == "private"
    assert reply.message_id == said["message"]["message_id"] + 1
    assert polling.calls("getUpdates")[0].params["allowed_updates"] == [
        "callback_query",
        "message",
    ]

    answer = polling.user_says(USER, USER, "42", reply_to=reply.message_id)
    assert answer["message"]["reply_to_message"]["text"] == reply.text
    assert (await polling.wait_for_reply(USER)).text == "42"  # number-like, still a string


async def test_button_press_edits_the_message_in_place(polling: BotApiState) -> None:
    polling.user_says(USER, USER, "/ask")
    question = await polling.wait_for_reply(USER)
    assert question.text == "Approve Ada?"
    assert question.entities == [{"type": "bold", "offset": 8, "length": 3}]
    with pytest.raises(ValueError, match="offers callback data"):
        polling.user_presses(USER, USER, question.message_id, "decide:approve:8")

    press = polling.user_presses(USER, USER, question.message_id, question.callback_data("Approve"))
    edited = await polling.wait_for_bot_message(USER)

    assert edited.message_id == question.message_id
    assert edited.text == "Guest 7: approved"
    assert edited.edit_date is not None
    assert edited.reply_markup is None  # an edit without markup drops the keyboard
    assert press["callback_query"]["message"]["message_id"] == question.message_id
    assert await polling.wait_until(lambda: polling.callback_answer(press), 5) == {"text": "Done"}
    assert [message.text for message in polling.messages(USER)] == ["Guest 7: approved"]


async def test_progress_edits_are_seen_one_by_one(polling: BotApiState) -> None:
    polling.user_says(USER, USER, "/progress")
    seen = [await polling.wait_for_bot_message(USER) for _ in range(3)]

    assert [message.text for message in seen] == ["Working: 0%", "Working: 50%", "Working: 100%"]
    assert len({message.message_id for message in seen}) == 1


async def test_documents_and_photos_keep_names_bytes_and_captions(polling: BotApiState) -> None:
    polling.user_says(USER, USER, "/files")
    await polling.wait_for_reply(USER, predicate=lambda message: message.photo is not None)

    [document_message] = polling.documents(USER)
    document = document_message.document
    assert document is not None
    assert (document.filename, document.data, document.mime_type) == (
        "guests.csv",
        CSV,
        "text/csv",
    )
    assert document_message.caption == "Guest list"
    assert document_message.caption_entities == [{"type": "italic", "offset": 6, "length": 4}]
    [photo_message] = polling.photos(USER)
    photo = photo_message.photo
    assert photo is not None
    assert (photo.data, photo.width, photo.height) == (PNG, 3, 2)
    assert polling.files[photo.file_id] == photo


async def test_member_status_and_deletion_follow_group_rights(polling: BotApiState) -> None:
    bot_id = polling.default_bot.id
    polling.set_member_status(GROUP, USER, "administrator")
    polling.set_member_status(GROUP, bot_id, "administrator")
    command = polling.user_says(GROUP, USER, "/role")["message"]["message_id"]

    assert (await polling.wait_for_reply(GROUP)).text == "You are administrator"
    assert await polling.wait_until(lambda: polling.was_deleted(GROUP, command) or None, 5)

    polling.set_member_status(GROUP, bot_id, "member")  # no right to delete others' messages
    command = polling.user_says(GROUP, OTHER_USER, "/role")["message"]["message_id"]
    assert (await polling.wait_for_reply(GROUP)).text == "You are member"
    refusals = await polling.wait_until(lambda: polling.calls("deleteMessage")[1:] or None, 5)
    assert refusals is not None
    assert refusals[0].error == "Bad Request: message can't be deleted"
    assert not polling.was_deleted(GROUP, command)


async def test_unsupported_method_raises_and_the_bot_keeps_working(
    api: LocalBotApi, polling: BotApiState
) -> None:
    commands = [BotCommand(command="start", description="Start")]
    polling.unsupported.add("setMyCommands")
    async with _bot(api) as bot:
        with pytest.raises(TelegramNotFound, match="method not found"):
            await bot.set_my_commands(commands)

        polling.user_says(USER, USER, "still there?")
        assert (await polling.wait_for_reply(USER)).text == "still there?"

        polling.unsupported.clear()
        assert await bot.set_my_commands(commands)
        assert [command.command for command in await bot.get_my_commands()] == ["start"]


async def test_refuses_what_telegram_refuses(api: LocalBotApi) -> None:
    async with _bot(api) as bot:
        with pytest.raises(TelegramBadRequest, match="chat not found"):
            await bot.send_message(USER, "hi")
        api.state.add_chat(USER)
        with pytest.raises(TelegramBadRequest, match="can't parse entities"):
            await bot.send_message(USER, "a < b")
        too_long = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="x" * 65)]]
        )
        with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
            await bot.send_message(USER, "pick", reply_markup=too_long)
        sent = await bot.send_message(USER, "  same  ")
        assert sent.text == "same"
        with pytest.raises(TelegramBadRequest, match="message is not modified"):
            await bot.edit_message_text("same", chat_id=USER, message_id=sent.message_id)
        with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
            await bot.send_photo(USER, BufferedInputFile(CSV, "chart.png"))
        api.state.set_member_status(USER, USER, "kicked")  # the person blocked the bot
        with pytest.raises(TelegramForbiddenError, match="blocked by the user"):
            await bot.send_message(USER, "hi")
        api.state.user_says(USER, USER, "/start")  # writing to the bot unblocks it
        assert await bot.send_message(USER, "welcome back")


async def test_get_updates_long_polls_confirms_and_limits(api: LocalBotApi) -> None:
    state = api.state
    url = f"/bot{state.default_bot.token}/getUpdates"
    async with httpx.AsyncClient(base_url=api.base_url) as client:
        # The poll asks to wait 60 s; answering within 20 s of the update proves it returned
        # on the update, not at its timeout, with room for a loaded machine.
        waiting = asyncio.create_task(client.post(url, data={"timeout": "60"}, timeout=90))
        await asyncio.sleep(0.2)
        assert not waiting.done()  # it waits for an update
        first = state.user_says(USER, USER, "one")
        async with asyncio.timeout(20):
            assert (await waiting).json() == {"ok": True, "result": [first]}

        second = state.user_says(USER, USER, "two")
        third = state.user_says(USER, USER, "three")
        page = await client.post(url, json={"offset": first["update_id"] + 1, "limit": 1})
        assert page.json()["result"] == [second]
        rest = await client.get(url, params={"offset": second["update_id"] + 1})
        assert rest.json()["result"] == [third]

        # Kinds the bot did not ask for are dropped, as Telegram drops them.
        filtered = await client.post(
            url,
            data={"offset": str(third["update_id"] + 1), "allowed_updates": '["edited_message"]'},
        )
        assert filtered.json()["result"] == []
        state.user_says(USER, USER, "four")
        assert (await client.post(url)).json()["result"] == []


async def test_each_token_is_its_own_bot(api: LocalBotApi) -> None:
    other = api.state.add_bot("777:OTHER-token", username="other_bot")
    async with httpx.AsyncClient(base_url=api.base_url) as client:
        me = (await client.get("/bot777:OTHER-token/getMe")).json()["result"]
        assert (me["id"], me["username"]) == (777, "other_bot")
        assert (await client.get("/bot777:WRONG/getMe")).json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }
        update = api.state.user_says(USER, USER, "to the other bot", bot=other.id)
        default = await client.get(f"/bot{api.state.default_bot.token}/getUpdates")
        assert default.json()["result"] == []
        mine = await client.get("/bot777:OTHER-token/getUpdates")
        assert mine.json()["result"] == [update]


async def test_webhook_delivers_with_the_secret_and_retries(api: LocalBotApi) -> None:
    state = api.state
    dispatcher = Dispatcher()
    dispatcher.include_router(build_router())
    seen_secrets: list[str | None] = []
    async with _bot(api) as bot:
        # aiogram's own handler checks the secret and sends foreground replies as multipart.
        handler = SimpleRequestHandler(
            dispatcher=dispatcher, bot=bot, secret_token="s3cret", handle_in_background=False
        )

        async def receive(request: web.Request) -> web.StreamResponse:
            seen_secrets.append(request.headers.get(SECRET_HEADER))
            return await handler.handle(request)

        app = web.Application()
        app.router.add_post("/hook", receive)
        async with _serving(app) as url:
            await bot.set_webhook(f"{url}/hook", secret_token="wrong")
            with pytest.raises(TelegramConflictError):
                await bot.get_updates()
            state.user_says(USER, USER, "hello hook")
            info = await _wait_for(lambda: _webhook_error(bot), 5)
            assert info.last_error_message == "Wrong response from the webhook: 401 Unauthorized"
            assert info.pending_update_count == 1

            await bot.set_webhook(f"{url}/hook", secret_token="s3cret")
            assert (await state.wait_for_reply(USER)).text == "hello hook"
            state.user_says(USER, USER, "/quick")
            assert (await state.wait_for_reply(USER)).text == "Quick reply"
            assert (await bot.get_webhook_info()).pending_update_count == 0
        assert seen_secrets[0] == "wrong"
        assert seen_secrets[-1] == "s3cret"


async def _webhook_error(bot: Bot) -> WebhookInfo | None:
    info = await bot.get_webhook_info()
    return info if info.last_error_message else None


async def _wait_for(probe: Callable[[], Awaitable[T | None]], seconds: float) -> T:
    async with asyncio.timeout(seconds):
        while (found := await probe()) is None:
            await asyncio.sleep(0.05)
        return found


@contextlib.asynccontextmanager
async def _serving(app: web.Application) -> AsyncIterator[str]:
    """Serve an aiohttp app on a free local port; yields its base URL."""
    runner = web.AppRunner(app)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        await runner.setup()
        await web.SockSite(runner, sock).start()
        try:
            yield f"http://127.0.0.1:{sock.getsockname()[1]}"
        finally:
            await runner.cleanup()


async def test_local_endpoints_drive_the_bot_from_outside(
    api: LocalBotApi, polling: BotApiState
) -> None:
    async with httpx.AsyncClient(base_url=f"{api.base_url}/_local") as client:
        await client.post("/users", json={"id": USER, "first_name": "Ada", "username": "ada"})
        said = await client.post(
            "/updates", json={"kind": "message", "chat": USER, "user": USER, "text": "/ask"}
        )
        assert said.json()["result"]["message"]["from"]["first_name"] == "Ada"
        events = (await client.get("/messages", params={"chat_id": USER, "timeout": 5})).json()
        [sent] = events["result"]
        assert (sent["kind"], sent["message"]["text"]) == ("sent", "Approve Ada?")

        button = sent["message"]["reply_markup"]["inline_keyboard"][0][1]
        press = {"kind": "callback", "chat": USER, "user": USER}
        press |= {"message_id": sent["message"]["message_id"], "data": button["callback_data"]}
        assert (await client.post("/updates", json=press)).json()["ok"]
        later = await client.get(
            "/messages", params={"chat_id": USER, "since": sent["seq"], "timeout": 5}
        )
        [edited] = later.json()["result"]
        assert (edited["kind"], edited["message"]["text"]) == ("edited", "Guest 7: declined")

        refused = await client.post("/updates", json=press)  # the keyboard is gone now
        assert (refused.status_code, refused.json()["ok"]) == (400, False)

        await client.post(
            "/updates", json={"kind": "message", "chat": USER, "user": USER, "text": "/files"}
        )
        await polling.wait_for_reply(USER, predicate=lambda message: message.photo is not None)
        [upload] = (await client.get("/calls", params={"method": "sendDocument"})).json()["result"]
        assert upload["params"]["document"] == {"filename": "guests.csv", "size": len(CSV)}
        [document] = polling.documents(USER)
        assert document.document is not None
        downloaded = await client.get(f"/files/{document.document.file_id}")
        assert downloaded.content == CSV


@pytest.mark.parametrize(
    ("source", "text", "entities"),
    [
        (
            '<b>bold <i>both</i></b> <a href="https://lu.ma">Luma</a>',
            "bold both Luma",
            [
                {"type": "bold", "offset": 0, "length": 9},
                {"type": "italic", "offset": 5, "length": 4},
                {"type": "text_link", "url": "https://lu.ma", "offset": 10, "length": 4},
            ],
        ),
        ("🎉 <u>x</u>", "🎉 x", [{"type": "underline", "offset": 3, "length": 1}]),
        (
            '<pre><code class="language-python">x = 1</code></pre>',
            "x = 1",
            [{"type": "pre", "language": "python", "offset": 0, "length": 5}],
        ),
        ("  <b> padded </b> ", "padded", [{"type": "bold", "offset": 0, "length": 6}]),
        ("&lt;&#65;&amp;&gt; &nbsp;", "<A&> &nbsp;", []),
    ],
)
def test_html_becomes_text_and_utf16_entities(
    source: str, text: str, entities: list[dict[str, object]]
) -> None:
    assert render(source, "HTML", None) == (text, entities)


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("<blink>x</blink>", 'Unsupported start tag "blink" at byte offset 0'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("é</b>", "Unexpected end tag at byte offset 2"),
    ],
)
def test_malformed_html_is_refused_like_telegram(source: str, error: str) -> None:
    with pytest.raises(Exception, match="can't parse entities") as refused:
        render(source, "HTML", None)
    assert str(refused.value).endswith(error)


def test_image_sizes_come_from_headers() -> None:
    jpeg = (
        b"\xff\xd8"
        + b"\xff\xe0\x00\x04\x00\x00"
        + b"\xff\xc0\x00\x11\x08"
        + struct.pack(">HH", 20, 30)
    )
    assert image_size(jpeg) == (30, 20)
    assert image_size(PNG) == (3, 2)
    assert image_size(b"GIF89a" + struct.pack("<HH", 5, 6)) == (5, 6)
    assert image_size(CSV) is None
