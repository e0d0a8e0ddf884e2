"""CoordinationComputeTracker and the run/step metrics derived from it."""

from __future__ import annotations

import threading
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
    """Splits the engine's wall time into compute (while at least one step handler runs) and
    coordination (the rest of the time the tracker is running).

    ``start_coordinate``/``end_coordinate`` start and pause the tracker's clock;
    ``start_compute``/``end_compute`` bracket handler calls and may overlap (several compute
    threads), so compute is the union of their spans and ``compute + coordinate`` equals the
    wall time. Thread-safe. :meth:`take` hands over what accumulated since the last take (a
    chunk's share, persisted with its checkpoint), cutting open spans at that instant;
    :meth:`finalize` gives the totals of this tracker's life.
    """

    def __init__(self, clock=time.perf_counter):
        self._clock = clock
        self._lock = threading.Lock()
        self._active = 0  # handlers running now
        self._compute_since = 0.0  # when the current union of compute spans began (or the last take)
        self._running_since: float | None = None  # None while paused
        self._compute = self._wall = 0.0  # ms since the last take
        self._total = Metrics(0.0, 0.0)

    def start_compute(self) -> None:
        with self._lock:
            if self._active == 0:
                self._compute_since = self._clock()
            self._active += 1

    def end_compute(self) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0:
                self._compute += (self._clock() - self._compute_since) * 1000.0

    def start_coordinate(self) -> None:
        with self._lock:
            if self._running_since is None:
                self._running_since = self._clock()

    def end_coordinate(self) -> None:
        with self._lock:
            if self._running_since is not None:
                self._wall += (self._clock() - self._running_since) * 1000.0
                self._running_since = None

    def record_compute(self, ms: float) -> None:
        """Compute measured elsewhere (inside a compute thread) while the clock runs."""
        with self._lock:
            self._compute += ms

    def take(self) -> Metrics:
        """The share since the last take; open spans are cut now and go on."""
        with self._lock:
            now = self._clock()
            if self._running_since is not None:
                self._wall += (now - self._running_since) * 1000.0
                self._running_since = now
            if self._active:
                self._compute += (now - self._compute_since) * 1000.0
                self._compute_since = now
            share = Metrics(self._compute, max(0.0, self._wall - self._compute))
            self._compute = self._wall = 0.0
            self._total = self._total + share
            return share

    def finalize(self) -> Metrics:
        self.take()
        with self._lock:
            self._running_since = None
            return self._total
