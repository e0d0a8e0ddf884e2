"""Engine benchmarks (issue 2), measured side by side in one run and reported as ratios.

1. Per-checkpoint overhead of trivial steps: ours vs DBOS Transact (both on SQLite, durable)
   vs one raw durable SQLite commit.
2. The genomic pipeline at 10k / 100k / 1M reads with the default chunk size: coordination
   per checkpoint, granularity ratio, throughput; and the ratio as a function of chunk size.
3. Recovery latency: from starting `genwf --resume` to the first resumed chunk committed.

Run: .venv/bin/python benchmarks/engine_bench.py [--quick] [--skip-dbos] [--max-reads N]
(DBOS comes from the `bench` extra: pip install -e '.[bench]').
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genwf_tui.engine import ChunkOutput, StepDefinition, Workflow, WorkflowDefinition, WorkflowExecutor  # noqa: E402
from genwf_tui.storage import make_storage  # noqa: E402


def raw_commit_ms(path: str, n: int) -> float:
    """One durable SQLite commit (WAL, synchronous=FULL) of a small row, averaged."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (i INTEGER PRIMARY KEY, payload BLOB)")
    t0 = time.perf_counter()
    for i in range(n):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t VALUES (?, ?)", (i, b"x" * 64))
        db.execute("COMMIT")
    dt = time.perf_counter() - t0
    db.close()
    return dt / n * 1000


class Trivial:
    def plan(self, ctx):
        return ctx.input["chunks"]

    def run_chunk(self, ctx, index, inputs):
        return ChunkOutput(b"x" * 64, 1)


def trivial_workflow() -> Workflow:
    d = WorkflowDefinition("trivial", "Trivial", 1, (StepDefinition("s", "Step"),))
    return Workflow(d, {"s": Trivial()}, lambda ctx, payloads: {"n": len(payloads["s"])})


async def ours_per_step_ms(path: str, n: int) -> tuple[float, float]:
    """(wall ms per checkpoint, engine-measured coordinate ms per checkpoint)."""
    storage = make_storage(path)
    await storage.open()
    ex = WorkflowExecutor(storage, trivial_workflow(), node_id="bench", heartbeat_interval_secs=5)
    t0 = time.perf_counter()
    out = await ex.execute({"chunks": n})
    wall = (time.perf_counter() - t0) * 1000
    await storage.close()
    return wall / n, out.output["metrics"]["coordinate_time_ms"] / n


DBOS_CHILD = r"""
import sys, time
from dbos import DBOS
n, url = int(sys.argv[1]), sys.argv[2]
@DBOS.step()
def step(i):
    return i
@DBOS.workflow()
def wf(k):
    for i in range(k):
        step(i)
    return k
DBOS(config={"name": "bench", "system_database_url": url, "run_admin_server": False})
DBOS.launch()
wf(5)
t0 = time.perf_counter(); wf(n); dt = time.perf_counter() - t0
print((dt / n) * 1000)
DBOS.destroy()
"""


def dbos_per_step_ms(path: str, n: int) -> float | None:
    return dbos_per_step_ms_url(f"sqlite:///{path}", n)


def genwf(args, cwd, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genwf_tui.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env=env or os.environ.copy(), timeout=3600)


def pipeline_row(reads: int, chunk: int, work: Path) -> dict:
    d = Path(tempfile.mkdtemp(prefix=f"p{reads}-{chunk}-", dir=work))
    t0 = time.perf_counter()
    p = genwf([str(reads), "--chunk-size", str(chunk), "--storage", "w.db"], d)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(p.stderr)
    out = json.loads((d / "pipeline_results.json").read_text())
    with sqlite3.connect(d / "w.db") as c:
        checkpoints = c.execute("SELECT count(*) FROM chunk_checkpoints").fetchone()[0]
    m = out["metrics"]
    return {"reads": reads, "chunk": chunk, "checkpoints": checkpoints,
            "coord_per_ckpt_ms": m["coordinate_time_ms"] / checkpoints, "ratio": m["granularity_ratio"],
            "rating": m["rating"], "throughput": out["throughput_reads_per_sec"], "wall_s": wall}


def recovery_latency(work: Path, reads: int, chunk: int) -> dict:
    d = work / "recovery"
    d.mkdir()
    p = genwf([str(reads), "--chunk-size", str(chunk), "--storage", "w.db", "--crash-at", "align:1"], d)
    assert p.returncode == -9, p.stderr
    eid = (d / "last_execution_id.txt").read_text().strip()
    results = {}
    for form, args in (("--resume", ["--resume", eid]), ("--auto-recover", ["--auto-recover"])):
        if form == "--auto-recover":  # crash a fresh run for the second form
            p = genwf([str(reads), "--chunk-size", str(chunk), "--storage", "w.db", "--crash-at", "align:1"], d)
            eid = (d / "last_execution_id.txt").read_text().strip()
        with sqlite3.connect(d / "w.db") as c:
            now_db = c.execute("SELECT (julianday('now') - 2440587.5) * 86400.0").fetchone()[0]
        skew = now_db - time.time()
        t0 = time.time()
        p = genwf(["--storage", "w.db", *args], d)
        assert p.returncode == 0, p.stderr
        with sqlite3.connect(d / "w.db") as c:
            inc_before = c.execute("SELECT incarnation FROM chunk_checkpoints WHERE execution_id=? AND step_id='align' "
                                   "AND chunk_index=0", (eid,)).fetchone()[0]
            first = c.execute("SELECT min((julianday(committed_at) - 2440587.5) * 86400.0) FROM chunk_checkpoints "
                              "WHERE execution_id=? AND incarnation != ?", (eid, inc_before)).fetchone()[0]
        results[form] = (first - skew - t0) * 1000
    return results


async def raw_pg_commit_ms(dsn: str, n: int) -> float:
    """One durable PostgreSQL commit (synchronous_commit on) of a small row, averaged."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP TABLE IF EXISTS bench_raw; CREATE TABLE bench_raw (i int PRIMARY KEY, payload bytea)")
        t0 = time.perf_counter()
        for i in range(n):
            await conn.execute("INSERT INTO bench_raw VALUES ($1, $2)", i, b"x" * 64)
        dt = time.perf_counter() - t0
        await conn.execute("DROP TABLE bench_raw")
        return dt / n * 1000
    finally:
        await conn.close()


def postgres_section(dsn: str, n: int, skip_dbos: bool) -> None:
    from genwf_tui.storage.url import redact

    raw = asyncio.run(raw_pg_commit_ms(dsn, n))
    ours_wall, _ = asyncio.run(ours_per_step_ms(dsn, n))
    dbos = None if skip_dbos else dbos_per_step_ms_url(dsn, n)
    print(f"\n== Per-checkpoint overhead, {n} trivial steps, PostgreSQL ({redact(dsn)})")
    print(f"{'system':<34}{'ms/step':>10}{'vs raw commit':>16}")
    print(f"{'raw PostgreSQL commit':<34}{raw:>10.3f}{1.0:>15.2f}x")
    print(f"{'genwf (wall per checkpoint)':<34}{ours_wall:>10.3f}{ours_wall / raw:>15.2f}x")
    if dbos is not None:
        print(f"{'DBOS Transact ' + _dbos_version():<34}{dbos:>10.3f}{dbos / raw:>15.2f}x")
        print(f"genwf / DBOS per step: {ours_wall / dbos:.3f}")


def dbos_per_step_ms_url(url: str, n: int) -> float | None:
    try:
        import dbos  # noqa: F401
    except ImportError:
        return None
    p = subprocess.run([sys.executable, "-c", DBOS_CHILD, str(n), url], capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        print("DBOS failed:", p.stderr[-2000:].replace(url, "<dsn>"), file=sys.stderr)
        return None
    return float(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sizes")
    ap.add_argument("--skip-dbos", action="store_true")
    ap.add_argument("--max-reads", type=int, default=1_000_000)
    ap.add_argument("--postgres", default=os.environ.get("GENWF_TEST_POSTGRES_DSN"),
                    help="also measure on this PostgreSQL DSN (default $GENWF_TEST_POSTGRES_DSN)")
    ap.add_argument("--only-overhead", action="store_true", help="just the per-checkpoint overhead sections")
    args = ap.parse_args()
    n = 200 if args.quick else 1000
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        raw = raw_commit_ms(str(work / "raw.db"), n)
        ours_wall, ours_coord = asyncio.run(ours_per_step_ms(str(work / "ours.db"), n))
        dbos = None if args.skip_dbos else dbos_per_step_ms(str(work / "dbos.sqlite"), n)
        print(f"\n== Per-checkpoint overhead, {n} trivial steps, SQLite, durable commits")
        print(f"{'system':<34}{'ms/step':>10}{'vs raw commit':>16}")
        print(f"{'raw SQLite commit (WAL, FULL)':<34}{raw:>10.3f}{1.0:>15.2f}x")
        print(f"{'genwf (wall per checkpoint)':<34}{ours_wall:>10.3f}{ours_wall / raw:>15.2f}x")
        print(f"{'genwf (coordinate_ms per ckpt)':<34}{ours_coord:>10.3f}{ours_coord / raw:>15.2f}x")
        if dbos is not None:
            print(f"{'DBOS Transact ' + _dbos_version():<34}{dbos:>10.3f}{dbos / raw:>15.2f}x")
            print(f"genwf / DBOS per step: {ours_wall / dbos:.3f} (target <= 0.25)")
        if args.postgres:
            postgres_section(args.postgres, n, args.skip_dbos)
        if args.only_overhead:
            return

        sizes = [10_000, 100_000] + ([1_000_000] if args.max_reads >= 1_000_000 and not args.quick else [])
        print("\n== Genomic pipeline, default chunk size 50,000")
        rows = [pipeline_row(r, 50_000, work) for r in sizes]
        _table(rows)
        print("\n== Granularity ratio vs chunk size, 100,000 reads")
        _table([pipeline_row(100_000, c, work) for c in (2_000, 5_000, 10_000, 25_000, 50_000)])

        lat = recovery_latency(work, 20_000, 2_000)
        print("\n== Recovery latency (process start -> first resumed chunk committed), 2,000-read chunks")
        for form, ms in lat.items():
            print(f"  genwf {form:<15}{ms:>8.0f} ms   (DBOS ~1600 ms; target < 500 ms)")


def _dbos_version() -> str:
    try:
        from importlib.metadata import version

        return version("dbos")
    except Exception:
        return ""


def _table(rows: list[dict]) -> None:
    print(f"{'reads':>10}{'chunk':>9}{'ckpts':>7}{'coord/ckpt ms':>15}{'ratio':>10}{'rating':>12}{'reads/s':>11}{'wall s':>8}")
    for r in rows:
        print(f"{r['reads']:>10,}{r['chunk']:>9,}{r['checkpoints']:>7}{r['coord_per_ckpt_ms']:>15.2f}{r['ratio']:>10.1f}"
              f"{r['rating']:>12}{r['throughput']:>11,.0f}{r['wall_s']:>8.1f}")


if __name__ == "__main__":
    main()
