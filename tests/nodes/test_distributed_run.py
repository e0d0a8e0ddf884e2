"""One distributed run (`genwf submit --distribute`) computed by several `genwf worker`
processes at once: every chunk checkpointed once, by more than one node, results identical to
a single-node `genwf` run — also when a helper is SIGKILLed while it holds a chunk lease."""

from __future__ import annotations

import signal
import subprocess
import time

from ..conftest import genwf_cmd
from .cluster import db, wait_for

READS, CHUNK, SEED = 120_000, 5_000, 7
HELPED_STEPS = ("qc", "align")


def submit_distributed(url: str, cwd, env) -> str:
    proc = subprocess.run(genwf_cmd("submit", str(READS), "--chunk-size", str(CHUNK), "--seed", str(SEED),
                                    "--distribute", "--storage", url),
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def start(cluster, eid: str):
    """The owner first (so it is the one that claims the run), then two helpers."""
    owner = cluster.start("d-own", concurrency=1)
    wait_for("d-own to claim the run", lambda: cluster.executions()[eid].node_id == "d-own", 60, 0.05)
    return owner, [cluster.start(f"d-h{i}", concurrency=1) for i in (1, 2)]


def finish(cluster, eid: str, ref: dict) -> list:
    wait_for("the run COMPLETED", lambda: cluster.all_done([eid]), 120, 0.2)
    for w in cluster.workers:
        if w.proc.poll() is None:
            assert w.stop() == 0, w.text()
    cluster.check_exactly_once([eid], ref)  # COMPLETED once, count == chunks_total per step, same results
    assert db(cluster.url, lambda s: s.get_chunk_leases(eid)) == []
    return db(cluster.url, lambda s: s.get_chunks(eid))


def test_three_workers_share_one_run(shared_url, make_cluster, reference, node_env, tmp_path):
    ref = reference(READS, CHUNK, [SEED])
    cluster = make_cluster(shared_url, GENOMIC_PIPELINE__RECOVERY__STALE_THRESHOLD_SECS="3")
    eid = submit_distributed(shared_url, tmp_path, node_env)
    start(cluster, eid)
    chunks = finish(cluster, eid, ref)
    helped = {c.node_id for c in chunks if c.step_id in HELPED_STEPS}
    assert len(helped) > 1 and "d-own" in helped, (helped, cluster.logs())
    assert {c.node_id for c in chunks if c.step_id == "call"} == {"d-own"}  # the reduction: owner only
    assert any("helping" in w.text() for w in cluster.workers[1:]), cluster.logs()


def test_helper_killed_while_holding_a_lease(shared_url, make_cluster, reference, node_env, tmp_path):
    ref = reference(READS, CHUNK, [SEED])
    cluster = make_cluster(shared_url, GENOMIC_PIPELINE__RECOVERY__STALE_THRESHOLD_SECS="3")
    eid = submit_distributed(shared_url, tmp_path, node_env)
    _owner, (victim, _other) = start(cluster, eid)

    def held_by_victim():
        return [lease for lease in db(cluster.url, lambda s: s.get_chunk_leases(eid))
                if lease.node_id == "d-h1" and lease.expires_in > 0]

    # Freeze the victim while it holds a lease (so it cannot commit that chunk), then kill it.
    deadline = time.monotonic() + 60
    held = []
    while not held:
        assert time.monotonic() < deadline, "the victim never held a chunk lease\n" + cluster.logs()
        if not held_by_victim():
            time.sleep(0.02)
            continue
        victim.signal(signal.SIGSTOP)
        held = held_by_victim()
        if not held:
            victim.signal(signal.SIGCONT)
    victim.signal(signal.SIGKILL)
    victim.proc.wait(timeout=10)

    chunks = finish(cluster, eid, ref)
    by = {(c.step_id, c.chunk_index): c.node_id for c in chunks}
    for lease in held:  # the victim's chunk was computed again, by someone else
        assert by[(lease.step_id, lease.chunk_index)] != "d-h1"
    assert {c.node_id for c in chunks if c.step_id in HELPED_STEPS} - {"d-h1"} >= {"d-own"}
