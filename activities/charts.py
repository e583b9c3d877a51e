"""Charts posted with summaries, rendered headless with matplotlib.

`Figure` is used directly rather than pyplot: no global state, no display backend, safe in
the worker's threads.
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure

COLORS = {
    "approved": "#2e7d32",
    "checked in": "#1565c0",
    "pending": "#f9a825",
    "waitlist": "#8e24aa",
    "declined": "#c62828",
    "invited": "#9e9e9e",
}


def bar_chart_png(title: str, values: dict[str, int]) -> bytes:
    """A small horizontal bar chart as PNG bytes."""
    labels = list(values)
    figure = Figure(figsize=(6, 0.5 * len(labels) + 1.2), dpi=120)
    axes = figure.subplots()
    bars = axes.barh(
        labels,
        [values[label] for label in labels],
        color=[COLORS.get(label, "#546e7a") for label in labels],
    )
    axes.invert_yaxis()
    axes.bar_label(bars, padding=3)
    axes.set_title(title[:80])
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
