"""`lumabot demo`: the whole product on one machine, supervised in one command.

Starts the Temporal dev server (UI on :8233, history in data/), the Luma simulator seeded
with a realistic calendar (its data kept in data/ too), a local SMTP catcher for follow-up
emails (unless MAIL_BACKEND is set), the worker, the control API and the bot. With BOT_TOKEN
set the bot talks to Telegram; without it, a local Bot API stand-in and a chat console in this
terminal let you talk to the same bot code. Ctrl-C stops everything; data is kept for the
next run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import typer

from cli.console import CONSOLE_CHAT, CONSOLE_USER, run_console, wait_for_bot
from cli.context import load_settings, require_standins
from core.binaries import temporal_cli
from core.settings import DATA_DIR, MailBackend, Settings
from migrations import runner

LUMABOT = str(Path(sys.prefix) / "bin" / "lumabot")


@dataclass(frozen=True)
class Ports:
    temporal: int = 7233
    ui: int = 8233
    simulator: int = 8787
    api: int = 8000
    telegram: int = 8081
    mail: int = 8025


SIMULATOR_DATA = DATA_DIR / "luma-simulator.pickle"
MAIL_DIR = DATA_DIR / "mail"
FILES_DIR = DATA_DIR / "files"


class DemoError(RuntimeError):
    """Something the person running the demo can fix; the text says what."""


def temporal_dev_server_command(host: str, port: int, ui_port: int, db_file: Path) -> list[str]:
    command = [
        str(temporal_cli()),
        "server",
        "start-dev",
        "--ip",
        host,
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--db-filename",
        str(db_file),
        "--ui-disable-news-fetch",
        "--log-format",
        "json",
        "--log-level",
        "warn",
    ]
    from workflows.ids import SEARCH_ATTRIBUTES  # heavy: imported when the demo runs

    for key in SEARCH_ATTRIBUTES:
        command += ["--search-attribute", f"{key.name}=Keyword"]
    return command


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) == 0


class Supervisor:
    """Starts child processes, each logging to data/logs; stops them all, newest first."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
        self.children.append((name, process))
        return process

    def wait_for_port(self, name: str, port: int, timeout: float = 60) -> None:
        process = dict(self.children)[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise DemoError(
                    f"{name} exited (code {process.returncode}); see {self.log_dir}/{name}.log"
                )
            if port_in_use(port):
                return
            time.sleep(0.1)
        raise DemoError(f"{name} did not start within {timeout:.0f} s; see its log")

    def dead(self) -> str | None:
        for name, process in self.children:
            if process.poll() is not None:
                return name
        return None

    def stop(self) -> None:
        for _, process in reversed(self.children):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in reversed(self.children):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                typer.echo(f"{name} did not stop in 15 s; killing it")
                process.kill()
                process.wait()


# The events the README and the console's hints talk about, added to the seeded calendar.
SHOWCASE: tuple[dict[str, Any], ...] = (
    {
        "name": "Lisbon Founders Workshop",
        "city": "Lisbon",
        "days": 9,
        "guests": 60,
        "status_mix": {"pending_approval": 0.4, "approved": 0.45, "waitlist": 0.15},
    },
    {
        "name": "Summer Mixer",
        "city": "Dubai",
        "days": 20,
        "guests": 140,
        "status_mix": {"approved": 0.6, "pending_approval": 0.25, "declined": 0.05, "invited": 0.1},
    },
    {
        "name": "Founders Dinner",
        "city": "New York",
        "days": 5,
        "guests": 40,
        "status_mix": {"pending_approval": 0.7, "approved": 0.3},
    },
    {
        "name": "Winter Gala",
        "city": "London",
        "days": -12,
        "guests": 180,
        "status_mix": {"approved": 0.8, "declined": 0.1, "waitlist": 0.1},
        "checked_in_share": 0.7,
    },
)


async def add_showcase_events(http: httpx.AsyncClient, calendar_id: str) -> None:
    """Named events for the demo, added once: the simulator keeps them in data/ after."""
    now = datetime.now(UTC)
    listed = await http.get("/_sim/events", params={"calendar_id": calendar_id})
    present = {event["name"] for event in listed.raise_for_status().json()}
    for event in SHOWCASE:
        if event["name"] in present:
            continue
        spec = {k: v for k, v in event.items() if k != "days"}
        start = (now + timedelta(days=event["days"])).replace(hour=18, minute=0, second=0)
        spec |= {"calendar_id": calendar_id, "start_at": start.isoformat()}
        (await http.post("/_sim/events", json=spec)).raise_for_status()


async def link_demo_calendar(settings: Settings, simulator_url: str) -> str:
    """Link the console's chat to the simulator's first calendar (idempotent)."""
    from luma import LumaPool
    from services.automations import Automations
    from store.crypto import KeyBox
    from store.db import engine_for, session_factory
    from store.orgs import link_chat, save_org, upsert_user

    async with httpx.AsyncClient(base_url=simulator_url) as http:
        calendar = (await http.get("/_sim/calendars")).json()[0]
        await add_showcase_events(http, calendar["id"])
    async with LumaPool(simulator_url) as pool:
        luma_calendar = await pool.client(
            calendar["api_key"], budget_key=calendar["id"], interactive=True
        ).get_calendar()
    engine = engine_for(settings)
    try:
        async with session_factory(engine).begin() as session:
            await upsert_user(
                session, user_id=CONSOLE_USER, username="organizer", full_name="Demo organizer"
            )
            org = await save_org(
                session,
                calendar_id=luma_calendar.id,
                name=luma_calendar.name,
                luma_key=calendar["api_key"],
                keybox=KeyBox(settings.resolved_encryption_keys()),
            )
            await link_chat(
                session,
                chat_id=CONSOLE_CHAT,
                org_id=org.id,
                kind="private",
                title="Demo console",
                linked_by=CONSOLE_USER,
            )
            org_id = org.id
    finally:
        await engine.dispose()
    automations = await Automations.connect(settings)
    await automations.on_org_linked(org_id)
    return str(calendar["name"])


def _child_env(
    settings: Settings, ports: Ports, local_telegram: bool, catch_mail: bool
) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "LUMA_API_URL": f"http://127.0.0.1:{ports.simulator}",
        "TEMPORAL_ADDRESS": f"127.0.0.1:{ports.temporal}",
        "TEMPORAL_UI_URL": f"http://127.0.0.1:{ports.ui}",
        # Sign-in and unsubscribe links point at this demo's API, whatever its port.
        "PUBLIC_URL": os.environ.get("PUBLIC_URL", f"http://127.0.0.1:{ports.api}"),
    }
    if local_telegram:
        from standins.telegram.state import DEFAULT_TOKEN

        env |= {
            "BOT_TOKEN": DEFAULT_TOKEN,
            "TELEGRAM_API_URL": f"http://127.0.0.1:{ports.telegram}",
        }
    if catch_mail:
        env |= {
            "MAIL_BACKEND": "smtp",
            "MAIL_FROM": "Demo Events <events@demo.localhost>",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(ports.mail),
            "SMTP_STARTTLS": "false",
        }
    return env


def _start_all(supervisor: Supervisor, settings: Settings, ports: Ports, local: bool) -> list[str]:
    catch_mail = settings.mail_backend is MailBackend.OFF
    env = _child_env(settings, ports, local, catch_mail)
    lines = [f"Database           {settings.database_url}"]
    if port_in_use(ports.temporal):
        lines.append(f"Temporal           already running on 127.0.0.1:{ports.temporal}")
    else:
        supervisor.start(
            "temporal",
            temporal_dev_server_command(
                "127.0.0.1", ports.temporal, ports.ui, DATA_DIR / "temporal.db"
            ),
            env,
        )
        supervisor.wait_for_port("temporal", ports.temporal)
        lines.append(f"Temporal           127.0.0.1:{ports.temporal} (history in data/)")
    lines.append(f"Temporal UI        http://127.0.0.1:{ports.ui}")
    services = [("simulator", ports.simulator), ("api", ports.api)]
    for name, port in services + ([("mail catcher", ports.mail)] if catch_mail else []):
        if port_in_use(port):
            raise DemoError(f"port {port} for the {name} is taken; stop what uses it first")
    if catch_mail:
        catcher = [LUMABOT, "mail-catcher", "--port", str(ports.mail), "--dir", str(MAIL_DIR)]
        supervisor.start("mail", catcher, env)
    simulator = [LUMABOT, "simulator", "--port", str(ports.simulator), "--seed", "42"]
    simulator += ["--events", "8", "--state-file", str(SIMULATOR_DATA)]
    supervisor.start("simulator", simulator, env)
    supervisor.start("worker", [LUMABOT, "worker"], env)
    supervisor.wait_for_port("simulator", ports.simulator)
    demo_settings = settings.model_copy(
        update={"temporal_address": env["TEMPORAL_ADDRESS"], "luma_api_url": env["LUMA_API_URL"]}
    )
    calendar = asyncio.run(link_demo_calendar(demo_settings, env["LUMA_API_URL"]))
    lines.append(f"Luma simulator     {env['LUMA_API_URL']} (calendar “{calendar}”)")
    lines.append(f"Luma data          {SIMULATOR_DATA} (kept across restarts, like Luma's)")
    if catch_mail:
        supervisor.wait_for_port("mail", ports.mail)
        lines.append(f"Mail catcher       127.0.0.1:{ports.mail}, emails saved in {MAIL_DIR}/")
    supervisor.start("api", [LUMABOT, "api", "--port", str(ports.api)], env)
    supervisor.wait_for_port("api", ports.api)
    lines.append(f"Control API        http://127.0.0.1:{ports.api}/docs")
    if local:
        if port_in_use(ports.telegram):
            raise DemoError(f"port {ports.telegram} for the local Bot API is taken")
        supervisor.start(
            "telegram", [LUMABOT, "local-telegram", "--port", str(ports.telegram)], env
        )
        supervisor.wait_for_port("telegram", ports.telegram)
        lines.append(f"Local Bot API      {env['TELEGRAM_API_URL']} (no BOT_TOKEN set)")
    supervisor.start("bot", [LUMABOT, "bot"], env)
    if local and not wait_for_bot(env["TELEGRAM_API_URL"]):
        raise DemoError(f"the bot did not start polling; see {supervisor.log_dir}/bot.log")
    lines.append("Bot                " + ("this terminal" if local else "Telegram (BOT_TOKEN)"))
    if local:
        lines.append(f"Files the bot sends {FILES_DIR}/")
    lines.append(f"Logs               {supervisor.log_dir}/")
    return lines


def demo(
    temporal_port: int = typer.Option(7233, help="Temporal frontend port."),
    ui_port: int = typer.Option(8233, help="Temporal UI port."),
    simulator_port: int = typer.Option(8787, help="Luma simulator port."),
    api_port: int = typer.Option(8000, help="Control API port."),
    telegram_port: int = typer.Option(8081, help="Local Bot API port (without BOT_TOKEN)."),
    mail_port: int = typer.Option(8025, help="Local SMTP catcher port (without MAIL_BACKEND)."),
) -> None:
    """Run the whole product locally, with the Luma simulator; Ctrl-C stops it."""
    require_standins("demo")
    settings = load_settings()
    DATA_DIR.mkdir(exist_ok=True)
    settings.resolved_encryption_keys()  # the development key exists before children start
    runner.upgrade(settings.database_url)
    ports = Ports(temporal_port, ui_port, simulator_port, api_port, telegram_port, mail_port)
    local = settings.bot_token is None
    supervisor = Supervisor(DATA_DIR / "logs")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        lines = _start_all(supervisor, settings, ports, local)
        typer.echo("\n".join(["", "Luma Event Intelligence Bot — demo", *lines, ""]))
        if local:
            mail_dir = MAIL_DIR if settings.mail_backend is MailBackend.OFF else None
            run_console(
                f"http://127.0.0.1:{ports.telegram}", files_dir=FILES_DIR, mail_dir=mail_dir
            )
        else:
            typer.echo("Press Ctrl-C to stop.")
            while (dead := supervisor.dead()) is None:
                time.sleep(0.5)
            typer.secho(f"{dead} stopped; see {supervisor.log_dir}/{dead}.log", fg="red")
    except DemoError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo("")
    finally:
        typer.echo("Stopping…")
        supervisor.stop()


def local_telegram(
    port: int = typer.Option(8081, help="Port to listen on."),
) -> None:
    """Serve a local Telegram Bot API stand-in (the demo's console talks through it)."""
    from standins.telegram.server import serve

    serve("127.0.0.1", port)


def mail_catcher(
    port: int = typer.Option(8025, help="Port to listen on."),
    directory: Path = typer.Option(MAIL_DIR, "--dir", help="Where each email is saved."),
) -> None:
    """Accept every email on a local SMTP port and save it as an .eml file (the demo's)."""
    from standins.mail import serve

    serve("127.0.0.1", port, directory)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
    app.command("local-telegram", hidden=True)(local_telegram)
    app.command("mail-catcher", hidden=True)(mail_catcher)
