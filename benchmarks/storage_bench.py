"""Checkpoint latency and granularity ratio: PostgreSQL vs SQLite at the same chunk size.

For each backend and chunk size it runs the real genomic pipeline in this process (same
input, same seed) and times every chunk checkpoint (``commit_chunk``: fence check + payload
+ progress, one durable commit), then reports the run's own metrics (compute, coordination,
granularity ratio = compute / coordinate). A micro-benchmark of bare ``commit_chunk`` calls
with a fixed payload isolates the storage round trip from the pipeline.

    python benchmarks/storage_bench.py                         # SQLite, + PostgreSQL if GENWF_TEST_POSTGRES_DSN is set
    python benchmarks/storage_bench.py --reads 500000 --chunk-size 10000 --chunk-size 50000
    python benchmarks/storage_bench.py --postgres postgresql://u:p@host/db

Figures are ratios within one run of this script on one machine; they are not asserted anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from genwf_tui import pipeline  # noqa: E402
from genwf_tui.config import ConfigBootstrap  # noqa: E402
from genwf_tui.service import make_executor  # noqa: E402
from genwf_tui.storage import make_storage, redact  # noqa: E402
from genwf_tui.storage.records import ChunkWrite, NewExecution  # noqa: E402
from genwf_tui.engine.owner import new_owner  # noqa: E402


class Timed:
    """The storage as the executor sees it, with ``commit_chunk`` timed."""

    def __init__(self, inner):
        self._inner = inner
        self.latencies_ms: list[float] = []

    def __getattr__(self, name):
        return getattr(self._inner, name)

    async def commit_chunk(self, fence, chunk):
        t0 = time.perf_counter()
        try:
            return await self._inner.commit_chunk(fence, chunk)
        finally:
            self.latencies_ms.append((time.perf_counter() - t0) * 1000.0)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


async def pipeline_run(url: str, reads: int, chunk_size: int, seed: int) -> dict:
    storage = make_storage(url)
    await storage.open()
    try:
        cfg = ConfigBootstrap(environ={}, cwd=Path(tempfile.gettempdir())).load(
            {"pipeline.chunk_size": chunk_size, "pipeline.seed": seed, "storage.url": url, "node.id": "bench"})
        timed = Timed(storage)
        run = pipeline.make_input(cfg, reads)
        # warm the per-process data set cache so both backends time the same work
        pipeline.dataset(run)
        t0 = time.perf_counter()
        outcome = await make_executor(timed, cfg).execute(run)
        wall = time.perf_counter() - t0
        assert outcome.status == "COMPLETED", outcome
        m = outcome.output["metrics"]
        return {
            "chunks": len(timed.latencies_ms), "lat": timed.latencies_ms, "compute_ms": m["compute_time_ms"],
            "coordinate_ms": m["coordinate_time_ms"], "ratio": m["granularity_ratio"],
            "efficiency": m["efficiency_percent"], "reads_per_s": reads / wall, "vcf": outcome.output.get("vcf_sha256"),
        }
    finally:
        await storage.close()


async def bare_commits(url: str, n: int, payload_bytes: int) -> list[float]:
    storage = make_storage(url)
    await storage.open()
    try:
        await storage.save_definition("bench", 1, "bench", "{}")
        eid = f"bench-{uuid.uuid4()}"
        owner = new_owner("bench")
        fence = await storage.create_execution(NewExecution(eid, "bench", 1, "{}", ("s",)), owner)
        payload = os.urandom(payload_bytes)
        out = []
        for i in range(n):
            chunk = ChunkWrite("s", i, payload, 1000, 1.0, 0.1, 1, owner.incarnation)
            t0 = time.perf_counter()
            await storage.commit_chunk(fence, chunk)
            out.append((time.perf_counter() - t0) * 1000.0)
        await storage.finish_execution(fence, "COMPLETED", "{}")
        return out
    finally:
        await storage.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reads", type=int, default=200_000)
    ap.add_argument("--chunk-size", type=int, action="append", help="repeatable (default 10000 and 50000)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--commits", type=int, default=500, help="bare commit_chunk calls per backend")
    ap.add_argument("--payload-bytes", type=int, default=4096)
    ap.add_argument("--sqlite", help="SQLite file (default: a fresh temporary file)")
    ap.add_argument("--postgres", default=os.environ.get("GENWF_TEST_POSTGRES_DSN"),
                    help="PostgreSQL DSN (default $GENWF_TEST_POSTGRES_DSN); runs are added, nothing is dropped")
    args = ap.parse_args()
    chunk_sizes = args.chunk_size or [10_000, 50_000]
    tmp = tempfile.mkdtemp(prefix="genwf-bench-")
    backends = [("sqlite", args.sqlite or os.path.join(tmp, "bench.db"))]
    if args.postgres:
        backends.append(("postgres", args.postgres))
    else:
        print("(PostgreSQL skipped: set GENWF_TEST_POSTGRES_DSN or pass --postgres)", file=sys.stderr)
    for name, url in backends:
        print(f"{name:<9} {redact(url)}", file=sys.stderr, flush=True)

    print(f"\nBare commit_chunk ({args.commits} calls, {args.payload_bytes} B payload, durable commit each)")
    print(f"{'backend':<9} {'mean ms':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name, url in backends:
        lat = asyncio.run(bare_commits(url, args.commits, args.payload_bytes))
        print(f"{name:<9} {statistics.fmean(lat):>8.3f} {pct(lat, 50):>8.3f} {pct(lat, 95):>8.3f} {pct(lat, 99):>8.3f}")

    print(f"\nPipeline run: {args.reads:,} synthetic reads, seed {args.seed}")
    head = (f"{'backend':<9} {'chunk':>7} {'chunks':>6} {'ckpt ms':>8} {'p95 ms':>8} {'compute ms':>11} "
            f"{'coord ms':>9} {'ratio':>7} {'effic.':>7} {'reads/s':>9}")
    print(head, flush=True)
    rows: dict[tuple[str, int], dict] = {}
    for chunk in chunk_sizes:
        for name, url in backends:
            r = asyncio.run(pipeline_run(url, args.reads, chunk, args.seed))
            rows[(name, chunk)] = r
            print(f"{name:<9} {chunk:>7,} {r['chunks']:>6} {statistics.fmean(r['lat']):>8.2f} {pct(r['lat'], 95):>8.2f} "
                  f"{r['compute_ms']:>11.1f} {r['coordinate_ms']:>9.1f} {r['ratio']:>7.1f} {r['efficiency']:>6.1f}% "
                  f"{r['reads_per_s']:>9,.0f}")
    if len(backends) == 2:
        print("\nPostgreSQL / SQLite at the same chunk size")
        print(f"{'chunk':>7} {'ckpt latency':>13} {'ratio':>7} {'same results':>13}")
        for chunk in chunk_sizes:
            s, p = rows[("sqlite", chunk)], rows[("postgres", chunk)]
            print(f"{chunk:>7,} {statistics.fmean(p['lat']) / statistics.fmean(s['lat']):>12.2f}x "
                  f"{p['ratio'] / s['ratio']:>6.2f}x {str(p['vcf'] == s['vcf']):>13}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
