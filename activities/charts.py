"""Charts posted with summaries, rendered headless with matplotlib.

`Figure` is used directly rather than pyplot: no global state, no display backend, safe in
the worker's threads.
"""

from __future__ import annotations

import io

from matplotlib.axes import Axes
from matplotlib.figure import Figure

COLORS = {
    "approved": "#2e7d32",
    "checked in": "#1565c0",
    "pending": "#f9a825",
    "waitlist": "#8e24aa",
    "declined": "#c62828",
    "invited": "#9e9e9e",
    "registered": "#78909c",
    "attended": "#1565c0",
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
    return _png(figure, axes, title)


def grouped_bar_chart_png(
    title: str, labels: list[str], series: dict[str, list[int | None]]
) -> bytes:
    """Several series side by side per label (trends: registered, approved, attended).

    A value of None is absent (attendance of a group with no event over): no bar, labelled "—".
    """
    figure = Figure(figsize=(7, 0.35 * len(labels) * max(len(series), 1) + 1.6), dpi=120)
    axes = figure.subplots()
    height = 0.8 / max(len(series), 1)
    positions = range(len(labels))
    for index, (name, values) in enumerate(series.items()):
        bars = axes.barh(
            [p + index * height for p in positions],
            [value or 0 for value in values],
            height=height,
            label=name,
            color=COLORS.get(name, "#546e7a"),
        )
        texts = ["—" if value is None else str(value) for value in values]
        axes.bar_label(bars, labels=texts, padding=2, fontsize=7)
    axes.set_yticks([p + height * (len(series) - 1) / 2 for p in positions], labels=labels)
    axes.invert_yaxis()
    axes.legend(loc="lower right", fontsize=8)
    return _png(figure, axes, title)


def _png(figure: Figure, axes: Axes, title: str) -> bytes:
    axes.set_title(title[:80])
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
