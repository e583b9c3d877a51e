"""`lumabot demo`: the embedded product on one machine, supervised in one command."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import typer

from cli.context import load_settings
from core.binaries import temporal_cli
from core.settings import DATA_DIR
from migrations import runner

SEARCH_ATTRIBUTES = ("OrgId=Keyword", "EventId=Keyword", "Kind=Keyword", "RequestedBy=Keyword")


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
    for attribute in SEARCH_ATTRIBUTES:
        command += ["--search-attribute", attribute]
    return command


def wait_for_port(host: str, port: int, timeout: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with code {process.returncode} before listening")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"did not listen on {host}:{port} within {timeout:.0f} s")


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) == 0


class Supervisor:
    """Starts child processes, stops them all (children first) on Ctrl-C or any exit."""

    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, command: list[str], log_file: Path) -> subprocess.Popen[bytes]:
        log = log_file.open("ab")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self.children.append((name, process))
        return process

    def stop(self) -> None:
        for _, process in reversed(self.children):
            if process.poll() is None:
                process.terminate()
        for name, process in reversed(self.children):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                typer.echo(f"{name} did not stop in 10 s; killing it")
                process.kill()

    def wait(self) -> None:
        """Block until Ctrl-C / SIGTERM or until a child dies."""
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while True:
            for name, process in self.children:
                if process.poll() is not None:
                    typer.secho(f"{name} stopped (exit {process.returncode}).", fg="red")
                    return
            time.sleep(0.5)


def demo(
    temporal_port: int = typer.Option(7233, help="Temporal frontend port."),
    ui_port: int = typer.Option(8233, help="Temporal UI port."),
) -> None:
    """Run the product locally: Temporal dev server with its UI, and the migrated database."""
    settings = load_settings()
    DATA_DIR.mkdir(exist_ok=True)
    runner.upgrade(settings.database_url)
    supervisor = Supervisor()
    lines = [f"Database         {settings.database_url} (migrated to {runner.head()})"]
    try:
        if port_in_use("127.0.0.1", temporal_port):
            lines.append(f"Temporal         already running on 127.0.0.1:{temporal_port}")
        else:
            process = supervisor.start(
                "Temporal dev server",
                temporal_dev_server_command(
                    "127.0.0.1", temporal_port, ui_port, DATA_DIR / "temporal.db"
                ),
                DATA_DIR / "temporal.log",
            )
            wait_for_port("127.0.0.1", temporal_port, 30, process)
            lines.append(f"Temporal         127.0.0.1:{temporal_port} (history in data/)")
            lines.append(f"Temporal UI      http://127.0.0.1:{ui_port}")
        typer.echo("\n".join(["", "Luma Event Intelligence Bot — demo", *lines, ""]))
        if not supervisor.children:
            return
        typer.echo("Press Ctrl-C to stop.")
        supervisor.wait()
    except KeyboardInterrupt:
        typer.echo("\nStopping…")
    finally:
        supervisor.stop()


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
