"""Stored histories of every workflow kind replay against the current code.

A workflow that sleeps for days (the post-event summary) or runs for hours (a bulk job) is
resumed by whatever code the worker runs by then. A change that makes the code issue different
commands for the same history breaks those runs; replaying the histories recorded from
earlier code (tests/workflows/histories/, written by `record.py` there) catches it here
instead. See "Changing a workflow safely" in README.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.conftest import DATA_CONVERTER
from worker import WORKFLOWS

HISTORIES = Path(__file__).parent / "histories"
FILES = sorted(HISTORIES.glob("*/*.json"))


def load(path: Path) -> WorkflowHistory:
    # The id only labels errors; the file name says which recording it is.
    return WorkflowHistory.from_json(path.stem, path.read_text())


def workflow_type(history: WorkflowHistory) -> str:
    return history.events[0].workflow_execution_started_event_attributes.workflow_type.name


def registered_types() -> set[str]:
    names = set()
    for cls in WORKFLOWS:
        definition = workflow._Definition.from_class(cls)
        assert definition is not None, f"{cls.__name__} is not a @workflow.defn class"
        assert definition.name is not None
        names.add(definition.name)
    return names


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(HISTORIES)) for p in FILES])
async def test_history_replays_on_current_code(path: Path) -> None:
    history = load(path)
    assert workflow_type(history) == path.parent.name, "stored under the wrong kind"
    # The product's converter: plaintext histories from before encryption replay through it.
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=DATA_CONVERTER)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, (
        f"{path.relative_to(HISTORIES)} no longer replays: running workflows of this kind "
        f"would break. Guard the change with workflow.patched() (README.md, 'Changing a "
        f"workflow safely').\n{result.replay_failure!r}"
    )


def test_every_registered_workflow_kind_has_a_stored_history() -> None:
    stored = {workflow_type(load(path)) for path in FILES}
    missing = registered_types() - stored
    assert not missing, (
        f"no stored history for {sorted(missing)}: record one with "
        "`.venv/bin/python -m tests.workflows.histories.record <WorkflowType>`"
    )


def test_histories_are_complete_runs() -> None:
    """A history cut short replays trivially; every stored one ends its run."""
    closing = {
        "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED",
        "EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW",
        "EVENT_TYPE_WORKFLOW_EXECUTION_FAILED",
    }
    assert FILES
    for path in FILES:
        last = json.loads(path.read_text())["events"][-1]["eventType"]
        assert last in closing, f"{path.relative_to(HISTORIES)} ends with {last}"


def test_the_summary_history_covers_its_durable_timer() -> None:
    """The one kind that sleeps for days: its recorded sleep must be replayed too."""
    timers = [
        path
        for path in HISTORIES.glob("PostEventSummaryWorkflow/*.json")
        if "EVENT_TYPE_TIMER_FIRED"
        in {e["eventType"] for e in json.loads(path.read_text())["events"]}
    ]
    assert timers, "record a PostEventSummaryWorkflow history that waits (time skipping)"
