"""In groups, a message holding something shaped like a secret key is deleted at once.

/link deletes its own message, but a key sent with slightly wrong syntax (`/enrich on <key>`
in a group, a key pasted into a sentence) would otherwise stay for everyone in the group to
read. This runs before any handler, for every group message, whether or not one handles it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Message, TelegramObject

from core.logs import SECRET_PATTERNS
from core.logs import secrets as log_secrets

log = logging.getLogger(__name__)

# Long runs of letters and digits, both present, outside any link: the shape of provider API
# keys (enrichment, Gemini, Luma) whose exact form we do not know in advance.
_KEY_LIKE = re.compile(
    r"(?<![/\w.@-])(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{32,}"
)
GROUP_KINDS = frozenset({"group", "supergroup"})
DELETED = (
    "I deleted a message that looked like it held an API key: keys must never sit in a "
    "group's history. Send keys to me in a private chat (for a group, "
    "<code>/link &lt;key&gt;</code> is deleted at once)."
)


_UUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def holds_key(text: str) -> bool:
    """A known key shape (with a digit in it: "secret-santa-party" is no key), or a long run
    of letters and digits that is not a UUID (ids people paste are not secrets)."""
    if any(re.search(r"\d", m.group(0)) for p in SECRET_PATTERNS for m in p.finditer(text)):
        return True
    return any(not _UUID.fullmatch(m.group(0)) for m in _KEY_LIKE.finditer(text))


class KeyGuardMiddleware(BaseMiddleware):
    """Deletes key-shaped group messages (new or edited, text or caption); the update then
    goes on to its handler, if any."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        text = (event.text or event.caption or "") if isinstance(event, Message) else ""
        if (
            isinstance(event, Message)
            and event.chat.type in GROUP_KINDS
            and holds_key(text)
            and not await _our_link_command(text, data)
        ):
            log_secrets.add(*(match.group(0) for match in _KEY_LIKE.finditer(text)))
            try:
                await event.delete()
            except TelegramAPIError as exc:
                log.warning("could not delete a key-shaped message in %s: %s", event.chat.id, exc)
            else:
                await event.answer(DELETED)
        return await handler(event, data)


async def _our_link_command(text: str, data: dict[str, Any]) -> bool:
    """Our /link deletes its own message and says so: leave it to do that. A /link meant for
    another bot (/link@other) is not ours: it is deleted here."""
    match = re.match(r"^/link(?:@(\w+))?(\s|$)", text)
    if match is None:
        return False
    if match.group(1) is None:
        return True
    me = await data["bot"].me()
    return bool(me.username) and match.group(1).lower() == me.username.lower()
