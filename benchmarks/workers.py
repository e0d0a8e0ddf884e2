"""Shared by the multi-worker benchmarks: start `genwf worker` processes, time until runs end.

Workers get one compute lane each (so workers = cores) and a short poll; the benchmark polls
through a read-only connection every 0.25 s, so it takes neither CPU nor the write lock from
the workers it measures.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genwf_tui.storage import make_storage  # noqa: E402


async def with_storage(url: str, fn, read_only: bool = False):
    """``await fn(storage)`` on a fresh connection to ``url``."""
    s = make_storage(url, read_only=read_only)
    await s.open()
    try:
        return await fn(s)
    finally:
        await s.close()


def run_workers(url: str, workers: int, ids: list[str], workdir: Path) -> float:
    """Start ``workers`` worker processes; seconds until every run in ``ids`` is COMPLETED."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENOMIC_PIPELINE__")}
    env.update(GENOMIC_PIPELINE__WORKER__POLL_INTERVAL_SECS="0.2", GENOMIC_PIPELINE__PIPELINE__COMPUTE_THREADS="1",
               PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "genwf_tui.cli", "worker", "--storage", url, "--node-id",
                               f"bench-{workers}-{i}", "--concurrency", "1", "--listen", "off"],
                              cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for i in range(workers)]

    async def statuses(s):
        return [await s.get_execution(i) for i in ids]

    try:
        while True:
            recs = asyncio.run(with_storage(url, statuses, read_only=True))
            if all(r.status == "COMPLETED" for r in recs):
                return time.perf_counter() - t0
            for r in recs:
                if r.status in ("FAILED", "CANCELLED"):
                    raise SystemExit(f"run {r.execution_id} ended {r.status}: {r.error}")
            time.sleep(0.25)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
