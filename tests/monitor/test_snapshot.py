"""Pure logic of the dashboard's view model: rows, diffs, windows, filters, sorting, metrics, plot."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from genwf_tui.engine.metrics import Metrics
from genwf_tui.monitor.plot import nice_ceiling, throughput_plot
from genwf_tui.monitor.runs import LaunchError, parse_launch
from genwf_tui.monitor.snapshot import (
    INTERRUPTED, ChunkPoint, RunRow, StepView, build_row, chunk_points, comparable_output, diff_rows,
    granularity_rows, merge_window, parse_filter, progress_of, sort_rows,
)
from genwf_tui.storage.records import ChunkRecord, ExecutionRecord


def rec(eid="e1", status="RUNNING", created=100.0, output=None, **kw) -> ExecutionRecord:
    base = dict(execution_id=eid, definition_id="genomic-pipeline", definition_version=1, status=status,
                current_step_id="align", input_json=json.dumps({"reads": 1000, "chunk_size": 100}),
                output_json=json.dumps(output) if output else None, error=None, node_id="n1", version=3,
                owner_incarnation="inc-1", owner_pid=123, owner_host="h", recovery_count=0, cancel_requested=False,
                metadata_json="{}", created_at=created, started_at=created, completed_at=None, updated_at=created + 5,
                last_heartbeat=created + 5, last_progress_at=created + 5, heartbeat_age=0.1, progress_age=0.1)
    base.update(kw)
    return ExecutionRecord(**base)


def step(sid="qc", done=5, total=10, compute=900.0, coord=10.0, status="RUNNING") -> StepView:
    return StepView(sid, sid.upper(), status, 1, None, done, total, done * 100, compute, coord)


def row(eid, created=100.0, **kw) -> RunRow:
    return dataclasses.replace(build_row(rec(eid, created=created), (step(),), None, created + 10), **kw)


def test_build_row_derives_interrupted_progress_ratio_and_throughput():
    steps = (step("qc", 10, 10, 900, 10, "COMPLETED"), step("align", 5, 10, 900, 8), step("call", 0, None, 0, 0, "PENDING"))
    r = build_row(rec(), steps, None, now=110.0)
    assert r.status == "RUNNING" and not r.interrupted and r.why is None
    assert (r.chunks_done, r.chunks_total) == (15, 20)
    assert r.ratio == pytest.approx(1800 / 18)
    assert r.throughput == pytest.approx(1000 * 15 / 20 / 10.0)
    gone = build_row(rec(), steps, "owner process 123 is gone", now=110.0)
    assert gone.status == INTERRUPTED and gone.interrupted and gone.resumable and gone.why
    done = build_row(rec(status="COMPLETED", output={"throughput_reads_per_sec": 1234.5}), steps, "ignored", 110.0)
    assert done.status == "COMPLETED" and done.why is None and done.throughput == 1234.5


def test_progress_counts_unplanned_steps_as_unknown():
    assert progress_of([step("qc", 3, None)]) == (3, 3)
    assert progress_of([]) == (0, 0)


def test_diff_rows_adds_changes_and_removes_by_key():
    a, b, c = row("a"), row("b"), row("c")
    old = {"a": a, "b": b}
    b2 = dataclasses.replace(b, chunks_done=9)
    d = diff_rows(old, [b2, c])
    assert [r.execution_id for r in d.added] == ["c"]
    assert d.changed == (b2,)
    assert d.removed == ("a",)
    assert diff_rows({"a": a}, [a]).empty


def test_merge_window_keeps_the_newest_by_creation():
    window = {k: row(k, created=t) for k, t in (("a", 1.0), ("b", 2.0), ("c", 3.0))}
    out = merge_window(window, [row("d", created=4.0), row("old", created=0.5)], ["b"], limit=3)
    assert list(out) == ["d", "c", "a"]


def test_filter_parsing_and_matching():
    f = parse_filter("running  node-2")
    assert f.statuses == ("RUNNING",) and f.search == "node-2" and f.storage_statuses() == ["RUNNING"]
    i = parse_filter("interrupted")
    assert i.interrupted and i.storage_statuses() == ["RUNNING"] and i.search is None
    live, dead = row("aaa"), row("bbb", status=INTERRUPTED, why="gone")
    assert i.matches(dead) and not i.matches(live)
    assert f.matches(dataclasses.replace(live, node_id="node-2")) and not f.matches(live)
    assert parse_filter("running").matches(dead)  # an interrupted run is still stored RUNNING
    assert parse_filter("AAA").matches(live) and not parse_filter("zzz").matches(live)
    assert parse_filter("").empty and parse_filter("failed done").statuses == ("COMPLETED", "FAILED")


def test_sort_rows_by_every_column_is_total():
    rows = [row("a", 1.0, ratio=None), row("b", 2.0, ratio=5.0), row("c", 3.0, ratio=math.inf)]
    assert [r.execution_id for r in sort_rows(rows, "ratio", reverse=True)] == ["c", "b", "a"]
    assert [r.execution_id for r in sort_rows(rows, "age", reverse=True)] == ["c", "b", "a"]
    for column in ("id", "status", "node", "reads", "progress", "step", "throughput"):
        assert len(sort_rows(rows, column)) == 3


def test_granularity_rows_rate_against_target():
    steps = (step("qc", compute=1000, coord=5), step("align", compute=200, coord=10), step("call", compute=10, coord=5))
    rows = granularity_rows(steps, target=100)
    assert [r.rating for r in rows] == ["EXCELLENT", "ACCEPTABLE", "POOR", "ACCEPTABLE"]
    run = rows[-1]
    m = Metrics(1210, 20)
    assert (run.compute_ms, run.coordinate_ms, run.total_ms) == (1210, 20, 1230)
    assert run.ratio == pytest.approx(m.granularity_ratio) and run.efficiency == pytest.approx(m.efficiency_percent)
    assert granularity_rows((), 100)[-1].rating == "-"  # nothing measured yet


def test_chunk_points_and_rate():
    chunks = [ChunkRecord("qc", i, 500, 90.0, 10.0, "n", "inc", 1, 1000.0 + 0.1 * (i + 1)) for i in range(3)]
    pts = chunk_points(chunks, {"qc": "reads"})
    assert [round(p.t, 3) for p in pts] == [0.1, 0.2, 0.3]
    assert pts[0].rate == pytest.approx(5000.0)


def test_throughput_plot_has_axes_and_scales():
    pts = [ChunkPoint("qc", i, float(i), 1000, 90.0, 10.0) for i in range(10)]
    plot = throughput_plot(pts, 60, 10)
    assert len(plot.lines) == 10 and all(len(line) == 60 for line in plot.lines[:-1])
    assert plot.y_max == nice_ceiling(10_000) == 10_000
    assert "10k" in plot.lines[0] and "└" in plot.lines[-2] and plot.lines[-1].rstrip().endswith("9s")
    assert "█" in plot.text() and plot.points == 10
    assert throughput_plot([ChunkPoint("call", 0, 0.0, 10, 1, 1, unit="bp")], 40, 6).points == 0
    assert "no finished chunks" in throughput_plot((), 40, 6).text()
    assert nice_ceiling(3.1) == 5 and nice_ceiling(0.0) == 1.0 and nice_ceiling(1000) == 1000


def test_comparable_output_drops_timings_and_id():
    a = {"total_reads": 5, "metrics": {"x": 1}, "step_metrics": {}, "throughput_reads_per_sec": 3.0, "execution_id": "a"}
    b = dict(a, metrics={"x": 2}, execution_id="b", throughput_reads_per_sec=9.0)
    assert comparable_output(a) == comparable_output(b) == {"total_reads": 5}


@pytest.mark.parametrize("fields,errors", [
    (("1000", "42", "500"), None),
    (("1_000", "0", "1,000"), None),
    (("", "42", "500"), {"reads"}),
    (("abc", "-1", "0"), {"reads", "seed", "chunk_size"}),
])
def test_parse_launch(fields, errors):
    if errors is None:
        req = parse_launch(*fields)
        assert req.reads > 0 and req.chunk_size > 0
    else:
        with pytest.raises(LaunchError) as exc:
            parse_launch(*fields)
        assert set(exc.value.errors) == errors
