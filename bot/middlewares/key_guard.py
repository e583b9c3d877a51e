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


def holds_key(text: str) -> bool:
    return any(p.search(text) for p in SECRET_PATTERNS) or bool(_KEY_LIKE.search(text))


class KeyGuardMiddleware(BaseMiddleware):
    """Deletes key-shaped group messages; the update then goes on to its handler, if any."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if (
            isinstance(event, Message)
            and event.chat.type in GROUP_KINDS
            and event.text
            and holds_key(event.text)
            and not _is_link_command(event.text)
        ):
            log_secrets.add(*(match.group(0) for match in _KEY_LIKE.finditer(event.text)))
            try:
                await event.delete()
            except TelegramAPIError as exc:
                log.warning("could not delete a key-shaped message in %s: %s", event.chat.id, exc)
            else:
                await event.answer(DELETED)
        return await handler(event, data)


def _is_link_command(text: str) -> bool:
    """/link deletes its own message and says so: leave it to do that."""
    return bool(re.match(r"^/link(@\w+)?(\s|$)", text))
