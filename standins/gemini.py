"""A stand-in for the Gemini API's generateContent, served on a free local port.

Each test queues the replies it wants (a function call, a text, a malformed call, an HTTP
error, a hang); every request is recorded so tests can check what the SDK sent. It runs in
its own thread with its own event loop, so a deliberately hanging reply never blocks the
test's loop.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@dataclass(frozen=True)
class Reply:
    body: dict[str, Any]
    status: int = 200
    delay: float = 0.0


def function_call(args: dict[str, Any], name: str = "record_intent") -> Reply:
    part = {"functionCall": {"name": name, "args": args}}
    return Reply({"candidates": [{"content": {"role": "model", "parts": [part]}}]})


def verdicts(items: list[dict[str, Any]]) -> Reply:
    """An approval rubric's answer: `record_verdicts` with these verdicts."""
    return function_call({"verdicts": items}, name="record_verdicts")


def text(words: str) -> Reply:
    return Reply({"candidates": [{"content": {"role": "model", "parts": [{"text": words}]}}]})


def error(status: int, message: str = "Resource has been exhausted") -> Reply:
    code = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}.get(status, "ERROR")
    return Reply({"error": {"code": status, "message": message, "status": code}}, status)


def hang(seconds: float) -> Reply:
    return Reply(text("too late").body, delay=seconds)


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeGemini:
    replies: deque[Reply] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""
    # Answers what no queued reply answers, from the request's body (a test's rubric reader).
    responder: Callable[[dict[str, Any]], Reply] | None = None
    stopping: threading.Event = field(default_factory=threading.Event)

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def reset(self) -> None:
        self.replies.clear()
        self.requests.clear()
        self.responder = None

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/{version}/models/{target}")
        async def generate(version: str, target: str, request: Request) -> JSONResponse:
            self.requests.append(
                Recorded(request.url.path, dict(request.headers), await request.json())
            )
            body = self.requests[-1].body
            if self.replies:
                reply = self.replies.popleft()
            elif self.responder is not None:
                reply = self.responder(body)
            else:
                reply = error(500, "no reply queued")
            deadline = time.monotonic() + reply.delay
            # A hang that ends when the server stops (the flag is set from another thread).
            while time.monotonic() < deadline and not self.stopping.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            return JSONResponse(reply.body, status_code=reply.status)

        return app


class RunningFake:
    """Start the fake on a free port in a background thread; stop it on exit."""

    def __init__(self) -> None:
        self.fake = FakeGemini()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        host, port = self._sock.getsockname()
        self.fake.url = f"http://{host}:{port}"
        config = uvicorn.Config(
            self.fake.app(), log_level="warning", timeout_graceful_shutdown=1, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> FakeGemini:
        self._thread.start()
        deadline = time.monotonic() + 5
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake Gemini did not start")
            time.sleep(0.01)
        return self.fake

    def __exit__(self, *exc: object) -> None:
        self.fake.stopping.set()
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()
