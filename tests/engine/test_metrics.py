"""The CoordinationComputeTracker and ratings, with a fake clock (no timing flakiness)."""

from __future__ import annotations

import pytest

from genwf_tui.engine.metrics import CoordinationComputeTracker, Metrics, rating


def approx_metrics(compute: float, coordinate: float):
    return Metrics(pytest.approx(compute), pytest.approx(coordinate))


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def tick(self, ms: float) -> None:
        self.t += ms / 1000.0


def test_ratings():
    assert rating(150, 100) == "EXCELLENT" and rating(100, 100) == "EXCELLENT"
    assert rating(99.9, 100) == "ACCEPTABLE" and rating(10, 100) == "ACCEPTABLE"
    assert rating(9.99, 100) == "POOR"
    assert rating(60, 50) == "EXCELLENT"


def test_metrics_derived_values():
    m = Metrics(900.0, 100.0)
    assert m.total_ms == 1000 and m.granularity_ratio == 9 and m.efficiency_percent == 90
    assert Metrics.sum([m, Metrics(100.0, 0.0)]) == Metrics(1000.0, 100.0)
    d = m.as_dict(100)
    assert d["rating"] == "POOR" and d["total_time_ms"] == 1000


def test_sequential_spans_partition_wall_time():
    clock = Clock()
    t = CoordinationComputeTracker(clock)
    t.start_coordinate()
    clock.tick(2)
    t.start_compute()
    clock.tick(50)
    t.end_compute()
    clock.tick(1)
    assert t.take() == approx_metrics(50.0, 3.0)
    clock.tick(4)
    t.start_compute()
    clock.tick(10)
    share = t.take()  # cut while computing: the span goes on
    assert share == approx_metrics(10.0, 4.0)
    clock.tick(5)
    t.end_compute()
    assert t.finalize() == approx_metrics(65.0, 7.0)


def test_overlapping_compute_counts_once():
    clock = Clock()
    t = CoordinationComputeTracker(clock)
    t.start_coordinate()
    t.start_compute()  # lane 1
    clock.tick(10)
    t.start_compute()  # lane 2 overlaps
    clock.tick(30)
    t.end_compute()
    clock.tick(10)
    t.end_compute()
    clock.tick(2)
    m = t.finalize()
    assert m == approx_metrics(50.0, 2.0)
    assert m.total_ms == pytest.approx(52.0)  # compute + coordinate == wall


def test_paused_time_is_not_coordination():
    clock = Clock()
    t = CoordinationComputeTracker(clock)
    t.start_coordinate()
    clock.tick(3)
    t.end_coordinate()
    clock.tick(100)  # waiting for other nodes
    t.start_coordinate()
    clock.tick(2)
    assert t.finalize() == approx_metrics(0.0, 5.0)
