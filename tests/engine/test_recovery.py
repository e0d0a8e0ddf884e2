"""RecoveryService scenarios on real storages: same node restarted, node id changed, dead
node (stale heartbeat), live owners left alone, crash loops failed, PENDING runs taken."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from genwf_tui.engine import RecoveryPolicy, RecoveryService, WorkflowExecutor
from genwf_tui.engine.liveness import HOST, interrupted_reason
from genwf_tui.storage.records import NewExecution, Owner

from .toy import expected_total, toy_workflow


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


async def crashed_run(storage, owner: Owner, chunks: int = 4, done: int = 2) -> str:
    """A run that checkpointed `done` chunks of step sq, then its process vanished."""
    wf = toy_workflow()
    await storage.save_definition("toy", 1, "Toy", wf.definition.to_json())
    eid = f"run-{owner.node_id}-{owner.incarnation}"
    fence = await storage.create_execution(
        NewExecution(eid, "toy", 1, f'{{"chunks": {chunks}}}', ("sq", "plus", "sum")), owner)
    from genwf_tui.storage.records import ChunkWrite

    await storage.start_step(fence, "sq", chunks, 1)
    for i in range(done):
        await storage.commit_chunk(fence, ChunkWrite("sq", i, str(i * i).encode(), 10, 1.0, 0.1, 1, owner.incarnation))
    return eid


def service(storage, node_id="node-new", stale=300.0, max_recoveries=3):
    factory = lambda: WorkflowExecutor(storage, toy_workflow(), node_id=node_id, heartbeat_interval_secs=0.05)  # noqa: E731
    return RecoveryService(storage, factory, RecoveryPolicy(stale_threshold_secs=stale, max_recoveries=max_recoveries),
                           definition=toy_workflow().definition,
                           node_id=node_id)


async def test_same_node_restarted(storage):
    eid = await crashed_run(storage, Owner("node-new", "old-1", dead_pid(), HOST))
    report = await service(storage, "node-new").recover_on_startup()
    assert (report.total_found, report.claimed, report.transferred, report.recovered) == (1, 1, 0, 1)
    rec = await storage.get_execution(eid)
    assert rec.status == "COMPLETED" and rec.output["total"] == expected_total(4)
    assert rec.node_id == "node-new" and rec.recovery_count == 1


async def test_node_id_changed_is_a_transfer(storage):
    eid = await crashed_run(storage, Owner("node-old", "old-2", dead_pid(), HOST))
    report = await service(storage, "node-new").recover_on_startup()
    assert (report.claimed, report.transferred, report.recovered) == (1, 1, 1)
    events = await storage.get_events(eid)
    assert "from node node-old to node-new" in [e for e in events if e.kind == "recovered"][0].detail


async def test_dead_node_on_another_host_by_stale_heartbeat(storage):
    eid = await crashed_run(storage, Owner("node-far", "far-1", 4242, "another-host"))
    # fresh heartbeat: another host's live run is left alone
    report = await service(storage, stale=30).recover_on_startup()
    assert report.total_found == 0
    await asyncio.sleep(0.3)
    report = await service(storage, stale=0.2).recover_on_startup()
    assert (report.total_found, report.transferred, report.recovered) == (1, 1, 1)
    assert "last heartbeat" in report.found[0][1]
    assert (await storage.get_execution(eid)).status == "COMPLETED"


async def test_live_owner_on_this_host_is_not_interrupted(storage):
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        await crashed_run(storage, Owner("node-x", "live-1", live.pid, HOST))
        report = await service(storage).recover_on_startup()
        assert report.total_found == 0
    finally:
        live.kill()
        live.wait()
    report = await service(storage).recover_on_startup()
    assert report.recovered == 1


async def test_pending_runs_are_taken_and_counted_not_as_recoveries(storage):
    ex = WorkflowExecutor(storage, toy_workflow(), node_id="n")
    eid = await ex.submit({"chunks": 2})
    report = await service(storage).recover_on_startup()
    assert report.claimed == 1 and report.recovered == 1
    assert (await storage.get_execution(eid)).recovery_count == 0


async def test_crash_loop_marked_failed(storage):
    eid = await crashed_run(storage, Owner("node-a", "loop-1", dead_pid(), HOST))
    rec = await storage.get_execution(eid)
    for i in range(2):  # two more crashes after two recoveries
        fence = await storage.claim(eid, rec.version, Owner("node-a", f"loop-{i + 2}", dead_pid(), HOST),
                                    event="recovered", recovery=True)
        assert fence is not None
        rec = await storage.get_execution(eid)
    assert rec.recovery_count == 2
    report = await service(storage, max_recoveries=2).recover_on_startup()
    assert report.failed == 1 and report.recovered == 0
    rec = await storage.get_execution(eid)
    assert rec.status == "FAILED" and "max_recoveries=2" in rec.error


async def test_concurrent_recoverers_in_one_loop_exactly_one_claims(storage_url):
    from genwf_tui.storage import make_storage

    setup = make_storage(storage_url)
    await setup.open()
    ids = [await crashed_run(setup, Owner("node-a", f"c-{i}", dead_pid(), HOST)) for i in range(3)]
    await setup.close()

    async def recoverer(i):
        s = make_storage(storage_url)
        await s.open()
        try:
            return await service(s, f"rec-{i}").recover_on_startup()
        finally:
            await s.close()

    reports = await asyncio.gather(*(recoverer(i) for i in range(4)))
    assert sum(r.claimed for r in reports) == 3
    check = make_storage(storage_url)
    await check.open()
    for eid in ids:
        events = [e.kind for e in await check.get_events(eid)]
        assert events.count("recovered") == 1 and events[-1] == "completed"
    await check.close()


def test_interrupted_reason_rules():
    from genwf_tui.storage.records import ExecutionRecord

    base = dict(execution_id="e", definition_id="d", definition_version=1, status="RUNNING", current_step_id=None,
                input_json="{}", output_json=None, error=None, node_id="n", version=1, owner_incarnation="inc",
                owner_pid=None, owner_host="elsewhere", recovery_count=0, cancel_requested=False, metadata_json="{}",
                created_at=0.0, started_at=0.0, completed_at=None, updated_at=0.0, last_heartbeat=0.0,
                last_progress_at=0.0, heartbeat_age=1.0, progress_age=1.0)
    assert interrupted_reason(ExecutionRecord(**base), stale_threshold_secs=10) is None
    assert "heartbeat" in interrupted_reason(ExecutionRecord(**{**base, "heartbeat_age": 11.0}), stale_threshold_secs=10)
    assert "progress" in interrupted_reason(ExecutionRecord(**{**base, "progress_age": 100.0}), stale_threshold_secs=10,
                                            progress_timeout_secs=50)
    assert interrupted_reason(ExecutionRecord(**base), stale_threshold_secs=10, dead_incarnations={"inc"})
    assert interrupted_reason(ExecutionRecord(**{**base, "status": "PENDING"}), stale_threshold_secs=0) is None
    mine = ExecutionRecord(**{**base, "owner_host": HOST, "owner_pid": 99999999})
    assert "gone" in interrupted_reason(mine, stale_threshold_secs=10)


async def test_other_workflows_are_left_alone(storage):
    """Recovery only takes executions of its own workflow definition."""
    await crashed_run(storage, Owner("node-a", "other-1", dead_pid(), HOST))
    await storage.save_definition("other", 1, "Other", "{}")
    from genwf_tui.storage.records import NewExecution as New

    await storage.create_execution(New("foreign", "other", 1, "{}", ("x",)), None)
    report = await service(storage).recover_on_startup()
    assert report.total_found == 1 and report.recovered == 1
    assert (await storage.get_execution("foreign")).status == "PENDING"
