"""The demo's chat console: type to the bot in the terminal, through the local Bot API.

Each line you type is sent as a Telegram message from a demo user in a private chat; what the
bot sends or edits is printed as it happens. Buttons are shown numbered: type the number to
press one. Lines from a pipe are sent one at a time, each after the bot has answered the
previous one, so a scripted session reads like a conversation.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

import httpx

CONSOLE_CHAT = 424242
CONSOLE_USER = 424242
REPLY_WAIT = 60.0  # seconds to wait for the bot's first answer to a line
QUIET = 1.5  # seconds of silence that end an answer


@dataclass
class Transcript:
    """What the poller saw: the last event, the latest buttons, and when anything arrived."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    last_seq: int = 0
    last_event_at: float = 0.0
    buttons: list[tuple[str, int, str]] = field(default_factory=list)  # label, message, data


def _buttons(message: dict[str, Any]) -> list[tuple[str, int, str]]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [
        (button["text"], message["message_id"], button["callback_data"])
        for row in rows
        for button in row
        if "callback_data" in button
    ]


def _render(event: dict[str, Any], transcript: Transcript) -> str:
    message = event.get("message") or {}
    if event.get("kind") == "deleted":
        return ""
    text = message.get("text") or message.get("caption") or ""
    if message.get("document"):
        text = f"[file {message['document'].get('file_name', '')}] {text}".strip()
    if message.get("photo"):
        text = f"[picture] {text}".strip()
    buttons = _buttons(message)
    if buttons:
        transcript.buttons = buttons
        text += "\n" + "  ".join(f"[{n}] {label}" for n, (label, _, _) in enumerate(buttons, 1))
    prefix = "bot (edited)> " if event.get("kind") == "edited" else "bot> "
    return prefix + text.replace("\n", "\n     ")


def _poll(client: httpx.Client, transcript: Transcript, out: TextIO, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            reply = client.get(
                "/_local/messages",
                params={"chat_id": CONSOLE_CHAT, "since": transcript.last_seq, "timeout": 1},
                timeout=10,
            ).json()
        except httpx.HTTPError:
            time.sleep(0.5)
            continue
        for event in reply.get("result", []):
            with transcript.lock:
                transcript.last_seq = max(transcript.last_seq, event["seq"])
                transcript.last_event_at = time.monotonic()
                line = _render(event, transcript)
            if line:
                print(line, file=out, flush=True)


def _send(client: httpx.Client, transcript: Transcript, line: str) -> None:
    press = line.strip()
    if press.isdigit() and 0 < int(press) <= len(transcript.buttons):
        _, message_id, data = transcript.buttons[int(press) - 1]
        body = {
            "kind": "callback",
            "chat": CONSOLE_CHAT,
            "user": CONSOLE_USER,
            "message_id": message_id,
            "data": data,
        }
    else:
        body = {"kind": "message", "chat": CONSOLE_CHAT, "user": CONSOLE_USER, "text": line}
    client.post("/_local/updates", json=body, timeout=10)


def _wait_for_answer(transcript: Transcript, sent_at: float, *, first: bool = True) -> None:
    """Wait for the bot's first event after `sent_at` (unless `first` is False), then for
    QUIET seconds without any, so edits in flight (progress, reports) are shown too."""
    deadline = sent_at + REPLY_WAIT
    while time.monotonic() < deadline:
        last = transcript.last_event_at
        answered = last > sent_at or not first
        if answered and time.monotonic() - max(last, sent_at) > QUIET:
            return
        time.sleep(0.1)


def run_console(api_url: str, *, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> None:
    """Chat until end of input (Ctrl-D) or Ctrl-C."""
    client = httpx.Client(base_url=api_url)
    client.post(
        "/_local/users",
        json={"id": CONSOLE_USER, "first_name": "Demo organizer", "username": "organizer"},
    )
    transcript, stop = Transcript(), threading.Event()
    poller = threading.Thread(target=_poll, args=(client, transcript, out, stop), daemon=True)
    poller.start()
    interactive = stdin.isatty()
    print(
        "Type to the bot (try: who is pending for the lisbon workshop?). "
        "Numbers press buttons. Ctrl-D quits.",
        file=out,
        flush=True,
    )
    try:
        for line in stdin:
            if not line.strip():
                continue
            if not interactive:
                print(f"you> {line.rstrip()}", file=out, flush=True)
            sent_at = time.monotonic()
            _send(client, transcript, line.rstrip("\n"))
            _wait_for_answer(transcript, sent_at)
        _wait_for_answer(transcript, time.monotonic(), first=False)
    finally:
        stop.set()
        poller.join(timeout=3)
        client.close()
