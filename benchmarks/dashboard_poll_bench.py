"""Dashboard poll cost and memory with 1k / 10k / 100k executions, while three runs write.

For each size: a fresh SQLite file (schema from the migrations), N finished executions (with
their three step rows) inserted directly with sqlite3, then three real runs started by a
RunManager (threads in this process, as in the dashboard) and the dashboard's Poller polling
the file the way the app does (delta since the watermark + bounded window + selected detail).

Reported per size: the first (full) poll, then median / p95 / max ms per refresh while the
runs write, ratio to the poll interval, and memory: tracemalloc growth between poll 100 and
the last poll of a long series (a stand-in for a 10-minute session) and the process RSS.

    .venv/bin/python benchmarks/dashboard_poll_bench.py [--sizes 1000,10000,100000] [--polls 1200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from genwf_tui.config import Config  # noqa: E402
from genwf_tui.monitor.poller import Poller  # noqa: E402
from genwf_tui.monitor.runs import RunManager  # noqa: E402
from genwf_tui.storage import make_storage  # noqa: E402


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def populate(path: str, n: int) -> None:
    async def create() -> None:
        s = make_storage(path)
        await s.open()
        await s.close()

    asyncio.run(create())
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("INSERT OR IGNORE INTO workflow_definitions (id, version, name, definition_json) VALUES (?, 1, ?, ?)",
                 ("genomic-pipeline", "Genomic pipeline", json.dumps({"steps": [
                     {"id": "qc", "name": "QC", "unit": "reads"}, {"id": "align", "name": "Alignment", "unit": "reads"},
                     {"id": "call", "name": "Variant calling", "unit": "bp"}]})))
    statuses = ("COMPLETED",) * 8 + ("FAILED", "CANCELLED")
    output = json.dumps({"total_reads": 1000, "throughput_reads_per_sec": 30000.0, "variants_called": 7})
    batch = 10_000
    for start in range(0, n, batch):
        rows, steps = [], []
        for i in range(start, min(n, start + batch)):
            eid = str(uuid.UUID(int=i + 1))
            secs = f"-{n - i} seconds"
            st = statuses[i % len(statuses)]
            rows.append((eid, st, output if st == "COMPLETED" else None, f"node-{i % 7}", secs))
            for k, sid in enumerate(("qc", "align", "call")):
                steps.append((f"{eid}:{sid}", eid, sid, k))
        conn.executemany(
            "INSERT INTO workflow_executions (execution_id, definition_id, definition_version, status, input_json, "
            "output_json, node_id, version, created_at, updated_at, started_at, completed_at) VALUES "
            "(?1, 'genomic-pipeline', 1, ?2, '{\"reads\": 1000, \"chunk_size\": 500}', ?3, ?4, 5, "
            "strftime('%Y-%m-%d %H:%M:%f','now',?5), strftime('%Y-%m-%d %H:%M:%f','now',?5), "
            "strftime('%Y-%m-%d %H:%M:%f','now',?5), strftime('%Y-%m-%d %H:%M:%f','now',?5))", rows)
        conn.executemany(
            "INSERT INTO step_executions (step_execution_id, execution_id, step_id, step_index, status, chunks_total, "
            "chunks_done, items_done, compute_ms, coordinate_ms) VALUES (?, ?, ?, ?, 'COMPLETED', 2, 2, 1000, 90, 10)",
            steps)
        conn.commit()
    conn.close()


def patch_delta_query() -> None:
    """The proposed storage change, applied here only to measure it: with ``changed_since``,
    order by ``+created_at`` so SQLite searches idx_executions_updated instead of scanning
    idx_executions_created (with ``LIMIT ?`` the planner picks the scan: linear in the table)."""
    from genwf_tui.storage import sqlite as sq

    original = sq.SqliteStorage._fetch

    async def fetch(self, sql, params=()):
        if "updated_at >= ?" in sql and sql.endswith("ORDER BY created_at DESC, execution_id DESC LIMIT ?"):
            sql = sql.replace("ORDER BY created_at DESC", "ORDER BY +created_at DESC")
        return await original(self, sql, params)

    sq.SqliteStorage._fetch = fetch


def bench_size(n: int, polls: int, reads: int, chunk: int) -> dict:
    tmp = tempfile.mkdtemp(prefix="genwf-pollbench-")
    path = os.path.join(tmp, "workflow.db")
    t0 = time.perf_counter()
    populate(path, n)
    fill_s = time.perf_counter() - t0
    cfg = Config()
    cfg.node.id = "bench"
    cfg.dashboard.run_threads = 3
    cfg.recovery.heartbeat_interval_secs = 0.5
    manager = RunManager(path, cfg)
    ids = [manager.launch(reads, 40 + k, chunk) for k in range(3)]
    time.sleep(1.0)  # the runs are writing

    out: dict = {"n": n, "fill_s": fill_s}

    async def timing() -> None:
        p = Poller(path, cfg, lambda s: None)
        p.set_selected(ids[0])  # the detail of a running run is read too, as in the app
        try:
            t = time.perf_counter()
            first = await p.poll_once()
            out["first_ms"] = (time.perf_counter() - t) * 1000
            out["rows"] = len(first.rows)
            samples = []
            for _ in range(60):
                t = time.perf_counter()
                snap = await p.poll_once()
                samples.append((time.perf_counter() - t) * 1000)
                assert snap.ok, snap.error
                await asyncio.sleep(0.05)
            samples.sort()
            out["median_ms"] = statistics.median(samples)
            out["p95_ms"] = samples[int(len(samples) * 0.95) - 1]
            out["max_ms"] = samples[-1]
            out["running_seen"] = sum(1 for r in snap.rows if r.status == "RUNNING")
        finally:
            await p.close()

    async def memory() -> None:
        p = Poller(path, cfg, lambda s: None)
        p.set_selected(ids[1])
        tracemalloc.start(30)
        # only what the poller holds: allocations made under poller code (not the runs')
        only_poller = [tracemalloc.Filter(True, "*/monitor/poller.py", all_frames=True),
                       tracemalloc.Filter(False, "*/monitor/runs.py", all_frames=True)]

        def held() -> int:
            return sum(st.size for st in tracemalloc.take_snapshot().filter_traces(only_poller).statistics("filename"))

        try:
            mid = None
            for i in range(polls):
                await p.poll_once()
                if i == 99:
                    mid = held()
                    out["rss_mid_mb"] = rss_mb()
            end = held()
            out["mem_poller_kb"] = end / 1024.0
            out["mem_growth_kb"] = (end - mid) / 1024.0
            out["rss_end_mb"] = rss_mb()
        finally:
            tracemalloc.stop()
            await p.close()

    asyncio.run(timing())
    asyncio.run(memory())
    manager.shutdown(timeout=5)
    out["runs_still_writing"] = True
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--polls", type=int, default=1200, help="polls of the memory series (1200 = 10 min at 0.5 s)")
    ap.add_argument("--reads", type=int, default=2_000_000, help="reads of each writing run (long enough to outlast)")
    ap.add_argument("--chunk", type=int, default=20_000)
    ap.add_argument("--proposed-delta-query", action="store_true",
                    help="measure with the delta query ordered by +created_at (the storage change this proposes)")
    args = ap.parse_args()
    if args.proposed_delta_query:
        patch_delta_query()
    interval = Config().dashboard.poll_interval_secs
    results = []
    for n in (int(x) for x in args.sizes.split(",")):
        print(f"... {n:,} executions", file=sys.stderr, flush=True)
        results.append(bench_size(n, args.polls, args.reads, args.chunk))
    print(f"\nDashboard poll cost while 3 runs write (poll interval {interval * 1000:.0f} ms, window "
          f"{Config().dashboard.max_rows} rows, selected run's detail read each poll)\n")
    head = (f"{'executions':>11} {'fill s':>7} {'first ms':>9} {'median ms':>10} {'p95 ms':>7} {'max ms':>7} "
            f"{'p95/interval':>12} {'poller heap KB':>15} {'growth KB':>10} {'RSS MB':>7}")
    print(head)
    print("-" * len(head))
    for r in results:
        print(f"{r['n']:>11,} {r['fill_s']:>7.1f} {r['first_ms']:>9.1f} {r['median_ms']:>10.2f} {r['p95_ms']:>7.2f} "
              f"{r['max_ms']:>7.2f} {r['p95_ms'] / (interval * 1000):>11.1%} {r['mem_poller_kb']:>15.1f} "
              f"{r['mem_growth_kb']:>10.1f} {r['rss_end_mb']:>7.0f}")
    print(f"\npoller heap = memory still held that was allocated under the poller (tracemalloc), after poll "
          f"{args.polls}; growth = that minus after poll 100 ({args.polls - 100} polls ≈ "
          f"{(args.polls - 100) * interval / 60:.0f} min at the default interval). RSS includes the three runs.")


if __name__ == "__main__":
    main()
