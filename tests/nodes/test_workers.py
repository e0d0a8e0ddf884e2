"""Real `genwf worker` processes sharing one database: crashes, zombies, rolling restarts.

Each test compares every run's results with an uninterrupted single-node run of the same
input (results minus timing fields, including the VCF's sha256) and checks that every chunk
was checkpointed exactly once (the primary key, plus a count against ``chunks_total``).
"""

from __future__ import annotations

import re
import signal
import time

import pytest

from .cluster import db, wait_for

READS, CHUNK = 20_000, 1_000
SEEDS = [1, 2, 3]


def test_four_workers_two_killed_all_complete_exactly_once(shared_url, make_cluster, reference):
    """4 workers, 12 runs; SIGKILL two workers mid-run; the others recover their runs."""
    ref = reference(READS, CHUNK, SEEDS)
    cluster = make_cluster(shared_url)
    ids = cluster.submit(READS, chunk_size=CHUNK, seeds=[SEEDS[i % 3] for i in range(12)])
    workers = [cluster.start(f"n{i}", concurrency=2) for i in range(1, 5)]
    victims, survivors = workers[:2], workers[2:]

    # kill each victim while it owns a run with progress (chunks committed, more to come)
    for v in victims:
        wait_for(f"{v.node_id} to be mid-run", lambda v=v: cluster.running_with_progress(v.pid), 60, 0.05)
    killed_runs = set()
    for v in victims:
        killed_runs.update(cluster.running_with_progress(v.pid))
        v.signal(signal.SIGKILL)
        v.proc.wait(timeout=10)
    assert killed_runs

    wait_for("all 12 runs COMPLETED", lambda: cluster.all_done(ids), 150, 0.3)
    for w in survivors:
        assert w.stop() == 0, w.text()
        assert "stopped" in w.text()

    events = cluster.check_exactly_once(ids, ref)
    recovered = {eid for eid, evs in events.items() if any(e.kind == "recovered" for e in evs)}
    # every run that was mid-flight on a killed worker was recovered (and only by a survivor)
    assert killed_runs <= recovered, cluster.logs()
    victim_pids = {str(v.pid) for v in victims}
    for eid in recovered:
        rec_events = [e for e in events[eid] if e.kind == "recovered"]
        assert all(e.node_id in {"n3", "n4"} for e in rec_events), rec_events
        assert any(re.search(r"owner process (\d+) is gone", e.detail or "") and
                   re.search(r"owner process (\d+)", e.detail).group(1) in victim_pids for e in rec_events)


@pytest.mark.postgres
def test_zombie_is_fenced_out(pg_url, make_cluster, reference):
    """SIGSTOP the owner past the stale threshold; another node takes the run; on SIGCONT the
    zombie writes nothing more and gives the run up."""
    reads = 40_000
    ref = reference(reads, CHUNK, [5])
    cluster = make_cluster(pg_url, GENOMIC_PIPELINE__RECOVERY__STALE_THRESHOLD_SECS="2")
    [eid] = cluster.submit(reads, chunk_size=CHUNK, seeds=[5])
    zombie = cluster.start("z1", concurrency=1)
    zombie_inc = zombie.incarnation()
    wait_for("z1 mid-run", lambda: cluster.running_with_progress(zombie.pid), 60, 0.05)
    zombie.signal(signal.SIGSTOP)
    try:
        taker = cluster.start("z2", concurrency=1)
        rec = wait_for("z2 to take the run", lambda: (r := cluster.executions()[eid]).node_id == "z2" and r, 60)
        assert rec.status == "RUNNING"
        taken_at = [e for e in db(pg_url, lambda s: s.get_events(eid)) if e.kind == "recovered"][-1].at
    finally:
        zombie.signal(signal.SIGCONT)
    wait_for("the zombie to notice it lost the run", lambda: f"{eid} LOST" in zombie.text(), 30)
    wait_for("the run COMPLETED", lambda: cluster.all_done([eid]), 90, 0.2)
    time.sleep(0.5)
    assert zombie.proc.poll() is None  # the zombie node lives on, it just gave the run up
    assert zombie.stop() == 0 and taker.stop() == 0

    chunks = db(pg_url, lambda s: s.get_chunks(eid))
    late = [c for c in chunks if c.incarnation.startswith(zombie_inc) and c.committed_at >= taken_at]
    assert late == [], "the zombie wrote after losing its fence"
    assert any(c.incarnation.startswith(zombie_inc) for c in chunks)  # it did work before the stop
    events = cluster.check_exactly_once([eid], ref)[eid]
    assert [e for e in events if e.at > taken_at and e.node_id == "z1"] == []
    rec = cluster.executions()[eid]
    assert rec.node_id == "z2" and rec.recovery_count == 1


@pytest.mark.postgres
def test_rolling_restart_with_same_node_id(pg_url, make_cluster, reference):
    """A new worker with the same node id starts while the old one drains: the old one
    releases its runs after the chunk in flight and exits 0; the new one takes them over;
    nothing is stranded, nothing runs twice, nothing is mistaken for a crash."""
    ref = reference(READS, CHUNK, SEEDS)
    cluster = make_cluster(pg_url)
    ids = cluster.submit(READS, chunk_size=CHUNK, seeds=SEEDS + SEEDS[:1])
    old = cluster.start("r1", concurrency=2)
    wait_for("old r1 running two runs", lambda: len(cluster.running_with_progress(old.pid)) == 2, 60, 0.05)
    new = cluster.start("r1", concurrency=2)
    new.incarnation()  # it is up and polling while the old one still runs its two
    held = set(cluster.running_with_progress(old.pid))
    assert old.stop() == 0, old.text()
    assert old.text().count("released") >= 1
    wait_for("all runs COMPLETED", lambda: cluster.all_done(ids), 120, 0.2)
    assert new.stop() == 0, new.text()

    events = cluster.check_exactly_once(ids, ref)
    for eid, evs in events.items():
        kinds = [e.kind for e in evs]
        assert "recovered" not in kinds, (eid, kinds)  # a live, draining process is never taken for dead
    released = {eid for eid, evs in events.items() if any(e.kind == "released" for e in evs)}
    assert released and released <= held, (released, held)
    for eid in released:
        evs = events[eid]
        rel = max(i for i, e in enumerate(evs) if e.kind == "released")
        after = [e for e in evs[rel + 1:] if e.kind == "claimed"]
        assert after and f"pid {new.pid}" in after[0].detail, evs  # the new process took it at once
