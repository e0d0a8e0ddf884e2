"""What the dashboard shows, as immutable values, and the pure logic that builds and compares them.

Nothing here touches a database, a thread or Textual: the poller turns storage records into
these frozen dataclasses and hands them to the UI as one :class:`Snapshot` per poll; the UI
applies :func:`diff_rows` to its table. Everything is plain data, so it is safe to pass
between threads and easy to test.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

from ..engine.metrics import Metrics, rating
from ..storage.records import STATUSES, ChunkRecord, EventRecord, ExecutionRecord, StepRecord
from ..vocab import INTERRUPTED

DISPLAY_STATUSES = (*STATUSES, INTERRUPTED)


# -- values ------------------------------------------------------------------------------
@dataclass(frozen=True)
class StepView:
    step_id: str
    label: str
    status: str
    attempt: int
    error: str | None
    chunks_done: int
    chunks_total: int | None
    items_done: int
    compute_ms: float
    coordinate_ms: float
    unit: str = "reads"

    @property
    def metrics(self) -> Metrics:
        return Metrics(self.compute_ms, self.coordinate_ms)

    @property
    def fraction(self) -> float:
        if self.status == "COMPLETED":
            return 1.0
        if not self.chunks_total:
            return 0.0
        return min(1.0, self.chunks_done / self.chunks_total)


@dataclass(frozen=True)
class RunRow:
    """One line of the runs table (one execution, as of one poll)."""

    execution_id: str
    status: str  # displayed: a stored status, or INTERRUPTED
    stored_status: str
    why: str | None  # why it counts as interrupted
    node_id: str | None
    reads: int | None
    chunks_done: int
    chunks_total: int  # over all steps; 0 when not planned yet
    current_step: str | None
    ratio: float | None  # granularity ratio so far (None: nothing measured)
    throughput: float | None  # reads per second
    created_at: float
    updated_at: float
    version: int
    owner_pid: int | None = None
    owner_host: str | None = None
    owner_incarnation: str | None = None
    recovery_count: int = 0
    cancel_requested: bool = False
    error: str | None = None

    @property
    def short_id(self) -> str:
        return self.execution_id[:8]

    @property
    def interrupted(self) -> bool:
        return self.status == INTERRUPTED

    @property
    def active(self) -> bool:
        """Still owned and going (RUNNING and not interrupted)."""
        return self.status == "RUNNING"

    @property
    def resumable(self) -> bool:
        return self.status in (INTERRUPTED, "PENDING")


@dataclass(frozen=True)
class ChunkPoint:
    """One finished chunk, placed on the run's time axis (seconds since its first chunk)."""

    step_id: str
    chunk_index: int
    t: float
    items: int
    compute_ms: float
    coordinate_ms: float
    unit: str = "reads"

    @property
    def rate(self) -> float:
        """Items per second of this chunk (compute + coordination)."""
        ms = self.compute_ms + self.coordinate_ms
        return self.items / (ms / 1000.0) if ms > 0 else 0.0


@dataclass(frozen=True)
class EventView:
    at: float
    kind: str
    node_id: str | None
    detail: str


@dataclass(frozen=True)
class GranularityRow:
    label: str
    compute_ms: float
    coordinate_ms: float
    total_ms: float
    ratio: float  # may be inf
    efficiency: float
    rating: str


@dataclass(frozen=True)
class RunDetail:
    row: RunRow
    steps: tuple[StepView, ...]
    chunks: tuple[ChunkPoint, ...]
    events: tuple[EventView, ...]
    input_summary: str
    results: tuple[tuple[str, str], ...] = ()  # (label, value) of a finished run
    started_at: float | None = None
    completed_at: float | None = None


@dataclass(frozen=True)
class Snapshot:
    """Everything the UI needs after one poll. ``ok`` False: the database did not answer;
    rows and detail then are the last known ones and ``error`` says why."""

    seq: int
    taken_at: float  # wall clock (time.time()) of the last successful read
    ok: bool
    rows: tuple[RunRow, ...] = ()
    counts: tuple[tuple[str, int], ...] = ()
    detail: RunDetail | None = None
    selected: str | None = None
    error: str | None = None
    filter_text: str = ""
    poll_ms: float = 0.0
    window_full: bool = False  # the window hit dashboard.max_rows

    @property
    def counts_map(self) -> dict[str, int]:
        return dict(self.counts)


@dataclass(frozen=True)
class RowsDiff:
    added: tuple[RunRow, ...] = ()
    changed: tuple[RunRow, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)


# -- building values from records --------------------------------------------------------
def step_view(s: StepRecord, label: str | None = None, unit: str = "reads") -> StepView:
    return StepView(s.step_id, label or s.step_id, s.status, s.attempt, s.error, s.chunks_done, s.chunks_total,
                    s.items_done, s.compute_ms, s.coordinate_ms, unit)


def _reads_of(rec: ExecutionRecord) -> int | None:
    try:
        reads = json.loads(rec.input_json).get("reads")
    except (ValueError, AttributeError):
        return None
    return reads if isinstance(reads, int) else None


def progress_of(steps: Sequence[StepView]) -> tuple[int, int]:
    """(chunks done, chunks total) over every planned step; unplanned steps count as unknown."""
    done = sum(s.chunks_done for s in steps)
    total = sum(s.chunks_total or 0 for s in steps)
    return done, max(total, done)


def run_metrics(steps: Iterable[StepView]) -> Metrics:
    return Metrics.sum(s.metrics for s in steps)


def build_row(rec: ExecutionRecord, steps: Sequence[StepView], why: str | None, now: float) -> RunRow:
    """A table row from a record, its steps and the liveness judgement (``why``)."""
    status = INTERRUPTED if rec.status == "RUNNING" and why else rec.status
    done, total = progress_of(steps)
    m = run_metrics(steps)
    ratio: float | None = None if m.total_ms <= 0 else m.granularity_ratio
    reads = _reads_of(rec)
    throughput: float | None = None
    output = None
    if rec.output_json:
        try:
            output = json.loads(rec.output_json)
        except ValueError:
            output = None
    if output and isinstance(output.get("throughput_reads_per_sec"), (int, float)):
        throughput = float(output["throughput_reads_per_sec"])
    elif reads and total and rec.started_at:
        end = rec.completed_at or (now if rec.status == "RUNNING" else rec.updated_at)
        wall = end - rec.started_at
        if wall > 0 and done:
            throughput = reads * (done / total) / wall
    return RunRow(
        execution_id=rec.execution_id, status=status, stored_status=rec.status, why=why if status == INTERRUPTED else None,
        node_id=rec.node_id, reads=reads, chunks_done=done, chunks_total=total, current_step=rec.current_step_id,
        ratio=ratio, throughput=throughput, created_at=rec.created_at, updated_at=rec.updated_at, version=rec.version,
        owner_pid=rec.owner_pid, owner_host=rec.owner_host, owner_incarnation=rec.owner_incarnation,
        recovery_count=rec.recovery_count, cancel_requested=rec.cancel_requested, error=rec.error,
    )


def chunk_points(chunks: Sequence[ChunkRecord], units: Mapping[str, str] | None = None) -> tuple[ChunkPoint, ...]:
    """Chunks in commit order on a time axis starting at the first commit."""
    if not chunks:
        return ()
    ordered = sorted(chunks, key=lambda c: (c.committed_at, c.step_id, c.chunk_index))
    t0 = ordered[0].committed_at - (ordered[0].compute_ms + ordered[0].coordinate_ms) / 1000.0
    units = units or {}
    return tuple(ChunkPoint(c.step_id, c.chunk_index, max(0.0, c.committed_at - t0), c.items, c.compute_ms,
                            c.coordinate_ms, units.get(c.step_id, "reads")) for c in ordered)


def event_views(events: Sequence[EventRecord]) -> tuple[EventView, ...]:
    return tuple(EventView(e.at, e.kind, e.node_id, e.detail or "") for e in events)


def granularity_rows(steps: Sequence[StepView], target: float) -> tuple[GranularityRow, ...]:
    """The granularity-ratio table: one row per step, then the run (rating against ``target``)."""
    out = []
    for label, m in [(s.label, s.metrics) for s in steps] + [("Run", run_metrics(steps))]:
        out.append(GranularityRow(label, m.compute_ms, m.coordinate_ms, m.total_ms, m.granularity_ratio,
                                  m.efficiency_percent, rating(m.granularity_ratio, target) if m.total_ms > 0 else "-"))
    return tuple(out)


def results_summary(output: Mapping | None) -> tuple[tuple[str, str], ...]:
    if not output:
        return ()
    out = []
    for key, label in (("total_reads", "reads"), ("qc_passed", "QC passed"), ("variants_called", "variants"),
                       ("throughput_reads_per_sec", "reads/s"), ("vcf_sha256", "VCF sha256")):
        if key in output:
            v = output[key]
            text = f"{v:,.0f}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)[:16]
            out.append((label, text))
    return tuple(out)


def comparable_output(output: Mapping | None) -> dict:
    """A run's results minus the fields that differ between identical runs (timings, id)."""
    drop = {"metrics", "step_metrics", "throughput_reads_per_sec", "execution_id"}
    return {k: v for k, v in (output or {}).items() if k not in drop}


# -- comparing ---------------------------------------------------------------------------
def diff_rows(old: Mapping[str, RunRow], new: Sequence[RunRow]) -> RowsDiff:
    """What the table must do to go from ``old`` (by id) to ``new``: add, update, remove."""
    seen = set()
    added, changed = [], []
    for row in new:
        seen.add(row.execution_id)
        before = old.get(row.execution_id)
        if before is None:
            added.append(row)
        elif before != row:
            changed.append(row)
    removed = tuple(k for k in old if k not in seen)
    return RowsDiff(tuple(added), tuple(changed), removed)


def merge_window(window: Mapping[str, RunRow], upserts: Iterable[RunRow], removals: Iterable[str],
                 limit: int) -> dict[str, RunRow]:
    """The window after a delta: newest ``limit`` rows by creation time (then id), as
    :meth:`Storage.list_executions` orders them."""
    merged = dict(window)
    for key in removals:
        merged.pop(key, None)
    for row in upserts:
        merged[row.execution_id] = row
    ordered = sorted(merged.values(), key=lambda r: (r.created_at, r.execution_id), reverse=True)[:limit]
    return {r.execution_id: r for r in ordered}


# -- filtering and sorting -----------------------------------------------------------------
@dataclass(frozen=True)
class FilterSpec:
    """A parsed ``/`` filter: status words (any of them) and free text (id or node)."""

    statuses: tuple[str, ...] = ()
    interrupted: bool = False
    search: str | None = None
    text: str = ""

    @property
    def empty(self) -> bool:
        return not (self.statuses or self.interrupted or self.search)

    def storage_statuses(self) -> list[str] | None:
        """The stored statuses to ask the database for (None: all)."""
        if not self.statuses and not self.interrupted:
            return None
        wanted = set(self.statuses)
        if self.interrupted:
            wanted.add("RUNNING")
        return sorted(wanted)

    def matches(self, row: RunRow) -> bool:
        if self.statuses or self.interrupted:
            ok = (row.status in self.statuses) or (self.interrupted and row.interrupted)
            # 'running' means stored RUNNING; an interrupted run is shown when asked for either
            if not ok and "RUNNING" in self.statuses and row.interrupted:
                ok = True
            if not ok:
                return False
        if self.search:
            needle = self.search.lower()
            hay = (row.execution_id.lower(), (row.node_id or "").lower(), row.stored_status.lower())
            if not any(needle in h for h in hay):
                return False
        return True


_STATUS_WORDS = {s.lower(): s for s in STATUSES} | {"timed-out": "TIMED_OUT", "done": "COMPLETED",
                                                   "canceled": "CANCELLED"}


def parse_filter(text: str) -> FilterSpec:
    """``running node-2`` -> statuses {RUNNING}, search 'node-2'. Words that name a status
    (or ``interrupted``) select statuses; the rest (joined) is searched in id and node."""
    statuses, interrupted, rest = [], False, []
    for word in text.split():
        w = word.lower()
        if w in ("interrupted", "int"):
            interrupted = True
        elif w in _STATUS_WORDS:
            statuses.append(_STATUS_WORDS[w])
        else:
            rest.append(word)
    search = " ".join(rest) or None
    return FilterSpec(tuple(sorted(set(statuses))), interrupted, search, text.strip())


def _nan_last(v: float | None) -> float:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return -math.inf
    return v


SORT_KEYS: dict[str, Callable[[RunRow], object]] = {
    "id": lambda r: r.execution_id,
    "status": lambda r: (r.status, -r.created_at),
    "node": lambda r: (r.node_id or "", -r.created_at),
    "reads": lambda r: (r.reads or 0, r.created_at),
    "progress": lambda r: ((r.chunks_done / r.chunks_total) if r.chunks_total else 0.0, r.created_at),
    "step": lambda r: (r.current_step or "", r.created_at),
    "ratio": lambda r: (_nan_last(r.ratio), r.created_at),
    "throughput": lambda r: (_nan_last(r.throughput), r.created_at),
    "age": lambda r: (r.created_at, r.execution_id),
}


def sort_rows(rows: Iterable[RunRow], column: str, reverse: bool = False) -> list[RunRow]:
    return sorted(rows, key=SORT_KEYS[column], reverse=reverse)


# -- text formatting shared by the widgets ---------------------------------------------------
def fmt_ratio(v: float | None) -> str:
    if v is None:
        return "-"
    if v == math.inf:
        return "inf"
    return f"{v:,.1f}"


def fmt_rate(v: float | None) -> str:
    if v is None:
        return "-"
    if v >= 10_000:
        return f"{v / 1000:,.0f}k"
    return f"{v:,.0f}"


def fmt_age(secs: float) -> str:
    secs = max(0.0, secs)
    if secs < 60:
        return f"{secs:.0f}s"
    if secs < 3600:
        return f"{secs / 60:.0f}m"
    if secs < 86400:
        return f"{secs / 3600:.0f}h"
    return f"{secs / 86400:.0f}d"


def fmt_progress(row: RunRow) -> str:
    if not row.chunks_total:
        return "-"
    return f"{row.chunks_done}/{row.chunks_total}"


def fmt_ms(v: float) -> str:
    return f"{v:,.1f}"
