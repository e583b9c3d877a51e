"""The demo's chat console: type to the bot in the terminal, through the local Bot API.

Each line you type is sent as a Telegram message from a demo user in a private chat; what the
bot sends or edits is printed as it happens, with what Telegram would let you tap: a text
link's address after its words, URL buttons as links, and every file the bot sends saved under
`data/files/` with its path printed. Buttons are shown numbered: type the number to press one.
Lines from a pipe are sent one at a time, each after the bot has answered the previous one, so
a scripted session reads like a conversation.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

CONSOLE_CHAT = 424242
CONSOLE_USER = 424242
REPLY_WAIT = 60.0  # seconds to wait for the bot's first answer to a line
QUIET = 1.5  # seconds of silence that end an answer
BOT_START_WAIT = 60.0  # seconds for the bot's first poll before the console gives up waiting
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Transcript:
    """What the poller saw: the last event, the latest buttons, and when anything arrived."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    last_seq: int = 0
    last_event_at: float = 0.0
    buttons: list[tuple[str, int, str]] = field(default_factory=list)  # label, message, data
    saved: dict[str, Path] = field(default_factory=dict)  # file_unique_id -> where it is


@dataclass(frozen=True)
class FileSaver:
    """Downloads what the bot sends from the local Bot API into `directory`, once a file."""

    client: httpx.Client
    directory: Path

    def save(self, message: dict[str, Any], transcript: Transcript) -> Path | None:
        sent = message.get("document") or (message.get("photo") or [None])[-1]
        if not sent:
            return None
        if (known := transcript.saved.get(sent["file_unique_id"])) is not None:
            return known  # an edited caption: the same file, already saved
        try:
            reply = self.client.get(f"/_local/files/{sent['file_id']}", timeout=30)
            reply.raise_for_status()
        except httpx.HTTPError:
            return None
        name = sent.get("file_name") or _disposition_name(reply) or "picture.png"
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{message['message_id']:04d}-{_UNSAFE_NAME.sub('_', name)}"
        path.write_bytes(reply.content)
        transcript.saved[sent["file_unique_id"]] = path
        return path


def _disposition_name(reply: httpx.Response) -> str | None:
    match = re.search(r'filename="([^"]+)"', reply.headers.get("content-disposition", ""))
    return match.group(1) if match else None


def _buttons(message: dict[str, Any]) -> list[tuple[str, int, str]]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [
        (button["text"], message["message_id"], button["callback_data"])
        for row in rows
        for button in row
        if "callback_data" in button
    ]


def _url_buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    found = []
    for row in rows:
        for button in row:
            url = button.get("url") or (button.get("login_url") or {}).get("url")
            if url:
                found.append((button["text"], url))
    return found


def with_links(text: str, entities: list[dict[str, Any]]) -> str:
    """The text with each text link's address after its words, as `words <address>`.

    Entity offsets count UTF-16 code units, as Telegram's do, so the text is cut in UTF-16.
    """
    links = sorted(
        (e for e in entities if e.get("type") == "text_link" and e.get("url")),
        key=lambda e: e["offset"] + e["length"],
        reverse=True,
    )
    units = text.encode("utf-16-le")
    for link in links:
        end = 2 * (link["offset"] + link["length"])
        units = units[:end] + f" <{link['url']}>".encode("utf-16-le") + units[end:]
    return units.decode("utf-16-le")


def _render(event: dict[str, Any], transcript: Transcript, saver: FileSaver | None = None) -> str:
    message = event.get("message") or {}
    if event.get("kind") == "deleted":
        return ""
    if message.get("text") is not None:
        text = with_links(message["text"], message.get("entities") or [])
    else:
        text = with_links(message.get("caption") or "", message.get("caption_entities") or [])
    saved = saver.save(message, transcript) if saver else None
    if message.get("document") or message.get("photo"):
        what = (
            f"file {message['document'].get('file_name', '')}"
            if message.get("document")
            else "picture"
        )
        where = f" saved to {saved}" if saved else ""
        text = f"[{what}{where}] {text}".strip()
    for label, url in _url_buttons(message):
        text += f"\n  ↗ {label}: {url}"
    buttons = _buttons(message)
    if buttons:
        transcript.buttons = buttons
        text += "\n" + "  ".join(f"[{n}] {label}" for n, (label, _, _) in enumerate(buttons, 1))
    prefix = "bot (edited)> " if event.get("kind") == "edited" else "bot> "
    return prefix + text.replace("\n", "\n     ")


def _poll(
    client: httpx.Client,
    transcript: Transcript,
    out: TextIO,
    stop: threading.Event,
    saver: FileSaver,
) -> None:
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
                line = _render(event, transcript, saver)
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


def wait_for_bot(api_url: str, timeout: float = BOT_START_WAIT) -> bool:
    """True once the bot has asked the local Bot API for updates, so a first message typed
    right after the banner is answered; False if it has not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=api_url) as client:
        while time.monotonic() < deadline:
            try:
                calls = client.get("/_local/calls", params={"method": "getUpdates"}).json()
            except httpx.HTTPError:
                calls = {}
            if calls.get("result"):
                return True
            time.sleep(0.2)
    return False


@dataclass
class MailWatch:
    """Tells the person at the console when the bot's emails reach the local mail catcher."""

    directory: Path | None
    seen: int = 0

    def __post_init__(self) -> None:
        self.seen = len(self._mails())

    def _mails(self) -> list[Path]:
        return sorted(self.directory.glob("*.eml")) if self.directory else []

    def settle(self, quiet: float = 0.5, longest: float = 5.0) -> None:
        """Wait until no new mail has been saved for `quiet` seconds (at most `longest`)."""
        deadline, count = time.monotonic() + longest, len(self._mails())
        while time.monotonic() < deadline:
            time.sleep(quiet)
            now = len(self._mails())
            if now == count:
                return
            count = now

    def news(self) -> str | None:
        mails = self._mails()
        new, self.seen = len(mails) - self.seen, len(mails)
        if new <= 0:
            return None
        return f"mail> {new} email(s) caught, saved in {self.directory}/ (latest {mails[-1].name})"


def run_console(
    api_url: str,
    *,
    files_dir: Path = Path("data/files"),
    mail_dir: Path | None = None,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
) -> None:
    """Chat until end of input (Ctrl-D) or Ctrl-C."""
    client = httpx.Client(base_url=api_url)
    client.post(
        "/_local/users",
        json={"id": CONSOLE_USER, "first_name": "Demo organizer", "username": "organizer"},
    )
    transcript, stop = Transcript(), threading.Event()
    saver = FileSaver(httpx.Client(base_url=api_url), files_dir)
    poller = threading.Thread(
        target=_poll, args=(client, transcript, out, stop, saver), daemon=True
    )
    poller.start()
    mail = MailWatch(mail_dir)
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
            if (news := mail.news()) is not None:
                print(news, file=out, flush=True)
        _wait_for_answer(transcript, time.monotonic(), first=False)
        mail.settle()  # mail still being saved after the last answer is reported too
        if (news := mail.news()) is not None:
            print(news, file=out, flush=True)
    finally:
        stop.set()
        poller.join(timeout=3)
        client.close()
        saver.client.close()
