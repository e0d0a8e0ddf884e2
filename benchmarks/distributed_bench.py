"""One large run spread over 1, 2 and 4 `genwf worker` processes (distribution within a run).

For each worker count, submits one ``--distribute`` run (the same input every time), starts
that many workers (``--concurrency 1``: one owns the run, the others help with its QC and
alignment chunks) and times until the run is COMPLETED. A first row runs the same input
*not* distributed on one worker: the price of chunk leases on a single node. Reports wall
time (from starting the workers, so process start-up is included), the run's own time by
the database clock (started -> completed), reads/s and speed-ups over one worker, and
checks every run's results equal the first one's (timing fields aside). A last row runs two
independent plain runs on two workers at once: the parallel ceiling of this machine, against
which the distributed speed-ups are to be read (shared or hyper-threaded vCPUs give < 2x).

    python benchmarks/distributed_bench.py                  # 1M reads; SQLite (+ PostgreSQL if GENWF_TEST_POSTGRES_DSN)
    python benchmarks/distributed_bench.py --reads 200000   # a quick check
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genwf_tui import pipeline  # noqa: E402
from genwf_tui.config import ConfigBootstrap  # noqa: E402
from genwf_tui.service import make_executor  # noqa: E402
from genwf_tui.storage import redact  # noqa: E402
from workers import run_workers, with_storage  # noqa: E402

TIMING = ("metrics", "step_metrics", "throughput_reads_per_sec", "execution_id")


def submit(url: str, reads: int, chunk: int, distributed: bool, workdir: Path) -> str:
    cfg = ConfigBootstrap(environ={}, cwd=workdir).load({"pipeline.chunk_size": chunk, "storage.url": url})
    meta = {"distributed": True} if distributed else None
    return asyncio.run(with_storage(url, lambda s: make_executor(s, cfg).submit(pipeline.make_input(cfg, reads), meta)))


def one(url: str, workers: int, reads: int, chunk: int, distributed: bool, workdir: Path) -> tuple[float, float, dict, dict]:
    eid = submit(url, reads, chunk, distributed, workdir)
    wall = run_workers(url, workers, [eid], workdir)
    rec = asyncio.run(with_storage(url, lambda s: s.get_execution(eid)))
    chunks = asyncio.run(with_storage(url, lambda s: s.get_chunks(eid)))
    nodes: dict[str, int] = {}
    for c in chunks:
        nodes[c.node_id] = nodes.get(c.node_id, 0) + 1
    result = {k: v for k, v in rec.output.items() if k not in TIMING}
    return wall, rec.completed_at - rec.started_at, result, nodes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reads", type=int, default=1_000_000)
    ap.add_argument("--chunk-size", type=int, default=25_000)
    ap.add_argument("--workers", type=int, action="append", help="repeatable (default 1, 2, 4)")
    ap.add_argument("--postgres", default=os.environ.get("GENWF_TEST_POSTGRES_DSN"))
    ap.add_argument("--no-ceiling", action="store_true", help="skip the two-independent-runs reference row")
    args = ap.parse_args()
    counts = args.workers or [1, 2, 4]
    workdir = Path(tempfile.mkdtemp(prefix="genwf-distributed-bench-"))
    backends = [("sqlite", str(workdir / "bench.db"))] + ([("postgres", args.postgres)] if args.postgres else [])
    print(f"one run of {args.reads:,} reads, chunk {args.chunk_size:,}; {os.cpu_count()} CPUs")
    print(f"{'backend':<9} {'workers':<13} {'wall s':>7} {'run s':>7} {'reads/s':>9} {'speed-up':>9}  chunks by node")
    for name, url in backends:
        print(f"# {name}: {redact(url)}", file=sys.stderr)
        base = reference = plain = None
        plan = [(1, False)] + [(w, True) for w in counts]
        for w, distributed in plan:
            wall, run_s, result, nodes = one(url, w, args.reads, args.chunk_size, distributed, workdir)
            reference = reference or result
            if result != reference:
                raise SystemExit(f"{name}, {w} workers: results differ from the first run's")
            rate = args.reads / wall
            label = f"{w} distributed" if distributed else f"{w} plain"
            if distributed and base is None:
                base = rate
            if not distributed:
                plain = rate
            speed = f"{rate / base:>8.2f}x" if base else f"{'-':>9}"
            shares = " ".join(f"{n.rsplit('-', 1)[-1]}:{k}" for n, k in sorted(nodes.items()))
            print(f"{name:<9} {label:<13} {wall:>7.2f} {run_s:>7.2f} {rate:>9,.0f} {speed}  {shares}", flush=True)
        print(f"{name:<9} results identical across all rows (vcf_sha256 {reference['vcf_sha256'][:12]}...)")
        if not args.no_ceiling:  # what this machine gives two processes at all: two independent runs at once
            ids = [submit(url, args.reads, args.chunk_size, False, workdir) for _ in range(2)]
            wall = run_workers(url, 2, ids, workdir)
            rate = 2 * args.reads / wall
            print(f"{name:<9} {'ceiling':<13} {wall:>7.2f} {'':>7} {rate:>9,.0f} {rate / plain:>8.2f}x  "
                  "(2 independent plain runs at once, vs 1 plain: what 2 processes get here)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
