"""The Bot API methods the local server implements, with Telegram's refusals.

Each method takes the state, the calling bot and the decoded parameters, and returns the
`result` Telegram would send. The checks production would make (unknown chat, text too long,
callback data over 64 bytes, an edit that changes nothing, missing rights) are made here
too, with Telegram's wording, so a bot tested locally fails where it would fail for real.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from standins.telegram.errors import ApiError, bad_request
from standins.telegram.flood import SENDING_METHODS
from standins.telegram.formatting import render, utf16_len
from standins.telegram.media import FileKind, StoredFile, UploadedFile
from standins.telegram.state import BotAccount, BotApiState, Chat, ChatMessage, Json, Webhook

_TEXT_LIMITS = {"text": 4096, "caption": 1024}
_BUTTON_ACTIONS = frozenset(
    {
        "callback_data",
        "url",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)
_ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_send_welcome_messages",
)
_ADMINS = ("creator", "administrator")
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


class Params:
    """A request's decoded parameters, read with Telegram's complaints when one is wrong."""

    def __init__(self, values: Json) -> None:
        self.values = values

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def integer(self, name: str, default: int | None = None) -> int:
        value = self.values.get(name, default)
        if value is None:
            raise bad_request(f"{name} is empty")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else str(value)

    def object(self, name: str) -> Json | None:
        value = self.values.get(name)
        if value is not None and not isinstance(value, dict):
            raise bad_request(f"can't parse {name} JSON object")
        return value


Method = Callable[[BotApiState, BotAccount, Params], Awaitable[Any]]
_METHODS: dict[str, tuple[str, Method]] = {}  # by lower-case name: Telegram ignores case


def _method(name: str) -> Callable[[Method], Method]:
    def register(function: Method) -> Method:
        _METHODS[name.lower()] = (name, function)
        return function

    return register


async def call(state: BotApiState, bot: BotAccount, method: str, params: Json) -> Any:
    """Run one Bot API method and log it; ApiError carries Telegram's refusal."""
    name, function = _METHODS.get(method.lower(), (method, None))
    unsupported = {unsupported.lower() for unsupported in state.unsupported}
    try:
        if function is None or name.lower() in unsupported:
            raise ApiError(404, "method not found")
        if state.flood is not None and name.lower() in SENDING_METHODS:
            state.flood.check(bot.id, Params(params).integer("chat_id"))
        result = await function(state, bot, Params(params))
    except ApiError as error:
        state.log_call(bot.id, name, params, error.description)
        raise
    state.log_call(bot.id, name, params)
    return result


# --- the bot itself, updates and webhooks ---------------------------------------------------


@_method("getMe")
async def get_me(state: BotApiState, bot: BotAccount, p: Params) -> Json:
    return {
        **bot.user.to_api(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
    }


@_method("getUpdates")
async def get_updates(state: BotApiState, bot: BotAccount, p: Params) -> list[Json]:
    if bot.webhook is not None:
        raise ApiError(
            409,
            "can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    _set_allowed_updates(bot, p)
    if p.get("offset") is not None:
        bot.confirm(p.integer("offset"))
    limit = min(max(p.integer("limit", 100), 1), 100)
    timeout = max(p.integer("timeout", 0), 0)
    return await state.wait_until(lambda: bot.pending(limit) or None, timeout) or []


@_method("setWebhook")
async def set_webhook(state: BotApiState, bot: BotAccount, p: Params) -> bool:
    url = p.text("url") or ""
    secret = p.text("secret_token")
    if url and not url.startswith(("http://", "https://")):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters")
    _set_allowed_updates(bot, p)
    _drop_pending_if_asked(bot, p)
    # An empty URL removes the webhook, as with Telegram.
    bot.webhook = Webhook(url, secret) if url else None
    state.notify()
    return True


@_method("deleteWebhook")
async def delete_webhook(state: BotApiState, bot: BotAccount, p: Params) -> bool:
    _drop_pending_if_asked(bot, p)
    bot.webhook = None
    return True


@_method("getWebhookInfo")
async def get_webhook_info(state: BotApiState, bot: BotAccount, p: Params) -> Json:
    hook = bot.webhook or Webhook("")
    info = {
        "url": hook.url,
        "has_custom_certificate": False,
        "pending_update_count": len(bot.updates),
        "last_error_date": hook.last_error_date,
        "last_error_message": hook.last_error_message,
        "allowed_updates": sorted(bot.allowed_updates) or None,
    }
    return {key: value for key, value in info.items() if value is not None}


def _set_allowed_updates(bot: BotAccount, p: Params) -> None:
    # Telegram remembers the choice until the next call that passes the parameter.
    allowed = p.get("allowed_updates")
    if allowed is not None:
        bot.allowed_updates = frozenset(allowed)


def _drop_pending_if_asked(bot: BotAccount, p: Params) -> None:
    if p.get("drop_pending_updates"):
        bot.updates.clear()


# --- commands --------------------------------------------------------------------------------


@_method("setMyCommands")
async def set_my_commands(state: BotApiState, bot: BotAccount, p: Params) -> bool:
    commands = p.get("commands")
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON array")
    for command in commands:
        if not (
            isinstance(command, dict)
            and _COMMAND.fullmatch(str(command.get("command", "")))
            and 1 <= len(str(command.get("description", ""))) <= 256
        ):
            raise bad_request("BOT_COMMAND_INVALID")
    bot.commands[_commands_key(p)] = [
        {"command": command["command"], "description": command["description"]}
        for command in commands
    ]
    return True


@_method("getMyCommands")
async def get_my_commands(state: BotApiState, bot: BotAccount, p: Params) -> list[Json]:
    return bot.commands.get(_commands_key(p), [])


@_method("deleteMyCommands")
async def delete_my_commands(state: BotApiState, bot: BotAccount, p: Params) -> bool:
    bot.commands.pop(_commands_key(p), None)
    return True


def _commands_key(p: Params) -> str:
    scope = p.object("scope") or {"type": "default"}
    return f"{json.dumps(scope, sort_keys=True)}|{p.text('language_code') or ''}"


# --- sending ---------------------------------------------------------------------------------


@_method("sendMessage")
async def send_message(state: BotApiState, bot: BotAccount, p: Params) -> Json:
    chat = _writable_chat(state, bot, p)
    text, entities = _required_text(p)
    return state.post(
        chat,
        bot.user,
        text=text,
        entities=entities,
        reply_markup=_inline_markup(p),
        reply_to=_replied(state, chat, p),
    ).to_api()


@_method("sendDocument")
async def send_document(state: BotApiState, bot: BotAccount, p: Params) -> Json:
    return _send_file(state, bot, p, "document")


@_method("sendPhoto")
async def send_photo(state: BotApiState, bot: BotAccount, p: Params) -> Json:
    return _send_file(state, bot, p, "photo")


@_method("sendChatAction")
async def send_chat_action(state: BotApiState, bot: BotAccount, p: Params) -> bool:
    _writable_chat(state, bot, p)
    if p.text("action") not in _CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    return True


def _send_file(state: BotApiState, bot: BotAccount, p: Params, kind: FileKind) -> Json:
    chat = _writable_chat(state, bot, p)
    file = _stored_file(state, p.get(kind), kind)
    caption, caption_entities = _formatted(p, "caption")
    return state.post(
        chat,
        bot.user,
        file=file,
        caption=caption or None,
        caption_entities=caption_entities,
        reply_markup=_inline_markup(p),
        reply_to=_replied(state, chat, p),
    ).to_api()


def _stored_file(state: BotApiState, value: Any, kind: FileKind) -> StoredFile:
    """A fresh upload, or a file the bot sent before, named by its file_id."""
    if isinstance(value, UploadedFile):
        stored = StoredFile.from_upload(kind, value)
        if stored is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        state.files[stored.file_id] = stored
        return stored
    if not value:
        raise bad_request(f"there is no {kind} in the request")
    known = state.files.get(str(value))
    if known is None:
        # Also what a URL gets: this server cannot fetch from the internet.
        raise bad_request("wrong file identifier/HTTP URL specified")
    if known.kind != kind:
        raise bad_request(f"can't use file of type {known.kind.title()} as {kind.title()}")
    return known


# --- editing, deleting, pinning --------------------------------------------------------------


@_method("editMessageText")
async def edit_message_text(state: BotApiState, bot: BotAccount, p: Params) -> Json:
    message = _editable(state, bot, p)
    if message.text is None:
        raise bad_request("there is no text in the message to edit")
    text, entities = _required_text(p)
    # Like Telegram, an edit without reply_markup removes the inline keyboard.
    return _apply_edit(state, message, text=text, entities=entities, reply_markup=_inline_markup(p))


@_method("editMessageCaption")
async def edit_message_caption(state: BotApiState, bot: BotAccount, p: Params) -> Json:
    message = _editable(state, bot, p)
    if message.file is None:
        raise bad_request("there is no caption in the message to edit")
    caption, caption_entities = _formatted(p, "caption")
    return _apply_edit(
        state,
        message,
        caption=caption or None,
        caption_entities=caption_entities,
        reply_markup=_inline_markup(p),
    )


@_method("editMessageReplyMarkup")
async def edit_message_reply_markup(state: BotApiState, bot: BotAccount, p: Params) -> Json:
    return _apply_edit(state, _editable(state, bot, p), reply_markup=_inline_markup(p))


@_method("deleteMessage")
async def delete_message(state: BotApiState, bot: BotAccount, p: Params) -> bool:
    chat = _known_chat(state, p)
    message = _existing(state, chat, p, "message to delete not found")
    if message.sender.id != bot.id and not _may_moderate(state, bot, chat):
        raise bad_request("message can't be deleted")
    state.delete(message)
    return True


@_method("pinChatMessage")
async def pin_chat_message(state: BotApiState, bot: BotAccount, p: Params) -> bool:
    chat = _known_chat(state, p)
    _existing(state, chat, p, "message to pin not found")
    if not _may_moderate(state, bot, chat):
        raise bad_request("not enough rights to manage pinned messages in the chat")
    return True


def _editable(state: BotApiState, bot: BotAccount, p: Params) -> ChatMessage:
    if p.get("inline_message_id") is not None:
        raise bad_request("inline_message_id is not supported by the local Bot API server")
    message = _existing(state, _known_chat(state, p), p, "message to edit not found")
    if message.sender.id != bot.id:
        raise bad_request("message can't be edited")
    return message


def _apply_edit(state: BotApiState, message: ChatMessage, **changes: Any) -> Json:
    if all(getattr(message, name) == value for name, value in changes.items()):
        raise bad_request(_NOT_MODIFIED)
    return state.edit(message, **changes).to_api()


def _existing(state: BotApiState, chat: Chat, p: Params, missing: str) -> ChatMessage:
    message = state.find_message(chat.id, p.integer("message_id"))
    if message is None or message.deleted:
        raise bad_request(missing)
    return message


def _may_moderate(state: BotApiState, bot: BotAccount, chat: Chat) -> bool:
    """In private chats a bot manages everything; in groups it needs to be an admin."""
    return chat.type == "private" or state.member_status(chat.id, bot.id) in _ADMINS


# --- callbacks and chats ---------------------------------------------------------------------


@_method("answerCallbackQuery")
async def answer_callback_query(state: BotApiState, bot: BotAccount, p: Params) -> bool:
    answer = {
        name: p.get(name)
        for name in ("text", "show_alert", "url", "cache_time")
        if p.get(name) is not None
    }
    state.answer_callback(p.text("callback_query_id") or "", answer)
    return True


@_method("getChat")
async def get_chat(state: BotApiState, bot: BotAccount, p: Params) -> Json:
    no_gifts = dict.fromkeys(
        (
            "unlimited_gifts",
            "limited_gifts",
            "unique_gifts",
            "premium_subscription",
            "gifts_from_channels",
        ),
        False,
    )
    return {
        **_known_chat(state, p).to_api(),
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": no_gifts,
    }


@_method("getChatMember")
async def get_chat_member(state: BotApiState, bot: BotAccount, p: Params) -> Json:
    chat = _known_chat(state, p)
    user_id = p.integer("user_id")
    if user_id not in state.users:
        raise bad_request("user not found")
    return _member(state, chat, user_id, state.member_status(chat.id, user_id))


@_method("getChatAdministrators")
async def get_chat_administrators(state: BotApiState, bot: BotAccount, p: Params) -> list[Json]:
    chat = _known_chat(state, p)
    if chat.type == "private":
        raise bad_request("there are no administrators in the private chat")
    return [
        _member(state, chat, user_id, status)
        for user_id, status in state.members(chat.id).items()
        if status in _ADMINS
    ]


def _member(state: BotApiState, chat: Chat, user_id: int, status: str) -> Json:
    member: Json = {"status": status, "user": state.users[user_id].to_api()}
    if status in _ADMINS:
        member["is_anonymous"] = False
    if status == "administrator":
        member.update(can_be_edited=False, **dict.fromkeys(_ADMIN_RIGHTS, True))
    if status == "kicked":
        member["until_date"] = 0  # banned forever
    return member


# --- shared parameter handling ---------------------------------------------------------------


def _known_chat(state: BotApiState, p: Params) -> Chat:
    if p.get("chat_id") is None:
        raise bad_request("chat_id is empty")
    try:
        chat = state.chats.get(int(p.get("chat_id")))
    except ValueError:  # "@username": this server knows chats by id only
        chat = None
    if chat is None:
        raise bad_request("chat not found")
    return chat


def _writable_chat(state: BotApiState, bot: BotAccount, p: Params) -> Chat:
    """A chat the bot may post in: not blocked by the person, not removed from the group."""
    chat = _known_chat(state, p)
    if chat.type == "private" and state.member_status(chat.id, chat.id) == "kicked":
        raise ApiError(403, "bot was blocked by the user")
    if chat.type != "private" and state.member_status(chat.id, bot.id) in ("left", "kicked"):
        raise ApiError(403, f"bot was kicked from the {chat.type} chat")
    return chat


def _required_text(p: Params) -> tuple[str, list[Json]]:
    text, entities = _formatted(p, "text")
    if not text:
        raise bad_request("message text is empty")
    return text, entities


def _formatted(p: Params, field: str) -> tuple[str, list[Json]]:
    """Text or caption as Telegram stores it, from the raw value, parse_mode and entities."""
    entities_field = "entities" if field == "text" else "caption_entities"
    text, entities = render(p.text(field) or "", p.text("parse_mode"), p.get(entities_field))
    if utf16_len(text) > _TEXT_LIMITS[field]:
        raise bad_request(
            "message is too long" if field == "text" else "message caption is too long"
        )
    return text, entities


def _inline_markup(p: Params) -> Json | None:
    """The inline keyboard to echo, checked as Telegram checks it; other markups echo nothing."""
    markup = p.object("reply_markup")
    if markup is None or "inline_keyboard" not in markup:
        return None
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    for button in (button for row in rows for button in row):
        if not isinstance(button, dict) or not button.get("text"):
            raise bad_request("BUTTON_TEXT_INVALID")
        if not _BUTTON_ACTIONS & button.keys():
            raise bad_request(
                "can't parse inline keyboard button: "
                "Text buttons are unallowed in the inline keyboard"
            )
        if "callback_data" in button and not 1 <= len(str(button["callback_data"]).encode()) <= 64:
            raise bad_request("BUTTON_DATA_INVALID")
    return {"inline_keyboard": rows}


def _replied(state: BotApiState, chat: Chat, p: Params) -> ChatMessage | None:
    reply = p.object("reply_parameters") or {}
    message_id = reply.get("message_id", p.get("reply_to_message_id"))
    if message_id is None:
        return None
    replied = state.find_message(chat.id, int(message_id))
    if replied is not None and not replied.deleted:
        return replied
    if reply.get("allow_sending_without_reply") or p.get("allow_sending_without_reply"):
        return None
    raise bad_request("message to be replied not found")
