"""Helpers for tests of the shared request limits (`store.request_limits`)."""

from __future__ import annotations

import asyncio
import time

COUNTING_WINDOW = 86_400.0
"""A day: a test whose limits take a window length counts in one this long, so a slow run on a
busy machine never meets an edge (which frees slots and breaks an exact count)."""


async def clear_of_window_edge(window: float, margin: float = 3.0) -> None:
    """Wait, if need be, until the next `margin` seconds stay inside one window: a test that
    counts exactly must not straddle an edge, where the sliding estimate frees a slot."""
    left = window - time.time() % window
    if left < margin:
        await asyncio.sleep(left + 0.05)
