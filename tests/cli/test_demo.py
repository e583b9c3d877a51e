"""`lumabot demo` end to end: a scripted chat through the console, then nothing left behind;
a second run finds the first run's approvals in Luma (the simulator keeps its data)."""

from __future__ import annotations

import asyncio
import os
import re
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
    "/web\n"
    "/export founders dinner\n"
    "/trends\n"
    "/followup winter gala attended\n"
    "1\n"
)
# Sent first thing after the banner: the bot is polling by then, so it is answered.
RESTART_SCRIPT = "how many guests are approved for the founders dinner?\n/events upcoming\n"


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def run_demo(cwd: Path, ports: list[int], script: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL"}}
    options = ["--temporal-port", "--ui-port", "--simulator-port", "--api-port",
               "--telegram-port", "--mail-port"]  # fmt: skip
    command = [LUMABOT, "demo"]
    for option, port in zip(options, ports, strict=True):
        command += [option, str(port)]
    return subprocess.run(
        command, input=script, cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


async def test_demo_answers_and_stops_cleanly(tmp_path: Path) -> None:
    with reserved_ports(6) as ports:  # held until the demo and its children are gone
        result = await asyncio.to_thread(run_demo, tmp_path, ports, SCRIPT)
        out = result.stdout
        # Ctrl-D stopped everything: no port is still served by a child left behind.
        assert not [port for port in ports if listening(port)], out + result.stderr
        again = await asyncio.to_thread(run_demo, tmp_path, ports, RESTART_SCRIPT)
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
    # Links a user taps in Telegram are printed: the portal sign-in points at this demo's API.
    assert f"portal <http://127.0.0.1:{ports[3]}/web/signin?t=" in out
    portal_job = f"Follow it in the web portal <http://127.0.0.1:{ports[3]}/web/jobs/"
    assert "Open in Luma <https://" in out or portal_job in out
    assert "/namespaces/default/workflows/" not in out  # no tenant link into the Temporal UI
    # Files the bot sends are saved and named.
    csv = (
        tmp_path
        / "data"
        / "files"
        / next(p.name for p in (tmp_path / "data" / "files").glob("*founders-dinner.csv"))
    )
    assert f"saved to data/files/{csv.name}" in out
    assert csv.read_text().count("\n") == 41  # a header and Founders Dinner's 40 guests
    charts = list((tmp_path / "data" / "files").glob("*trends-month.png"))
    assert charts and charts[0].read_bytes().startswith(b"\x89PNG")
    # /followup really sends, to the local catcher, and the console says where the mails are.
    mails = sorted((tmp_path / "data" / "mail").glob("*.eml"))
    # The console reports mail as it arrives, in one notice or several (mail saved after the
    # demo's input ended may miss them: the files and the bot's "Sent" are the truth).
    caught = [
        int(n) for n in re.findall(r"mail> (\d+) email\(s\) caught, saved in data/mail/", out)
    ]
    assert mails and caught and sum(caught) <= len(mails), caught
    assert "Thank you for coming to Winter Gala" in mails[0].read_text()
    assert f"Sent: {len(mails)} of {len(mails)}." in out
    # The restart kept Luma's side: the approvals stand, and no showcase event doubled.
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Founders Dinner: 40 approved guests." in again.stdout
    assert again.stdout.count("• Founders Dinner") == 1
    assert "restored" in (tmp_path / "data" / "logs" / "simulator.log").read_text()
