"""`lumabot demo` end to end: a scripted chat through the console, then nothing left behind."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.ports import reserved_ports

LUMABOT = str(Path(sys.prefix) / "bin" / "lumabot")
SCRIPT = (
    "who is pending for the lisbon workshop?\n"
    "/events upcoming\n"
    "how many guests are approved for the summer mixer?\n"
    "approve everyone pending for the founders dinner\n"
    "1\n"
)


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def run_demo(cwd: Path, ports: list[int]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL"}}
    options = ["--temporal-port", "--ui-port", "--simulator-port", "--api-port",
               "--telegram-port"]  # fmt: skip
    command = [LUMABOT, "demo"]
    for option, port in zip(options, ports, strict=True):
        command += [option, str(port)]
    return subprocess.run(
        command, input=SCRIPT, cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


async def test_demo_answers_and_stops_cleanly(tmp_path: Path) -> None:
    with reserved_ports(5) as ports:  # held until the demo and its children are gone
        result = await asyncio.to_thread(run_demo, tmp_path, ports)
        out = result.stdout
        # Ctrl-D stopped everything: no port is still served by a child left behind.
        assert not [port for port in ports if listening(port)], out + result.stderr
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert f"Temporal UI        http://127.0.0.1:{ports[1]}" in out
    assert "Lisbon Founders Workshop: 24 pending guests" in out
    assert "Summer Mixer" in out and "Founders Dinner" in out  # /events upcoming
    assert "Summer Mixer: 84 approved guests." in out
    assert "Approve 28 guest(s) of Founders Dinner" in out
    assert "Approved: 28 of 28 matching guest(s)." in out
    assert "Traceback" not in out + result.stderr
    assert (tmp_path / "data" / "lumabot.db").exists()
    assert (tmp_path / "data" / "temporal.db").exists()
