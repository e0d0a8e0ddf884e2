"""Real processes killed with SIGKILL, resumed by `--resume` and `--auto-recover`.

Every resumed run must end with the results of an uninterrupted run (minus timings), the
same VCF bytes, each chunk checkpointed once, and no completed chunk recomputed.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from ..conftest import genwf_cmd
from .helpers import assert_each_chunk_once, chunk_rows, comparable, execution, genwf, read_results

READS = ["3000", "--chunk-size", "500"]


@pytest.fixture
def env(genwf_env):
    return dict(genwf_env, GENOMIC_PIPELINE__PIPELINE__REGION_BP="6000")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """An uninterrupted run's results and VCF, for the same input."""
    import os

    d = tmp_path_factory.mktemp("baseline")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENOMIC_PIPELINE__")}
    env["GENOMIC_PIPELINE__PIPELINE__REGION_BP"] = "6000"
    genwf(READS + ["--storage", str(d / "b.db")], d, env, check=0)
    results = read_results(d)
    assert results["status"] == "COMPLETED" and results["total_reads"] == 3000
    return comparable(results), (d / "calls.vcf").read_bytes()


def crash(tmp_path: Path, env, step: str, chunk: int) -> tuple[Path, str, list]:
    db = tmp_path / "workflow.db"
    p = genwf(READS + ["--storage", str(db), "--crash-at", f"{step}:{chunk}"], tmp_path, env)
    assert p.returncode == -signal.SIGKILL, p.stderr
    eid = (tmp_path / "last_execution_id.txt").read_text().strip()
    assert execution(db, eid)["status"] == "RUNNING"
    assert not (tmp_path / "pipeline_results.json").exists()
    return db, eid, chunk_rows(db, eid)


def assert_same_as_baseline(tmp_path: Path, baseline, db: Path, eid: str, before: list) -> None:
    results = read_results(tmp_path)
    assert results["execution_id"] == eid
    assert comparable(results) == baseline[0]
    assert (tmp_path / "calls.vcf").read_bytes() == baseline[1]
    assert_each_chunk_once(db, eid)
    after = set(chunk_rows(db, eid))
    assert set(before) <= after, "a chunk committed before the crash was recomputed"
    stored = execution(db, eid)
    assert stored["status"] == "COMPLETED" and stored["recovery_count"] >= 1


@pytest.mark.parametrize("step, chunk", [("qc", 2), ("align", 1), ("call", 0)])
def test_crash_then_resume(tmp_path, env, baseline, step, chunk):
    db, eid, before = crash(tmp_path, env, step, chunk)
    assert any(s == step and i == chunk for s, i, *_ in before)
    p = genwf(["--storage", str(db), "--resume", eid[:8]], tmp_path, env, check=0)
    assert "COMPLETED" in p.stdout or "Rating" in p.stdout
    assert_same_as_baseline(tmp_path, baseline, db, eid, before)
    # resuming a COMPLETED run shows its results and changes nothing
    again = genwf(["--storage", str(db), "--resume", eid], tmp_path, env, check=0)
    assert "already COMPLETED" in again.stdout
    assert set(chunk_rows(db, eid)) == set(chunk_rows(db, eid))


@pytest.mark.parametrize("step, chunk", [("qc", 0), ("align", 3), ("call", 1)])
def test_crash_then_auto_recover(tmp_path, env, baseline, step, chunk):
    db, eid, before = crash(tmp_path, env, step, chunk)
    p = genwf(["--storage", str(db), "--auto-recover"], tmp_path, env, check=0)
    assert "claimed 1" in p.stdout and "recovered 1" in p.stdout
    assert_same_as_baseline(tmp_path, baseline, db, eid, before)


def test_crash_twice_then_resume(tmp_path, env, baseline):
    db, eid, before = crash(tmp_path, env, "qc", 1)
    p = genwf(["--storage", str(db), "--resume", eid, "--crash-at", "align:2"], tmp_path, env)
    assert p.returncode == -signal.SIGKILL
    mid = chunk_rows(db, eid)
    assert set(before) <= set(mid)
    genwf(["--storage", str(db), "--resume", eid], tmp_path, env, check=0)
    assert_same_as_baseline(tmp_path, baseline, db, eid, mid)
    assert execution(db, eid)["recovery_count"] == 2


def test_external_kill_at_a_random_moment(tmp_path, env):
    db = tmp_path / "workflow.db"
    args = ["12000", "--chunk-size", "500", "--storage", str(db)]
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    genwf(["12000", "--chunk-size", "500", "--storage", str(ref_dir / "r.db")], ref_dir, env, check=0)
    reference = comparable(read_results(ref_dir))

    rng = random.Random()
    target = rng.randint(2, 40)  # of 24 + 24 + regions chunks
    proc = subprocess.Popen(genwf_cmd(*args), cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=5) as c:
                    done = c.execute("SELECT count(*) FROM chunk_checkpoints").fetchone()[0]
            except sqlite3.OperationalError:
                done = 0
            if done >= target:
                break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    eid = (tmp_path / "last_execution_id.txt").read_text().strip()
    before = chunk_rows(db, eid)
    if execution(db, eid)["status"] == "COMPLETED":
        pytest.skip(f"the run finished before the kill at checkpoint {target}; nothing to recover")
    genwf(["--storage", str(db), "--resume", eid], tmp_path, env, check=0)
    assert comparable(read_results(tmp_path)) == reference
    assert (tmp_path / "calls.vcf").read_bytes() == (ref_dir / "calls.vcf").read_bytes()
    assert_each_chunk_once(db, eid)
    assert set(before) <= set(chunk_rows(db, eid))


def test_concurrent_recoverers_each_run_resumed_once(tmp_path, env):
    db = tmp_path / "workflow.db"
    ids = []
    for i in range(4):
        run_dir = tmp_path / f"crash{i}"
        run_dir.mkdir()
        p = genwf(["2000", "--chunk-size", "500", "--seed", str(i), "--storage", str(db), "--crash-at", "align:0"], run_dir, env)
        assert p.returncode == -signal.SIGKILL
        ids.append((run_dir / "last_execution_id.txt").read_text().strip())
    recoverers = []
    for i in range(4):
        d = tmp_path / f"rec{i}"
        d.mkdir()
        recoverers.append(subprocess.Popen(genwf_cmd("--storage", str(db), "--auto-recover"), cwd=d, env=env,
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = [r.communicate(timeout=180) for r in recoverers]
    assert all(r.returncode == 0 for r in recoverers), outs
    with sqlite3.connect(db) as c:
        for eid in ids:
            kinds = [k for (k,) in c.execute("SELECT kind FROM execution_events WHERE execution_id = ? ORDER BY id", (eid,))]
            assert kinds.count("recovered") == 1, kinds
            assert kinds[-1] == "completed"
        statuses = {s for (s,) in c.execute("SELECT status FROM workflow_executions")}
    assert statuses == {"COMPLETED"}
    claimed = sum(int(o.split("claimed ")[1].split(",")[0]) for o, _ in outs)
    assert claimed == len(ids)
    for eid in ids:
        assert_each_chunk_once(db, eid)


def test_crash_loop_is_failed_not_retried_forever(tmp_path, env):
    env = dict(env, GENOMIC_PIPELINE__RECOVERY__MAX_RECOVERIES="1")
    db, eid, _ = crash(tmp_path, env, "qc", 0)
    # a later step: with two compute lanes, qc chunk 1 may already be done before the first crash
    p = genwf(["--storage", str(db), "--resume", eid, "--crash-at", "align:0"], tmp_path, env)
    assert p.returncode == -signal.SIGKILL
    p = genwf(["--storage", str(db), "--auto-recover"], tmp_path, env, check=0)
    assert "failed 1" in p.stdout
    stored = execution(db, eid)
    assert stored["status"] == "FAILED" and "max_recoveries=1" in stored["error"]
    p = genwf(["--storage", str(db), "--resume", eid], tmp_path, env)
    assert p.returncode == 1 and "start a new run" in p.stdout
