"""LOG_FORMAT=json: one object a line, naming org, chat, workflow and run, secrets redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput

from activities.log_context import LogContextInterceptor
from core.logs import REDACTED, configure_logging, log_context
from workflows.contracts.notify import ChatNotice

LUMA_KEY = "secret-4fK9dQ2LmZpX7Wc1"
SETTING_SECRET = "operator-token-value-that-is-long"


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """What `configure_logging(..., "json")` writes (to a buffer instead of stderr)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("INFO", [SETTING_SECRET], "json")
    buffer = io.StringIO()
    (handler,) = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    yield buffer
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line]


def test_each_line_is_an_object_with_the_bound_org_and_chat(json_logs) -> None:
    log = logging.getLogger("tests.json")
    log.info("before any update")
    with log_context(org=7, chat=-100123):
        log.warning("linking with %s, token %s", LUMA_KEY, SETTING_SECRET)
        try:
            raise ValueError(f"refused {LUMA_KEY}")
        except ValueError:
            log.exception("failed")
    log.info("after")
    first, linked, failed, after = lines(json_logs)
    assert first["msg"] == "before any update" and "org" not in first
    assert (linked["org"], linked["chat"], linked["level"]) == (7, -100123, "WARNING")
    assert linked["msg"] == f"linking with {REDACTED}, token {REDACTED}"
    assert "ValueError" in str(failed["exc"]) and LUMA_KEY not in str(failed["exc"])
    assert "org" not in after and after["logger"] == "tests.json"


async def test_activity_lines_name_their_workflow_and_run(json_logs) -> None:
    async def work() -> None:
        with log_context(org=3):
            logging.getLogger("tests.json").info("in an activity")

    await ActivityEnvironment().run(work)
    (line,) = lines(json_logs)
    assert line["org"] == 3 and line["workflow_id"] and line["run_id"]


class _Logs(ActivityInboundInterceptor):
    """The activity itself, as the interceptor chain sees it: it logs one line."""

    def __init__(self) -> None:
        pass  # the innermost link: there is no next one

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        logging.getLogger("tests.json").info("notifying")
        return None


async def test_worker_activities_name_the_org_and_chat_of_their_input(json_logs) -> None:
    chain = LogContextInterceptor().intercept_activity(_Logs())
    notice = ChatNotice(org_id=11, chat_id=-100777, text="hi", idempotency_key="k")
    call = ExecuteActivityInput(fn=lambda: None, args=[notice], executor=None, headers={})
    await ActivityEnvironment().run(chain.execute_activity, call)
    (line,) = lines(json_logs)
    assert (line["org"], line["chat"], line["msg"]) == (11, -100777, "notifying")
    assert line["workflow_id"] and line["run_id"]
