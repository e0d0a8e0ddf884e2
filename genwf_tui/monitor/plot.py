"""A small text bar chart with axes, drawn with Unicode block elements (pure, no Textual).

:func:`throughput_plot` places each finished chunk's rate (reads/s) on a time axis: one
column per time bucket (the mean of the chunks committed in it), eight levels per text row.
The result carries, per column, the step that contributed most, so the widget can colour
columns by step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from .snapshot import ChunkPoint

BLOCKS = " ▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class Plot:
    lines: tuple[str, ...]  # full lines, y labels and axes included
    plot_left: int  # column where the plot area starts in each line
    col_tags: tuple[str | None, ...]  # per plot column: the step it shows (None: empty)
    y_max: float
    x_max: float
    points: int

    def text(self) -> str:
        return "\n".join(self.lines)


def nice_ceiling(v: float) -> float:
    """1, 2, 2.5 or 5 times a power of ten, at least ``v``."""
    if v <= 0:
        return 1.0
    exp = math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if m * 10**exp >= v * 0.999999:
            return m * 10**exp
    return 10 ** (exp + 1)


def short_num(v: float) -> str:
    if v >= 1_000_000:
        return f"{v / 1_000_000:g}M"
    if v >= 1000:
        return f"{v / 1000:g}k"
    return f"{v:g}"


def fmt_secs(v: float) -> str:
    if v < 60:
        return f"{v:.0f}s" if v >= 10 or v == int(v) else f"{v:.1f}s"
    return f"{v / 60:.1f}m"


def throughput_plot(points: Sequence[ChunkPoint], width: int, height: int, *, unit: str = "reads") -> Plot:
    """Reads/s per finished chunk over time, ``width`` x ``height`` characters in all."""
    pts = [p for p in points if p.unit == unit]
    height = max(height, 3)
    label_w = 7
    plot_w = max(width - label_w - 1, 4)
    plot_h = height - 2  # x axis line + x labels
    if not pts:
        blank = tuple(" " * label_w + "│" + " " * plot_w for _ in range(plot_h))
        axis = " " * label_w + "└" + "─" * plot_w
        msg = "no finished chunks yet"
        return Plot((*blank[:-1], " " * label_w + "│" + msg.center(plot_w)[:plot_w], axis,
                     " " * (label_w + 1) + "time since first chunk"), label_w + 1, (None,) * plot_w, 0.0, 0.0, 0)
    x_max = max(p.t for p in pts) or 1.0
    # a bucket per column; never more columns than points spread out (keeps bars readable)
    cols = plot_w
    sums = [0.0] * cols
    counts = [0] * cols
    tags: list[dict[str, int]] = [dict() for _ in range(cols)]
    for p in pts:
        i = min(cols - 1, int(p.t / x_max * (cols - 1))) if x_max > 0 else 0
        sums[i] += p.rate
        counts[i] += 1
        tags[i][p.step_id] = tags[i].get(p.step_id, 0) + 1
    values = [sums[i] / counts[i] if counts[i] else None for i in range(cols)]
    y_max = nice_ceiling(max(v for v in values if v is not None))
    levels = plot_h * 8
    rows = [[" "] * cols for _ in range(plot_h)]
    for i, v in enumerate(values):
        if v is None:
            continue
        filled = max(1, round(v / y_max * levels))
        for r in range(plot_h):  # r = 0 is the bottom row
            part = min(8, max(0, filled - r * 8))
            rows[plot_h - 1 - r][i] = BLOCKS[part]
    lines = []
    mid = plot_h // 2
    for r in range(plot_h):
        if r == 0:
            lab = short_num(y_max)
        elif r == mid and plot_h >= 4:
            lab = short_num(y_max * (plot_h - r) / plot_h)
        else:
            lab = ""
        lines.append(f"{lab:>{label_w - 1}} ┤" + "".join(rows[r]) if lab else " " * label_w + "│" + "".join(rows[r]))
    lines.append(f"{'0':>{label_w - 1}} └" + "─" * cols)
    left, right = "0s", fmt_secs(x_max)
    lines.append(" " * (label_w + 1) + left + " " * max(1, cols - len(left) - len(right)) + right)
    col_tags = tuple(max(t, key=t.get) if t else None for t in tags)
    return Plot(tuple(lines), label_w + 1, col_tags, y_max, x_max, len(pts))
