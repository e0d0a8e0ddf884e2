"""Poller and RunManager on real SQLite files with real runs (no Textual)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import uuid

import pytest

from genwf_tui.monitor.poller import Poller
from genwf_tui.monitor.runs import ActionRefused, LaunchError, RunManager

from ..tui.helpers import CHUNK, READS, Gate, completed_runs, genwf, read_db, same_results


def insert_rows(db: str, n: int, start: int = 0, ago: int = 3600) -> list[str]:
    """Bare execution rows (as the benchmark inserts them), created one second apart."""
    conn = sqlite3.connect(db)
    conn.execute("INSERT OR IGNORE INTO workflow_definitions (id, version, name, definition_json) "
                 "VALUES ('genomic-pipeline', 1, 'x', '{}')")
    ids = [f"{start + i:08d}-{uuid.uuid4()}"[:36] for i in range(n)]
    conn.executemany(
        "INSERT INTO workflow_executions (execution_id, definition_id, definition_version, status, input_json, "
        "node_id, version, created_at, updated_at) VALUES (?2, 'genomic-pipeline', 1, 'COMPLETED', '{\"reads\": 1}', "
        "'n', 1, strftime('%Y-%m-%d %H:%M:%f', 'now', ?1), strftime('%Y-%m-%d %H:%M:%f', 'now', ?1))",
        [(f"-{max(ago - i, 0)} seconds", eid) for i, eid in enumerate(ids)])
    conn.commit()
    conn.close()
    return ids


async def test_window_is_bounded_and_deltas_pick_up_changes(db, cfg):
    cfg.dashboard.max_rows = 50
    ids = insert_rows(db, 120)
    p = Poller(db, cfg, lambda s: None)
    try:
        s1 = await p.poll_once()
        assert s1.ok and len(s1.rows) == 50 and s1.window_full
        assert [r.execution_id for r in s1.rows] == list(reversed(ids))[:50]
        assert s1.counts_map == {"COMPLETED": 120}
        # an old row outside the window changes: the window stays the newest 50
        conn = sqlite3.connect(db)
        conn.execute("UPDATE workflow_executions SET status='FAILED', updated_at=strftime('%Y-%m-%d %H:%M:%f','now') "
                     "WHERE execution_id=?", (ids[0],))
        # a row inside the window changes: it is updated in place
        conn.execute("UPDATE workflow_executions SET status='CANCELLED', updated_at=strftime('%Y-%m-%d %H:%M:%f','now') "
                     "WHERE execution_id=?", (ids[-1],))
        conn.commit()
        conn.close()
        s2 = await p.poll_once()
        assert len(s2.rows) == 50 and s2.rows[0].status == "CANCELLED"
        assert ids[0] not in {r.execution_id for r in s2.rows}
        new = insert_rows(db, 1, start=200, ago=0)
        s3 = await p.poll_once()
        assert s3.rows[0].execution_id == new[0] and len(s3.rows) == 50
        # filter: only FAILED ones, and back
        p.set_filter("failed")
        s4 = await p.poll_once()
        assert [r.execution_id for r in s4.rows] == [ids[0]]
        p.set_filter("")
        assert len((await p.poll_once()).rows) == 50
    finally:
        await p.close()


async def test_poller_reports_a_vanished_file_and_reads_a_new_one(db, cfg, tmp_path):
    completed_runs(db, 1, tmp_path)
    p = Poller(db, cfg, lambda s: None)
    try:
        assert len((await p.poll_once()).rows) == 1
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        s = await p.poll_once()
        assert not s.ok and "gone" in s.error and len(s.rows) == 1  # last known rows kept
        from ..tui.helpers import prepare_db

        prepare_db(tmp_path / "workflow.db")  # a fresh, empty database at the same path
        s = await p.poll_once()
        assert s.ok and s.rows == ()
    finally:
        await p.close()


def test_poller_thread_delivers_snapshots_and_stops(db, cfg):
    got = []
    p = Poller(db, cfg, got.append)
    p.start()
    try:
        deadline = time.monotonic() + 5
        while len(got) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(got) >= 3 and all(s.ok for s in got)
        assert [s.seq for s in got] == sorted(s.seq for s in got)
    finally:
        t0 = time.monotonic()
        p.stop()
        assert time.monotonic() - t0 < 3


def test_run_manager_kill_leaves_a_crash_and_resume_completes_identically(db, cfg):
    gate = Gate("qc", 2, armed=False)
    events = []
    m = RunManager(db, cfg, on_event=events.append, after_commit=gate)
    try:
        ref = m.launch(READS, 5, CHUNK)
        deadline = time.monotonic() + 30
        while not any(e.kind == "completed" and e.execution_id == ref for e in events) and time.monotonic() < deadline:
            time.sleep(0.02)
        gate.armed = True
        eid = m.launch(READS, 5, CHUNK)
        assert gate.reached.wait(30)
        assert m.owns(eid)
        m.kill(eid)
        gate.release.set()
        while m.owns(eid):
            time.sleep(0.02)
        assert m.dead_incarnations()
        rec = asyncio.run(read_db(db, lambda s: s.get_execution(eid)))
        assert rec.status == "RUNNING" and rec.owner_incarnation in m.dead_incarnations()
        m.resume(eid)
        deadline = time.monotonic() + 30
        while not any(e.kind == "completed" and e.execution_id == eid for e in events) and time.monotonic() < deadline:
            time.sleep(0.02)
        a = asyncio.run(read_db(db, lambda s: s.get_execution(ref)))
        b = asyncio.run(read_db(db, lambda s: s.get_execution(eid)))
        assert b.status == "COMPLETED" and same_results(a.output_json, b.output_json)
        with pytest.raises(LaunchError):
            m.launch(0, 1, 1)
    finally:
        assert m.shutdown(timeout=3) == 0


def test_kill_of_another_local_genwf_process_sends_sigkill(db, cfg, tmp_path):
    proc = genwf(db, "2000000", "--chunk-size", "20000", cwd=tmp_path)
    m = RunManager(db, cfg)
    try:
        async def running():
            for _ in range(600):
                recs = await read_db(db, lambda s: s.list_executions(statuses=["RUNNING"]))
                if recs:
                    return recs[0]
                await asyncio.sleep(0.05)
            raise AssertionError("the genwf run never started")

        rec = asyncio.run(running())
        assert rec.owner_pid == proc.pid
        with pytest.raises(ActionRefused):
            m.kill(rec.execution_id, owner_pid=rec.owner_pid, owner_host="another-host")
        msg = m.kill(rec.execution_id, owner_pid=rec.owner_pid, owner_host=rec.owner_host)
        assert "SIGKILL" in msg
        assert proc.wait(10) == -9
        from genwf_tui.engine.liveness import interrupted_reason

        after = asyncio.run(read_db(db, lambda s: s.get_execution(rec.execution_id)))
        assert after.status == "RUNNING" and "gone" in interrupted_reason(after, stale_threshold_secs=300)
    finally:
        if proc.poll() is None:
            proc.kill()
        m.shutdown()


def test_shutdown_never_hangs_on_a_blocked_run(db, cfg):
    gate = Gate("qc", 0)
    m = RunManager(db, cfg, after_commit=gate)
    m.launch(READS, 1, CHUNK)
    assert gate.reached.wait(30)
    t0 = time.monotonic()
    busy = m.shutdown(timeout=0.5)  # the run's thread is held in the gate: reported, not waited for
    assert time.monotonic() - t0 < 2 and busy == 1
    gate.release.set()
    with pytest.raises(ActionRefused):
        m.launch(READS, 1, CHUNK)
