"""A task's runs as SVG charts drawn on the server: no script, no library, nothing to fetch.

``run_charts`` turns runs into coordinates; the template ``_charts.html`` draws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from website.services.run_history import RunPoint

__all__ = ["Bar", "DurationChart", "RecordsChart", "duration_chart", "records_chart"]

WIDTH = 720  # the charts' coordinate system; CSS scales them to the page's width
HEIGHT = 180
MARGIN_LEFT = 56  # room for the axis labels
MARGIN_RIGHT = 8
MARGIN_TOP = 10
MARGIN_BOTTOM = 22
MAX_BAR_WIDTH = 24  # a few runs still look like runs, not like a wall
RECORD_KINDS = ("added", "changed", "removed")


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    kind: str  # ok, bad or other: the run's outcome
    label: str  # what a pointer hovering it (or a screen reader) is told


@dataclass(frozen=True)
class DurationChart:
    points: str  # the polyline through the runs that have a duration
    dots: list[Dot]
    top_label: str  # the duration at the top of the axis
    width: int = WIDTH
    height: int = HEIGHT
    left: int = MARGIN_LEFT
    bottom: int = HEIGHT - MARGIN_BOTTOM


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    kind: str  # added, changed or removed
    label: str


@dataclass(frozen=True)
class RecordsChart:
    bars: list[Bar]
    top_label: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = MARGIN_LEFT
    bottom: int = HEIGHT - MARGIN_BOTTOM


def _x(index: int, count: int) -> float:
    span = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    return MARGIN_LEFT + (span * (index + 0.5) / count)


def _y(value: float, top: float) -> float:
    span = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    return HEIGHT - MARGIN_BOTTOM - span * (value / top if top else 0.0)


def _outcome(run: RunPoint) -> str:
    return "ok" if run.succeeded else "bad" if run.failed else "other"


def duration_chart(runs: Sequence[RunPoint]) -> DurationChart:
    """Each run's duration, oldest on the left; the dots say how each run ended."""
    durations = [run.duration for run in runs if run.duration is not None]
    top = max(durations, default=0.0) or 1.0
    dots = [
        Dot(
            x=round(_x(index, len(runs)), 1),
            y=round(_y(run.duration, top), 1),
            kind=_outcome(run),
            label=f"Job {run.job_id}: {run.status}, {run.duration:.3f} s",
        )
        for index, run in enumerate(runs)
        if run.duration is not None
    ]
    return DurationChart(
        points=" ".join(f"{dot.x},{dot.y}" for dot in dots),
        dots=dots,
        top_label=f"{top:.2f} s" if top >= 1 else f"{top * 1000:.0f} ms",
    )


def records_chart(runs: Sequence[RunPoint]) -> RecordsChart:
    """Records added, changed and removed per run, stacked."""
    counts = [
        (run, (run.records_added or 0, run.records_changed or 0, run.records_removed or 0))
        for run in runs
    ]
    top = max((sum(values) for _run, values in counts), default=0) or 1
    slot = (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / max(len(runs), 1)
    bar_width = min(max(slot * 0.7, 1.0), MAX_BAR_WIDTH)
    bars = []
    for index, (run, values) in enumerate(counts):
        base = 0
        for kind, value in zip(RECORD_KINDS, values, strict=True):
            if value:
                low, high = _y(base, top), _y(base + value, top)
                bars.append(
                    Bar(
                        x=round(_x(index, len(runs)) - bar_width / 2, 1),
                        y=round(high, 1),
                        width=round(bar_width, 1),
                        height=round(low - high, 1),
                        kind=kind,
                        label=f"Job {run.job_id}: {value} {kind}",
                    )
                )
                base += value
    return RecordsChart(bars=bars, top_label=str(top))
