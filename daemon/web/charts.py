"""Geometry for the dashboard's charts, drawn by the templates as inline SVG.

Pure: numbers in, coordinates and words out. The SVG needs no script and no inline style (the
CSP forbids both); every bar and point carries a <title> and a text label, so the chart reads
without colour, without a mouse and in a screen reader.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from daemon.engine.segments import Nps, segment

WIDTH, HEIGHT = 640, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 12, 22, 34  # the plot area's margins, for labels


def whole(value: float) -> int:
    """Half up whatever the sign, as `vouch report` rounds."""
    return math.floor(value + 0.5)


def signed(value: float | None) -> str:
    """An NPS figure as the owner reads it: "+48", "0", "-12", "—" for none."""
    if value is None:
        return "—"
    rounded = whole(value)
    return f"{rounded:+d}" if rounded else "0"


@dataclass(frozen=True)
class Bar:
    score: int
    count: int
    segment: str
    x: float
    y: float
    width: float
    height: float

    @property
    def centre(self) -> float:
        return self.x + self.width / 2

    @property
    def title(self) -> str:
        return f"score {self.score}: {self.count} response{'' if self.count == 1 else 's'}"


@dataclass(frozen=True)
class Distribution:
    bars: tuple[Bar, ...]
    baseline: float
    total: int

    @property
    def summary(self) -> str:
        counts = ", ".join(f"{b.score}: {b.count}" for b in self.bars)
        return f"Responses per score from 0 to 10 ({self.total} in all): {counts}."


def distribution(counts: Sequence[int]) -> Distribution:
    """Eleven bars, one per score, scaled to the tallest."""
    if len(counts) != 11:
        raise ValueError(f"a distribution has 11 counts (scores 0-10), not {len(counts)}")
    tallest = max(max(counts), 1)
    plot_height = HEIGHT - _TOP - _BOTTOM
    slot = (WIDTH - _LEFT - _RIGHT) / 11
    baseline = HEIGHT - _BOTTOM
    bars = []
    for score, count in enumerate(counts):
        height = plot_height * count / tallest
        bars.append(
            Bar(
                score=score,
                count=count,
                segment=segment(score).value,
                x=round(_LEFT + score * slot + slot * 0.15, 1),
                y=round(baseline - height, 1),
                width=round(slot * 0.7, 1),
                height=round(height, 1),
            )
        )
    return Distribution(tuple(bars), baseline, sum(counts))


@dataclass(frozen=True)
class Point:
    month: str  # YYYY-MM
    label: str  # e.g. "Mar" (and the year under January and the first month)
    year: str | None
    x: float
    nps: Nps
    y: float | None  # None: no responses that month
    low_y: float | None
    high_y: float | None

    @property
    def title(self) -> str:
        if self.nps.score is None or self.nps.low is None or self.nps.high is None:
            return f"{self.month}: no responses"
        return (
            f"{self.month}: NPS {signed(self.nps.score)} (95% interval {signed(self.nps.low)} "
            f"to {signed(self.nps.high)}), {self.nps.responses} "
            f"response{'' if self.nps.responses == 1 else 's'}"
        )


@dataclass(frozen=True)
class Trend:
    points: tuple[Point, ...]
    line: str  # polyline points through the months that have responses, "x,y x,y ..."
    grid: tuple[tuple[int, float], ...]  # (NPS value, y) for the horizontal guides

    @property
    def summary(self) -> str:
        said = [p.title for p in self.points if p.nps.score is not None]
        return "Monthly NPS. " + ("; ".join(said) if said else "No responses yet.") + "."


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _y(value: float) -> float:
    """NPS -100..100 to the plot's height, 100 at the top."""
    plot_height = HEIGHT - _TOP - _BOTTOM
    return round(_TOP + plot_height * (100 - value) / 200, 1)


def trend(months: Sequence[str], scores: Sequence[Nps]) -> Trend:
    """One point per month (with its 95% interval as a whisker); months without responses
    are left as gaps in the points but the line joins the months around them."""
    if len(months) != len(scores):
        raise ValueError("one NPS per month")
    slot = (WIDTH - _LEFT - _RIGHT) / max(len(months), 1)
    points = []
    for i, (month, nps) in enumerate(zip(months, scores, strict=True)):
        year, number = month.split("-")
        points.append(
            Point(
                month=month,
                label=_MONTHS[int(number) - 1],
                year=year if i == 0 or number == "01" else None,
                x=round(_LEFT + slot * (i + 0.5), 1),
                nps=nps,
                y=_y(nps.score) if nps.score is not None else None,
                low_y=_y(nps.low) if nps.low is not None else None,
                high_y=_y(nps.high) if nps.high is not None else None,
            )
        )
    line = " ".join(f"{p.x},{p.y}" for p in points if p.y is not None)
    grid = tuple((value, _y(value)) for value in (100, 50, 0, -50, -100))
    return Trend(tuple(points), line, grid)


ROAD_LEFT, ROAD_ROW, ROAD_BAR = 84, 38, 28  # room for the stage names; a row's height; a bar's
_ROAD_RIGHT = 60  # room for the count after the longest bar


@dataclass(frozen=True)
class StageBar:
    stage: str
    count: int
    y: float
    width: float

    @property
    def title(self) -> str:
        return f"{self.stage.capitalize()}: {self.count} customer{'' if self.count == 1 else 's'}"


@dataclass(frozen=True)
class Road:
    bars: tuple[StageBar, ...]
    height: int  # the chart's height: one row per stage
    left: int = ROAD_LEFT  # where the bars start, after the stage names
    bar: int = ROAD_BAR  # a bar's thickness

    @property
    def summary(self) -> str:
        return "Customers at each stage now: " + ", ".join(b.title for b in self.bars) + "."


def road(counts: Mapping[str, int]) -> Road:
    """One horizontal bar per stage, in the road's order, scaled to the largest."""
    largest = max([*counts.values(), 1])
    room = WIDTH - ROAD_LEFT - _ROAD_RIGHT
    bars = tuple(
        StageBar(stage, n, 4 + i * ROAD_ROW, round(room * n / largest, 1))
        for i, (stage, n) in enumerate(counts.items())
    )
    return Road(bars, 8 + len(bars) * ROAD_ROW)
