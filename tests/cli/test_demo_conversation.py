"""`lumabot demo`: the README's ten-turn conversation through the console, follow-ups and a
write by reference included (issue 21: "works end to end in `make demo`")."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.cli.test_demo import run_demo
from tests.ports import reserved_ports

# The conversation the README shows under "make demo"; "1" presses Confirm.
CONVERSATION = (
    "show me events in london\n"
    "what about lisbon?\n"
    "how many guests are pending for the lisbon founders workshop?\n"
    "and the waitlisted ones?\n"
    "and for the summer mixer?\n"
    "and the pending ones?\n"
    "list them\n"
    "export that\n"
    "approve them\n"
    "1\n"
    "and for the founders dinner?\n"
)


async def test_the_demo_holds_a_ten_turn_conversation(tmp_path: Path) -> None:
    with reserved_ports(6) as ports:
        result = await asyncio.to_thread(run_demo, tmp_path, ports, CONVERSATION)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Events in London (" in out and "Events in Lisbon (" in out
    assert "Lisbon Founders Workshop: 24 pending guests." in out
    assert "Lisbon Founders Workshop: 9 waitlist guests." in out
    assert "Summer Mixer: 0 waitlist guests." in out
    assert "Summer Mixer: 35 pending guests." in out
    exported = next((tmp_path / "data" / "files").glob("*summer-mixer.csv"))
    assert exported.read_text().count("\n") == 36  # a header and the 35 pending guests
    assert "Approve 35 guest(s) of Summer Mixer (pending)?" in out
    assert "Approved: 35 of 35 matching guest(s)." in out
    # After the preview, the same question about another event (the job runs meanwhile).
    assert "Founders Dinner: 28 pending guests." in out
    assert "Traceback" not in out + result.stderr
