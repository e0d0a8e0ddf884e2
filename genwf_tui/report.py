"""Plain-text presentation shared by the CLI: configuration, progress, results, run lists."""

from __future__ import annotations

import json
import sys
import time
from typing import Mapping, TextIO

from .engine.liveness import interrupted_reason
from .engine.metrics import Metrics, rating
from .pipeline import STEP_LABELS
from .storage.records import ExecutionRecord, StepRecord
from .vocab import INTERRUPTED
from .vocab import short_id as short

BAR = 24


def bar(done: int, total: int, width: int = BAR) -> str:
    filled = width if total <= 0 else int(width * min(done, total) / total)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def fmt_ratio(value: float | None) -> str:
    return "inf" if value is None or value == float("inf") else f"{value:,.1f}"


class Progress:
    """Per-step progress: a redrawn bar on a terminal, one plain line per finished step otherwise."""

    def __init__(self, out: TextIO = sys.stdout):
        self.out = out
        self.tty = out.isatty()
        self.current: str | None = None
        self.started = time.perf_counter()

    def __call__(self, execution_id: str, step_id: str, done: int, total: int) -> None:
        label = f"  {STEP_LABELS.get(step_id, step_id):<16}"
        if self.tty:
            if self.current and self.current != step_id:
                self.out.write("\n")
            self.out.write(f"\r{label}{bar(done, total)} {done}/{total} chunks")
            if done >= total:
                self.out.write("\n")
                step_id = None  # type: ignore[assignment]
            self.out.flush()
        elif done >= total:
            self.out.write(f"{label}done {done}/{total} chunks\n")
            self.out.flush()
        self.current = step_id

    def close(self) -> None:
        if self.tty and self.current:
            self.out.write("\n")
            self.current = None


def results_table(output: Mapping, target: float) -> str:
    """The seed's results table: compute, coordinate, total, ratio, efficiency per step and run."""
    lines = [f"  {'Step':<16}{'compute ms':>12}{'coord ms':>11}{'total ms':>11}{'ratio':>10}{'effic.':>9}"]
    rows = [(STEP_LABELS.get(k, k), v) for k, v in output.get("step_metrics", {}).items()]
    rows.append(("Run", output["metrics"]))
    for label, m in rows:
        lines.append(
            f"  {label:<16}{m['compute_time_ms']:>12,.1f}{m['coordinate_time_ms']:>11,.1f}{m['total_time_ms']:>11,.1f}"
            f"{fmt_ratio(m['granularity_ratio']):>10}{m['efficiency_percent']:>8.1f}%"
        )
    return "\n".join(lines)


def summary(output: Mapping, target: float) -> str:
    m = output["metrics"]
    ratio = m["granularity_ratio"]
    lines = [
        "Results",
        f"  total reads      {output.get('total_reads', 0):,}",
        f"  QC passed        {output.get('qc_passed', 0):,}",
        f"  variants called  {output.get('variants_called', 0):,}",
        "",
        results_table(output, target),
        "",
        f"Rating: {m['rating']} (granularity ratio {fmt_ratio(ratio)} vs target {target:g})",
    ]
    if "throughput_reads_per_sec" in output:
        lines.append(f"Throughput: {output['throughput_reads_per_sec']:,.0f} reads/s")
    return "\n".join(lines)


def derived_status(rec: ExecutionRecord, stale_secs: float) -> str:
    """Stored status, or INTERRUPTED for a RUNNING run whose owner is gone or stale."""
    if rec.status == "RUNNING" and interrupted_reason(rec, stale_threshold_secs=stale_secs):
        return INTERRUPTED
    return rec.status


def run_list(records: list[ExecutionRecord], stale_secs: float) -> str:
    lines = [f"{'ID':<10}{'STATUS':<13}{'NODE':<20}{'READS':>10}  {'STEP':<8}{'CREATED (UTC)':<20}"]
    for r in records:
        reads = r.input.get("reads")
        reads_text = f"{reads:,}" if isinstance(reads, int) else "-"  # other workflows share the database
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.created_at))
        lines.append(f"{short(r.execution_id):<10}{derived_status(r, stale_secs):<13}{(r.node_id or '-')[:19]:<20}"
                     f"{reads_text:>10}  {(r.current_step_id or '-'):<8}{created:<20}")
    return "\n".join(lines)


def _describe_input(run: Mapping) -> str:
    if isinstance(run.get("reads"), int) and isinstance(run.get("chunk_size"), int):
        return f"{run['reads']:,} reads, chunk size {run['chunk_size']:,}, source {run.get('source')}"
    return json.dumps(run, sort_keys=True)[:120]  # another workflow's input


def show(rec: ExecutionRecord, steps: list[StepRecord], events, stale_secs: float, target: float) -> str:
    lines = [
        f"Execution  {rec.execution_id}",
        f"Status     {derived_status(rec, stale_secs)}" + (f" ({rec.status})" if rec.status == "RUNNING" else ""),
        f"Node       {rec.node_id or '-'}  pid {rec.owner_pid or '-'} on {rec.owner_host or '-'}",
        f"Input      {_describe_input(rec.input)}",
    ]
    if rec.status == "RUNNING":
        why = interrupted_reason(rec, stale_threshold_secs=stale_secs)
        hb = "never" if rec.heartbeat_age is None else f"{rec.heartbeat_age:.1f}s ago"
        lines.append(f"Heartbeat  {hb}" + (f"  — interrupted: {why}" if why else ""))
    if rec.error:
        lines.append(f"Error      {rec.error}")
    lines += ["", f"  {'Step':<16}{'status':<11}{'chunks':<34}{'att':>4}{'compute ms':>12}{'coord ms':>10}{'ratio':>9}"]
    for s in steps:
        total = s.chunks_total or 0
        m = Metrics(s.compute_ms, s.coordinate_ms)
        lines.append(f"  {STEP_LABELS.get(s.step_id, s.step_id):<16}{s.status:<11}"
                     f"{bar(s.chunks_done, total, 20)} {s.chunks_done}/{total or '?':<8}{s.attempt:>4}"
                     f"{s.compute_ms:>12,.1f}{s.coordinate_ms:>10,.1f}{fmt_ratio(m.granularity_ratio):>9}")
        if s.error:
            lines.append(f"      last error: {s.error}")
    run = Metrics.sum(Metrics(s.compute_ms, s.coordinate_ms) for s in steps)
    lines.append(f"  {'Run':<16}{'':<11}{'':<34}{'':>4}{run.compute_ms:>12,.1f}{run.coordinate_ms:>10,.1f}"
                 f"{fmt_ratio(run.granularity_ratio):>9}  {rating(run.granularity_ratio, target)}")
    if rec.output:
        out = rec.output
        lines += ["", f"Results    {out.get('total_reads', 0):,} reads, {out.get('qc_passed', 0):,} passed QC, "
                      f"{out.get('variants_called', 0):,} variants; "
                      f"{out.get('throughput_reads_per_sec', 0):,.0f} reads/s"]
    if events:
        lines += ["", "History"]
        for e in events:
            at = time.strftime("%H:%M:%S", time.gmtime(e.at))
            lines.append(f"  {at}  {e.kind:<16}{e.node_id or '':<20}{e.detail or ''}")
    return "\n".join(lines)
