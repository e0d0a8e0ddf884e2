"""Aggregate throughput of `genwf worker` processes sharing one database: 1, 2 and 4 workers.

Submits the same batch of runs for each worker count, starts that many worker processes
(``--concurrency 1 --exit-when-idle``) and times until every run is COMPLETED. Reports
reads/s and the speed-up over one worker (on a 2-core machine, expect close to 2x from 1 to
2 workers and no more from 4). Each run is still processed by one node at a time.

    python benchmarks/storage_workers_bench.py                      # SQLite (+ PostgreSQL if GENWF_TEST_POSTGRES_DSN)
    python benchmarks/storage_workers_bench.py --runs 8 --reads 250000 --workers 1 --workers 2
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
from genwf_tui.storage import make_storage, redact  # noqa: E402
from workers import run_workers  # noqa: E402


async def submit(url: str, runs: int, reads: int, chunk: int, workdir: Path) -> list[str]:
    s = make_storage(url)
    await s.open()
    try:
        ids = []
        for i in range(runs):
            cfg = ConfigBootstrap(environ={}, cwd=workdir).load(
                {"pipeline.chunk_size": chunk, "pipeline.seed": 100 + i, "storage.url": url})
            ids.append(await make_executor(s, cfg).submit(pipeline.make_input(cfg, reads)))
        return ids
    finally:
        await s.close()


def one(url: str, workers: int, runs: int, reads: int, chunk: int, workdir: Path) -> float:
    ids = asyncio.run(submit(url, runs, reads, chunk, workdir))
    return run_workers(url, workers, ids, workdir)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--reads", type=int, default=150_000)
    ap.add_argument("--chunk-size", type=int, default=10_000)
    ap.add_argument("--workers", type=int, action="append", help="repeatable (default 1, 2, 4)")
    ap.add_argument("--postgres", default=os.environ.get("GENWF_TEST_POSTGRES_DSN"))
    args = ap.parse_args()
    counts = args.workers or [1, 2, 4]
    workdir = Path(tempfile.mkdtemp(prefix="genwf-workers-bench-"))
    backends = [("sqlite", str(workdir / "bench.db"))] + ([("postgres", args.postgres)] if args.postgres else [])
    print(f"{args.runs} runs x {args.reads:,} reads, chunk {args.chunk_size:,}; {os.cpu_count()} CPUs")
    print(f"{'backend':<9} {'workers':>7} {'wall s':>8} {'reads/s':>10} {'speed-up':>9}")
    for name, url in backends:
        print(f"# {name}: {redact(url)}", file=sys.stderr)
        base = None
        for w in counts:
            wall = one(url, w, args.runs, args.reads, args.chunk_size, workdir)
            rate = args.runs * args.reads / wall
            base = base or rate
            print(f"{name:<9} {w:>7} {wall:>8.2f} {rate:>10,.0f} {rate / base:>8.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
