"""`lumabot simulator`: a local Luma API with seeded calendars, for demos and benchmarks."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.context import require_standins


def simulator(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8787, help="Port to listen on."),
    seed: int = typer.Option(42, help="Same seed, same calendars, keys, events and guests."),
    calendars: int = typer.Option(2, min=0, help="Calendars to generate, one key each."),
    organizations: int = typer.Option(
        0, min=0, help="Organizations to generate: one organization key over 3 calendars each."
    ),
    events: int = typer.Option(12, min=0, help="Events per calendar, past and upcoming."),
    guests: int = typer.Option(120, min=0, help="Average guests per event."),
    rate_limit: int = typer.Option(200, min=0, help="Requests per minute per key; 0 lifts it."),
    latency_ms: int = typer.Option(0, min=0, help="Delay added to every Luma request."),
    fault_rate: float = typer.Option(0.0, min=0, max=1, help="Share of requests answered 500."),
    timeout_rate: float = typer.Option(0.0, min=0, max=1, help="Share of requests that hang."),
    webhook_url: str | None = typer.Option(None, help="POST guest.updated/registered here."),
    state_file: Path | None = typer.Option(
        None, help="Keep the Luma data in this file across restarts (the demo's data/)."
    ),
) -> None:
    """Serve a simulated Luma API (legacy /public/v1 and current /v1 paths)."""
    require_standins("simulator")
    from standins.luma import SimulatorConfig, SimulatorState, serve  # heavy: FastAPI app
    from standins.luma.persist import Snapshots

    config = SimulatorConfig(
        seed=seed,
        calendars=calendars,
        organizations=organizations,
        events_per_calendar=events,
        guests_per_event=guests,
        rate_limit=rate_limit or None,
        latency_seconds=latency_ms / 1000,
        error_rate=fault_rate,
        timeout_rate=timeout_rate,
        webhook_url=webhook_url,
    )
    state = SimulatorState(config)
    snapshots = Snapshots(state, state_file) if state_file else None
    data_line = f"Data: {snapshots.restore()}" if snapshots else "Data: seeded, in memory"
    base_url = f"http://{host}:{port}"
    lines = [
        "",
        f"Luma API simulator on {base_url}  (seed {seed})",
        "Paths: /v1/... (current) and /public/v1/... (legacy); control: /_sim/...",
        "Point the bot at it with LUMA_API_URL=" + base_url,
        data_line,
        "",
        "Calendars (header x-luma-api-key):",
    ]
    for handle in state.calendars:
        events_count = len(state.calendar(handle.id).events)
        lines.append(f"  {handle.name:<24} {handle.id}  {handle.api_key}  ({events_count} events)")
    for organization in state.organizations:
        names = ", ".join(calendar.name for calendar in organization.calendars)
        lines.append(f"Organization key of {organization.name} ({names}): {organization.api_key}")
    typer.echo("\n".join([*lines, ""]))
    serve(host, port, state=state, snapshots=snapshots)


def register(app: typer.Typer) -> None:
    app.command("simulator")(simulator)
