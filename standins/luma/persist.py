"""Keep the simulator's Luma data in a file, so a demo restart finds what the user did.

The real Luma keeps every approval; a simulator that forgot them at each restart would make the
product look as if it had lost the user's work (the start-up sync would "revert" it). The data
is pickled (a local stand-in reading its own file) every couple of seconds after a change and
at shutdown, written atomically; a file from another simulator version is set aside and the
seeded data is used instead, which the start-up message says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from standins.luma.state import SimulatorState

FORMAT = 2  # bump when the model's dataclasses change shape
SAVE_EVERY_SECONDS = 2.0

log = logging.getLogger(__name__)


class Snapshots:
    """Restores the state from `path` at start and saves it there after changes."""

    def __init__(self, state: SimulatorState, path: Path) -> None:
        self.state = state
        self.path = path
        self._saved_mark: tuple[int, int, int] | None = None

    def restore(self) -> str:
        """Load the file if there is a usable one; returns what happened, in words."""
        if not self.path.exists():
            return f"seeded data; saved to {self.path} from now on"
        try:
            stored = pickle.loads(self.path.read_bytes())
            if stored.get("format") != FORMAT:
                raise ValueError(f"format {stored.get('format')}, expected {FORMAT}")
            self.state.load_snapshot(stored["data"])
        except Exception as exc:  # any unreadable file: start from the seed, keep the old one
            aside = self.path.with_suffix(".unreadable")
            self.path.replace(aside)
            return f"seeded data ({self.path} was unreadable: {exc}; moved to {aside})"
        self._saved_mark = self._mark()
        return f"restored from {self.path}"

    def save(self) -> None:
        """Write the data atomically, unless nothing changed since the last save."""
        mark = self._mark()
        if mark == self._saved_mark:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        partial.write_bytes(
            pickle.dumps({"format": FORMAT, "data": self.state.data_snapshot()}, protocol=5)
        )
        partial.replace(self.path)
        self._saved_mark = mark

    def _mark(self) -> tuple[int, int, int]:
        """Changes we know of: writes through the API, and calendars (an organization's) and
        events added by control calls."""
        calendars = self.state.calendars
        events = sum(len(self.state.calendar(c.id).events) for c in calendars)
        return len(self.state.writes), len(calendars), events

    async def keep_saving(self) -> None:
        while True:
            await asyncio.sleep(SAVE_EVERY_SECONDS)
            try:
                self.save()
            except OSError as exc:
                log.warning("could not save the simulator's data: %s", exc)


def keep_saved(app: FastAPI, snapshots: Snapshots) -> FastAPI:
    """Wrap the app's lifespan: save periodically while serving, and once more at stop."""
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[Any]:
        async with inner(served) as value:
            saver = asyncio.create_task(snapshots.keep_saving())
            try:
                yield value
            finally:
                saver.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await saver
                snapshots.save()

    app.router.lifespan_context = lifespan
    return app
