"""A local SMTP catcher for the demo: every message is accepted and saved as an .eml file.

The demo points the product's SMTP mailer at it, so `/followup` really sends, and the person
trying the product opens the mails it wrote under `data/mail/` with any mail reader.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

_UNSAFE = re.compile(r"[^A-Za-z0-9@._-]+")


class MailFolder:
    """aiosmtpd handler: writes each message, numbered in arrival order, one file a recipient."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        self._count = len(list(directory.glob("*.eml")))

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        for recipient in envelope.rcpt_tos:
            self.save(recipient, content)
        return "250 OK"

    def save(self, recipient: str, content: bytes) -> Path:
        with self._lock:
            self._count += 1
            path = self.directory / f"{self._count:05d}-{_UNSAFE.sub('_', recipient)}.eml"
        path.write_bytes(content)
        return path


def serve(host: str, port: int, directory: Path) -> None:
    """Catch mail until SIGTERM or Ctrl-C."""
    controller = Controller(MailFolder(directory), hostname=host, port=port)
    controller.start()
    try:
        threading.Event().wait()
    finally:
        controller.stop()
