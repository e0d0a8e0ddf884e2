"""CoordinationComputeTracker and the run/step metrics derived from it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable

EXCELLENT, ACCEPTABLE, POOR = "EXCELLENT", "ACCEPTABLE", "POOR"
ACCEPTABLE_RATIO = 10.0


def rating(ratio: float, target: float) -> str:
    """EXCELLENT at or above the target, ACCEPTABLE at or above 10, else POOR."""
    if ratio >= target:
        return EXCELLENT
    if ratio >= ACCEPTABLE_RATIO:
        return ACCEPTABLE
    return POOR


@dataclass(frozen=True)
class Metrics:
    compute_ms: float
    coordinate_ms: float

    @property
    def total_ms(self) -> float:
        return self.compute_ms + self.coordinate_ms

    @property
    def granularity_ratio(self) -> float:
        if self.coordinate_ms <= 0:
            return float("inf") if self.compute_ms > 0 else 0.0
        return self.compute_ms / self.coordinate_ms

    @property
    def efficiency_percent(self) -> float:
        return 100.0 * self.compute_ms / self.total_ms if self.total_ms > 0 else 0.0

    def __add__(self, other: "Metrics") -> "Metrics":
        return Metrics(self.compute_ms + other.compute_ms, self.coordinate_ms + other.coordinate_ms)

    @staticmethod
    def sum(items: Iterable["Metrics"]) -> "Metrics":
        total = Metrics(0.0, 0.0)
        for m in items:
            total = total + m
        return total

    def as_dict(self, target: float) -> dict:
        ratio = self.granularity_ratio
        return {
            "compute_time_ms": round(self.compute_ms, 3),
            "coordinate_time_ms": round(self.coordinate_ms, 3),
            "total_time_ms": round(self.total_ms, 3),
            "granularity_ratio": round(ratio, 3) if ratio != float("inf") else None,
            "efficiency_percent": round(self.efficiency_percent, 3),
            "rating": rating(ratio, target),
        }


class CoordinationComputeTracker:
    """Splits wall time into compute (inside step handlers) and coordination (the rest).

    ``start_compute``/``end_compute`` and ``start_coordinate``/``end_coordinate`` bracket
    spans; :meth:`take` hands over what accumulated since the last take (a chunk's share,
    persisted with its checkpoint) with any open span cut at that instant; :meth:`finalize`
    gives the totals of this tracker's life.
    """

    def __init__(self, clock=time.perf_counter):
        self._clock = clock
        self._compute = self._coordinate = 0.0
        self._total_compute = self._total_coordinate = 0.0
        self._open: tuple[str, float] | None = None

    def _close(self) -> None:
        if self._open is not None:
            kind, t0 = self._open
            dt = (self._clock() - t0) * 1000.0
            if kind == "compute":
                self._compute += dt
            else:
                self._coordinate += dt
            self._open = None

    def start_compute(self) -> None:
        self._close()
        self._open = ("compute", self._clock())

    def end_compute(self) -> None:
        self._close()

    def start_coordinate(self) -> None:
        self._close()
        self._open = ("coordinate", self._clock())

    def end_coordinate(self) -> None:
        self._close()

    def record_compute(self, ms: float) -> None:
        """Compute measured inside a compute thread while a coordination span stays open:
        moved from coordination to compute, so thread hand-off counts as coordination."""
        self._compute += ms
        self._coordinate -= ms

    def take(self) -> Metrics:
        """The share since the last take; an open span is cut now and goes on."""
        reopen = self._open[0] if self._open else None
        self._close()
        share = Metrics(self._compute, self._coordinate)
        self._total_compute += self._compute
        self._total_coordinate += self._coordinate
        self._compute = self._coordinate = 0.0
        if reopen:
            self._open = (reopen, self._clock())
        return share

    def finalize(self) -> Metrics:
        self.take()
        self._open = None
        return Metrics(self._total_compute, self._total_coordinate)
