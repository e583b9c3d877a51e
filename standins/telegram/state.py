"""The in-memory world of the local Bot API server: bots, people, chats, messages, updates.

One object is shared by the HTTP app, which answers the bot's Bot API calls, and by whoever
plays the users: tests in the same event loop, or the demo console through `/_local/`. What a
user does becomes an update queued for the bot; what the bot does becomes an event that
tests wait for. Everything runs in one event loop, so plain dicts and lists are safe.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, get_args

from standins.telegram.errors import ApiError, bad_request
from standins.telegram.flood import FloodLimits
from standins.telegram.formatting import command_entities
from standins.telegram.media import StoredFile

Json = dict[str, Any]
T = TypeVar("T")
EventKind = Literal["sent", "edited", "deleted"]
MemberStatus = Literal["creator", "administrator", "member", "left", "kicked"]
MEMBER_STATUSES: frozenset[str] = frozenset(get_args(MemberStatus))

DEFAULT_TOKEN = "123456:LOCAL-bot-api-token"
_TOKEN = re.compile(r"^(\d+):[\w-]+$")
_SUPERGROUP_IDS_UP_TO = -1_000_000_000_000  # Telegram's "-100…" ids
# Kinds a bot gets only when it asks for them by name in allowed_updates.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


def _now() -> int:
    return int(time.time())


def _without_none(data: Json) -> Json:
    return {key: value for key, value in data.items() if value is not None}


@dataclass(slots=True)
class User:
    id: int
    first_name: str
    username: str | None = None
    is_bot: bool = False

    def to_api(self) -> Json:
        return _without_none(
            {
                "id": self.id,
                "is_bot": self.is_bot,
                "first_name": self.first_name,
                "username": self.username,
            }
        )


@dataclass(slots=True)
class Chat:
    id: int
    type: Literal["private", "group", "supergroup"]
    title: str | None = None
    first_name: str | None = None
    username: str | None = None

    def to_api(self) -> Json:
        return _without_none(
            {
                "id": self.id,
                "type": self.type,
                "title": self.title,
                "first_name": self.first_name,
                "username": self.username,
            }
        )


@dataclass(slots=True)
class Webhook:
    url: str
    secret_token: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass(slots=True)
class BotAccount:
    """One bot token: the bot's identity, its pending updates and its settings."""

    token: str
    user: User
    updates: list[Json] = field(default_factory=list)
    next_update_id: int = 1
    allowed_updates: frozenset[str] = frozenset()  # empty: Telegram's default set
    webhook: Webhook | None = None
    commands: dict[str, list[Json]] = field(default_factory=dict)  # by scope and language

    @property
    def id(self) -> int:
        return self.user.id

    def confirm(self, offset: int) -> None:
        """Forget updates below `offset`; a negative offset keeps only the last -offset."""
        if offset < 0:
            self.updates = self.updates[offset:]
        else:
            self.updates = [update for update in self.updates if update["update_id"] >= offset]

    def pending(self, limit: int) -> list[Json]:
        """The next updates to deliver; kinds the bot did not ask for are dropped, as Telegram
        drops them."""
        self.updates = [update for update in self.updates if self._wants(update)]
        return self.updates[:limit]

    def _wants(self, update: Json) -> bool:
        kind = next(key for key in update if key != "update_id")
        if self.allowed_updates:
            return kind in self.allowed_updates
        return kind not in _OPT_IN_UPDATES


@dataclass(slots=True)
class ChatMessage:
    """A message in a chat as it is now, or as it was when an event took its snapshot."""

    chat: Chat
    message_id: int
    sender: User
    date: int
    text: str | None = None
    entities: list[Json] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[Json] = field(default_factory=list)
    reply_markup: Json | None = None  # inline keyboards only: Telegram echoes no other kind
    file: StoredFile | None = None
    reply_to: ChatMessage | None = None
    edit_date: int | None = None
    deleted: bool = False

    @property
    def from_bot(self) -> bool:
        return self.sender.is_bot

    @property
    def document(self) -> StoredFile | None:
        return self.file if self.file and self.file.kind == "document" else None

    @property
    def photo(self) -> StoredFile | None:
        return self.file if self.file and self.file.kind == "photo" else None

    @property
    def buttons(self) -> list[Json]:
        """The inline keyboard's buttons, row after row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]

    def callback_data(self, label: str) -> str:
        """The callback data of the button labelled `label`, to press it with `user_presses`."""
        for button in self.buttons:
            if button["text"] == label and "callback_data" in button:
                return str(button["callback_data"])
        labels = [button["text"] for button in self.buttons]
        raise KeyError(f"no button {label!r} on message {self.message_id}; buttons: {labels}")

    def to_api(self) -> Json:
        data = _without_none(
            {
                "message_id": self.message_id,
                "date": self.date,
                "chat": self.chat.to_api(),
                "from": self.sender.to_api(),
                "text": self.text,
                "entities": self.entities or None,
                "caption": self.caption,
                "caption_entities": self.caption_entities or None,
                "reply_markup": self.reply_markup,
                "edit_date": self.edit_date,
                # Telegram nests one level only: a replied-to message shows no reply of its own.
                "reply_to_message": (
                    dataclasses.replace(self.reply_to, reply_to=None).to_api()
                    if self.reply_to
                    else None
                ),
            }
        )
        if self.file is not None:
            data[self.file.kind] = self.file.to_api()
        return data


@dataclass(frozen=True, slots=True)
class BotEvent:
    """Something the bot did to a message; `seq` orders all events of the state."""

    seq: int
    kind: EventKind
    message: ChatMessage

    def to_api(self) -> Json:
        return {"seq": self.seq, "kind": self.kind, "message": self.message.to_api()}


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One Bot API request as the server understood it, for assertions."""

    bot_id: int
    method: str
    params: Json
    at: float
    error: str | None = None


class BotApiState:
    """Everything the local Bot API server knows, plus the driving API for tests.

    `unsupported` names methods answered with Telegram's 404 "method not found", so tests can
    check the bot copes with a server that lacks them.
    """

    def __init__(self, *, token: str = DEFAULT_TOKEN, unsupported: Iterable[str] = ()) -> None:
        self.unsupported = set(unsupported)
        self.flood: FloodLimits | None = None  # Telegram's sending limits, when a test sets it
        self.bots: dict[int, BotAccount] = {}
        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.files: dict[str, StoredFile] = {}
        self._members: dict[tuple[int, int], str] = {}
        self._messages: dict[int, dict[int, ChatMessage]] = {}
        self._calls: list[ApiCall] = []
        self._events: list[BotEvent] = []
        self._consumed: dict[int, int] = {}  # per chat: the last event seq a waiter took
        self._callback_answers: dict[str, Json | None] = {}  # None: not answered yet
        self._query_ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._epoch = 0
        self.default_bot = self.add_bot(token)

    # --- bots, people and chats -------------------------------------------------------------

    def add_bot(
        self, token: str, *, first_name: str = "Local Bot", username: str | None = None
    ) -> BotAccount:
        """Register a bot; its id is the token's numeric prefix, as with Telegram."""
        match = _TOKEN.match(token)
        if match is None:
            raise ApiError(401)
        bot_id = int(match.group(1))
        user = User(bot_id, first_name, username or f"local{bot_id}_bot", is_bot=True)
        self.users[bot_id] = user
        self.bots[bot_id] = BotAccount(token, user)
        return self.bots[bot_id]

    def bot_for(self, token: str) -> BotAccount:
        """The bot behind a token, registered on first use; 401 as Telegram for a bad token."""
        match = _TOKEN.match(token)
        bot = self.bots.get(int(match.group(1))) if match else None
        if bot is None:
            return self.add_bot(token)
        if bot.token != token:
            raise ApiError(401)
        return bot

    def add_user(
        self, user_id: int, *, first_name: str | None = None, username: str | None = None
    ) -> User:
        """Register or rename a person; unknown ids are registered on first use anyway."""
        self.users[user_id] = User(user_id, first_name or f"User {user_id}", username)
        return self.users[user_id]

    def add_chat(self, chat_id: int, *, title: str | None = None) -> Chat:
        """Register a chat, typed from its id like Telegram's: positive ids are a person's
        private chat with the bot, -100… supergroups, other negative ids basic groups."""
        if chat_id > 0:
            person = self.user(chat_id)
            chat = Chat(chat_id, "private", first_name=person.first_name, username=person.username)
        else:
            kind: Literal["group", "supergroup"] = (
                "supergroup" if chat_id <= _SUPERGROUP_IDS_UP_TO else "group"
            )
            chat = Chat(chat_id, kind, title=title or f"Group {chat_id}")
        self.chats[chat_id] = chat
        return chat

    def user(self, user_id: int) -> User:
        return self.users.get(user_id) or self.add_user(user_id)

    def chat(self, chat_id: int) -> Chat:
        return self.chats.get(chat_id) or self.add_chat(chat_id)

    def set_member_status(self, chat_id: int, user_id: int, status: MemberStatus) -> None:
        """What getChatMember reports. "kicked" for the bot in a group, or for the person in a
        private chat (they blocked the bot), makes sending there fail with 403."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown member status {status!r}")
        self.chat(chat_id)
        self.user(user_id)
        self._members[chat_id, user_id] = status

    def member_status(self, chat_id: int, user_id: int) -> str:
        return self._members.get((chat_id, user_id), "member")

    def members(self, chat_id: int) -> dict[int, str]:
        """Statuses set for the chat, by user id; everyone else counts as a member."""
        return {user: status for (chat, user), status in self._members.items() if chat == chat_id}

    # --- what users do ----------------------------------------------------------------------

    def user_says(
        self,
        chat: int,
        user: int,
        text: str,
        *,
        reply_to: int | None = None,
        bot: int | None = None,
    ) -> Json:
        """Queue the `message` update Telegram sends when `user` writes `text` in `chat`
        (to the default bot unless `bot` names another bot id)."""
        if not text.strip():
            raise ValueError("Telegram users cannot send an empty message")
        room, person = self._room(chat, user)
        if room.type == "private" and self.member_status(chat, user) == "kicked":
            del self._members[chat, user]  # as with Telegram, writing to a bot unblocks it
        replied = None
        if reply_to is not None:
            replied = self._visible(chat, reply_to)
            if replied is None:
                raise ValueError(f"no message {reply_to} in chat {chat} to reply to")
        message = self.post(
            room, person, text=text, entities=command_entities(text), reply_to=replied
        )
        return self._enqueue(self._bot(bot), "message", message.to_api())

    def user_presses(
        self, chat: int, user: int, message_id: int, callback_data: str, *, forged: bool = False
    ) -> Json:
        """Queue the `callback_query` update for pressing a button the bot put on a message.

        `forged=True` sends callback data the message never offered, as a modified client
        can: the bot must check such data, never trust it."""
        _, person = self._room(chat, user)
        message = self._visible(chat, message_id)
        if message is None or not message.from_bot:
            raise ValueError(f"no bot message {message_id} in chat {chat}")
        offered = [button.get("callback_data") for button in message.buttons]
        if callback_data not in offered and not forged:
            raise ValueError(
                f"message {message_id} offers callback data {offered}, not {callback_data!r}"
            )
        query_id = str(next(self._query_ids))
        self._callback_answers[query_id] = None
        query = {
            "id": query_id,
            "from": person.to_api(),
            "message": message.to_api(),
            "chat_instance": str(chat),
            "data": callback_data,
        }
        return self._enqueue(self.bots[message.sender.id], "callback_query", query)

    def _room(self, chat_id: int, user_id: int) -> tuple[Chat, User]:
        if chat_id > 0 and chat_id != user_id:
            raise ValueError(f"chat {chat_id} is the private chat of user {chat_id}, not {user_id}")
        return self.chat(chat_id), self.user(user_id)

    def _bot(self, bot_id: int | None) -> BotAccount:
        if bot_id is None:
            return self.default_bot
        if bot_id not in self.bots:
            raise ValueError(f"no bot with id {bot_id}; register it with add_bot")
        return self.bots[bot_id]

    def _enqueue(self, bot: BotAccount, kind: str, payload: Json) -> Json:
        update = {"update_id": bot.next_update_id, kind: payload}
        bot.next_update_id += 1
        bot.updates.append(update)
        self.notify()
        return update

    # --- what the bot does (called by the Bot API methods) ----------------------------------

    def post(self, chat: Chat, sender: User, **content: Any) -> ChatMessage:
        """Store a new message under the chat's next id; the bot's own become "sent" events."""
        store = self._messages.setdefault(chat.id, {})
        message = ChatMessage(chat, len(store) + 1, sender, _now(), **content)
        store[message.message_id] = message
        if sender.is_bot:
            self._record("sent", message)
        return message

    def edit(self, message: ChatMessage, **changes: Any) -> ChatMessage:
        for name, value in changes.items():
            setattr(message, name, value)
        message.edit_date = _now()
        self._record("edited", message)
        return message

    def delete(self, message: ChatMessage) -> None:
        message.deleted = True
        self._record("deleted", message)

    def find_message(self, chat_id: int, message_id: int) -> ChatMessage | None:
        """The live message, deleted or not."""
        return self._messages.get(chat_id, {}).get(message_id)

    def answer_callback(self, query_id: str, answer: Json) -> None:
        """Record the answer to a button press; each press is answered at most once."""
        if query_id not in self._callback_answers or self._callback_answers[query_id] is not None:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        self._callback_answers[query_id] = answer

    def log_call(self, bot_id: int, method: str, params: Json, error: str | None = None) -> None:
        self._calls.append(ApiCall(bot_id, method, params, time.time(), error))
        self.notify()

    def _visible(self, chat_id: int, message_id: int) -> ChatMessage | None:
        message = self.find_message(chat_id, message_id)
        return None if message is None or message.deleted else message

    def _record(self, kind: EventKind, message: ChatMessage) -> None:
        self._events.append(BotEvent(len(self._events) + 1, kind, dataclasses.replace(message)))
        self.notify()

    # --- reading back what the bot did ------------------------------------------------------

    def messages(self, chat_id: int) -> list[ChatMessage]:
        """The bot's messages in the chat as they are now, deleted ones left out."""
        return [
            dataclasses.replace(message)
            for message in self._messages.get(chat_id, {}).values()
            if message.from_bot and not message.deleted
        ]

    def documents(self, chat_id: int) -> list[ChatMessage]:
        return [message for message in self.messages(chat_id) if message.document]

    def photos(self, chat_id: int) -> list[ChatMessage]:
        return [message for message in self.messages(chat_id) if message.photo]

    def was_deleted(self, chat_id: int, message_id: int) -> bool:
        message = self.find_message(chat_id, message_id)
        if message is None:
            raise KeyError(f"chat {chat_id} never had message {message_id}")
        return message.deleted

    def calls(self, method: str | None = None) -> list[ApiCall]:
        """Every Bot API request so far, or those of one method (any letter case)."""
        wanted = method and method.lower()
        return [call for call in self._calls if wanted in (None, call.method.lower())]

    def callback_answer(self, update: Json) -> Json | None:
        """How the bot answered the button press in `update` (None: not yet)."""
        return self._callback_answers.get(update["callback_query"]["id"])

    def events(self, *, since: int = 0, chat_id: int | None = None) -> list[BotEvent]:
        """The bot's sends, edits and deletions after event `since`."""
        return [
            event
            for event in self._events[since:]
            if chat_id is None or event.message.chat.id == chat_id
        ]

    async def wait_for_bot_message(
        self,
        chat_id: int,
        *,
        predicate: Callable[[ChatMessage], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - how long to wait is the point of the call
    ) -> ChatMessage:
        """The next message the bot sends or edits in the chat (matching `predicate`).

        Works like `expect`: each call continues where the previous one for this chat stopped,
        so nothing the bot did in between is missed, and non-matching events are skipped.
        """
        return await self._next_event(chat_id, ("sent", "edited"), predicate, timeout)

    async def wait_for_reply(
        self,
        chat_id: int,
        *,
        predicate: Callable[[ChatMessage], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - how long to wait is the point of the call
    ) -> ChatMessage:
        """Like `wait_for_bot_message`, but only new messages: edits are skipped."""
        return await self._next_event(chat_id, ("sent",), predicate, timeout)

    async def _next_event(
        self,
        chat_id: int,
        kinds: tuple[EventKind, ...],
        predicate: Callable[[ChatMessage], bool] | None,
        seconds: float,
    ) -> ChatMessage:
        def probe() -> ChatMessage | None:
            for event in self.events(since=self._consumed.get(chat_id, 0), chat_id=chat_id):
                if event.kind in kinds and (predicate is None or predicate(event.message)):
                    self._consumed[chat_id] = event.seq
                    return event.message
            return None

        found = await self.wait_until(probe, seconds)
        if found is None:
            seen = [
                f"{event.kind} #{event.message.message_id}: "
                f"{event.message.text or event.message.caption!r}"
                for event in self.events(since=self._consumed.get(chat_id, 0), chat_id=chat_id)
            ]
            raise TimeoutError(
                f"no matching {'/'.join(kinds)} message in chat {chat_id} within {seconds}s; "
                f"the bot did: {seen or 'nothing'}"
            )
        return found

    # --- waiting ------------------------------------------------------------------------------

    async def wait_until(self, probe: Callable[[], T | None], seconds: float) -> T | None:
        """Re-run `probe` after every change until it gives something, the time is up, or
        `release_waiters` is called (then None)."""
        loop = asyncio.get_running_loop()
        deadline, epoch = loop.time() + seconds, self._epoch
        while (found := probe()) is None:
            remaining = deadline - loop.time()
            if remaining <= 0 or epoch != self._epoch:
                return None
            changed = self._changed
            try:
                async with asyncio.timeout(remaining):
                    await changed.wait()
            except TimeoutError:
                return None
        return found

    def notify(self) -> None:
        """Wake everyone waiting in `wait_until`."""
        self._changed.set()
        self._changed = asyncio.Event()

    def release_waiters(self) -> None:
        """End every wait in progress (long polls too), so a stopping server need not wait."""
        self._epoch += 1
        self.notify()
