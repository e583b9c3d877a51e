"""Message text as Telegram stores it: HTML parsed into entities, whitespace trimmed.

Telegram refuses malformed HTML (an unescaped `<` in user-provided text is the classic bug),
counts entity offsets in UTF-16 code units and trims surrounding whitespace. Doing the same
here lets tests catch what production would. Markdown modes pass through unparsed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from standins.telegram.errors import bad_request

Json = dict[str, Any]

_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}
_SUPPORTED_TAGS = {*_SIMPLE_TAGS, "a", "span", "blockquote", "tg-emoji"}
_UNPARSED_MODES = {"markdown", "markdownv2"}
# Telegram knows only these named entities, plus every numeric one.
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(r"&(?:#(\d+)|#x([0-9a-fA-F]+)|(lt|gt|amp|quot));")
_TAG = re.compile(r"<(/?)([^\s>/]*)([^>]*)>")
_ATTRIBUTE = re.compile(r"""([a-zA-Z][\w-]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"']+)))?""")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def render(
    text: str, parse_mode: str | None, entities: list[Json] | None
) -> tuple[str, list[Json]]:
    """The text and entities Telegram would store; explicit entities win over parse_mode."""
    mode = (parse_mode or "").lower()
    if entities is None and mode == "html":
        text, entities = _HtmlParser(text).parse()
    elif mode and mode != "html" and mode not in _UNPARSED_MODES:
        raise bad_request("unsupported parse_mode")
    return _strip(text, entities or [])


def command_entities(text: str) -> list[Json]:
    """The `bot_command` entity Telegram adds when a message starts with `/command`."""
    if not text.startswith("/"):
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]


def _strip(text: str, entities: list[Json]) -> tuple[str, list[Json]]:
    stripped = text.strip()
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


@dataclass
class _Open:
    """A start tag waiting for its end tag; `entity` is None for tags that add none."""

    tag: str
    offset: int
    entity: Json | None


@dataclass
class _HtmlParser:
    source: str
    text: list[str] = field(default_factory=list)
    length: int = 0  # UTF-16 units emitted so far
    stack: list[_Open] = field(default_factory=list)
    entities: list[Json] = field(default_factory=list)

    def parse(self) -> tuple[str, list[Json]]:
        pos = 0
        while pos < len(self.source):
            char = self.source[pos]
            if char == "<":
                pos = self._tag(pos)
            elif char == "&" and (match := _ENTITY.match(self.source, pos)):
                self._emit(_decode_entity(match))
                pos = match.end()
            else:
                end = _next_special(self.source, pos + 1)
                self._emit(self.source[pos:end])
                pos = end
        if self.stack:
            raise _error(f'Can\'t find end tag corresponding to start tag "{self.stack[-1].tag}"')
        self.entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
        return "".join(self.text), self.entities

    def _emit(self, piece: str) -> None:
        self.text.append(piece)
        self.length += utf16_len(piece)

    def _tag(self, pos: int) -> int:
        byte_offset = len(self.source[:pos].encode())
        match = _TAG.match(self.source, pos)
        if match is None:
            raise _error(f"Unclosed start tag at byte offset {byte_offset}")
        closing, name, attributes = match.group(1), match.group(2).lower(), match.group(3)
        if closing:
            self._close(name, byte_offset)
        else:
            self._open(name, _attributes(attributes), byte_offset)
        return match.end()

    def _open(self, tag: str, attributes: dict[str, str], byte_offset: int) -> None:
        if tag not in _SUPPORTED_TAGS or (
            tag == "span" and attributes.get("class") != "tg-spoiler"
        ):
            raise _error(f'Unsupported start tag "{tag}" at byte offset {byte_offset}')
        entity: Json | None
        language = attributes.get("class", "").removeprefix("language-")
        if tag == "code" and self.stack and self.stack[-1].tag == "pre" and language:
            # <pre><code class="language-x"> is one pre entity with a language.
            parent = self.stack[-1].entity
            if parent is not None:
                parent["language"] = language
            entity = None
        elif tag == "a":
            href = attributes.get("href")
            entity = {"type": "text_link", "url": href} if href else None
        elif tag == "span":
            entity = {"type": "spoiler"}
        elif tag == "blockquote":
            expandable = "expandable" in attributes
            entity = {"type": "expandable_blockquote" if expandable else "blockquote"}
        elif tag == "tg-emoji":
            entity = {"type": "custom_emoji", "custom_emoji_id": attributes.get("emoji-id", "")}
        else:
            entity = {"type": _SIMPLE_TAGS[tag]}
        self.stack.append(_Open(tag, self.length, entity))

    def _close(self, tag: str, byte_offset: int) -> None:
        if not self.stack:
            raise _error(f"Unexpected end tag at byte offset {byte_offset}")
        opened = self.stack.pop()
        if opened.tag != tag:
            raise _error(
                f'Unmatched end tag at byte offset {byte_offset}, expected "</{opened.tag}>", '
                f'found "</{tag}>"'
            )
        if opened.entity is not None and self.length > opened.offset:
            self.entities.append(
                {**opened.entity, "offset": opened.offset, "length": self.length - opened.offset}
            )


def _next_special(source: str, start: int) -> int:
    found = [index for index in (source.find("<", start), source.find("&", start)) if index >= 0]
    return min(found, default=len(source))


def _decode_entity(match: re.Match[str]) -> str:
    decimal, hexadecimal, name = match.groups()
    if name:
        return _NAMED_ENTITIES[name]
    code = int(decimal) if decimal else int(hexadecimal, 16)
    return chr(code) if code <= 0x10FFFF else match.group(0)


def _attributes(source: str) -> dict[str, str]:
    return {
        match.group(1).lower(): next((value for value in match.groups()[1:] if value), "")
        for match in _ATTRIBUTE.finditer(source)
    }


def _error(detail: str) -> Exception:
    return bad_request(f"can't parse entities: {detail}")
