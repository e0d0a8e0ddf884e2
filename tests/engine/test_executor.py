"""Executor behaviour on real storages: checkpoints, resume, retries, cancel, kill, fencing."""

from __future__ import annotations

import asyncio
import threading

import pytest

from genwf_tui.engine import ExecutionControl, WorkflowExecutor
from genwf_tui.engine.executor import KILLED, LOST
from genwf_tui.storage.records import Owner

from .toy import Calls, expected_total, toy_workflow


def executor(storage, wf, **kw):
    return WorkflowExecutor(storage, wf, node_id="node-t", heartbeat_interval_secs=0.05, **kw)


async def test_runs_to_completion_with_checkpoints_and_metrics(storage):
    calls = Calls()
    outcome = await executor(storage, toy_workflow(calls)).execute({"chunks": 5})
    assert outcome.status == "COMPLETED"
    assert outcome.output["total"] == expected_total(5)
    rec = await storage.get_execution(outcome.execution_id)
    assert rec.status == "COMPLETED" and rec.output == outcome.output
    steps = await storage.get_steps(outcome.execution_id)
    assert [(s.step_id, s.status, s.chunks_done, s.chunks_total) for s in steps] == [
        ("sq", "COMPLETED", 5, 5), ("plus", "COMPLETED", 5, 5), ("sum", "COMPLETED", 1, 1)]
    chunks = await storage.get_chunks(outcome.execution_id)
    assert len(chunks) == 11 and all(c.compute_ms >= 0 and c.coordinate_ms > 0 for c in chunks)
    m = outcome.output["metrics"]
    assert m["total_time_ms"] == pytest.approx(m["compute_time_ms"] + m["coordinate_time_ms"], abs=0.002)
    assert set(outcome.output["step_metrics"]) == {"sq", "plus", "sum"}
    assert sum(calls.counter.values()) == 10


async def test_kill_writes_nothing_more_and_resume_skips_done_chunks(storage):
    calls = Calls()
    gate = threading.Event()
    control = ExecutionControl()
    wf = toy_workflow(calls, gate=gate)
    ex = executor(storage, wf, control=control)
    task = asyncio.create_task(ex.execute({"chunks": 6, "gate_at": 3}))
    while calls.counter[("sq", 3)] == 0:
        await asyncio.sleep(0.01)
    eid = (await storage.list_executions(limit=1))[0].execution_id
    before = await storage.get_execution(eid)
    control.kill()
    outcome = await asyncio.wait_for(task, 5)
    gate.set()
    assert outcome.status == KILLED
    await asyncio.sleep(0.2)  # a heartbeat would have fired by now
    after = await storage.get_execution(eid)
    assert after.version == before.version and after.status == "RUNNING"
    assert sorted(c.chunk_index for c in await storage.get_chunks(eid, "sq")) == [0, 1, 2]

    resumed = await executor(storage, toy_workflow(calls)).execute_from_state(eid)
    assert resumed.status == "COMPLETED" and resumed.output["total"] == expected_total(6)
    # chunks 0..2 were computed once only; chunk 3 was in flight when killed, so twice
    assert [calls.counter[("sq", i)] for i in range(6)] == [1, 1, 1, 2, 1, 1]
    events = [e.kind for e in await storage.get_events(eid)]
    assert events == ["started", "resumed", "completed"]
    assert (await storage.get_execution(eid)).recovery_count == 1


async def test_retry_then_success_records_attempts(storage):
    outcome = await executor(storage, toy_workflow(fail={2: 2}, max_attempts=3)).execute({"chunks": 4})
    assert outcome.status == "COMPLETED"
    sq = (await storage.get_steps(outcome.execution_id))[0]
    assert sq.attempt == 3 and "injected failure at 2" in sq.error
    chunk2 = [c for c in await storage.get_chunks(outcome.execution_id, "sq") if c.chunk_index == 2][0]
    assert chunk2.attempt == 3


async def test_attempts_exhausted_fails_with_error(storage):
    outcome = await executor(storage, toy_workflow(fail={1: 5}, max_attempts=2)).execute({"chunks": 3})
    assert outcome.status == "FAILED" and "injected failure at 1" in outcome.error
    rec = await storage.get_execution(outcome.execution_id)
    assert rec.status == "FAILED" and "after 2 attempt" in rec.error
    sq = (await storage.get_steps(outcome.execution_id))[0]
    assert sq.status == "FAILED" and sq.chunks_done == 1


async def test_cancel_finishes_chunk_in_flight(storage):
    gate = threading.Event()
    calls = Calls()
    control = ExecutionControl()
    task = asyncio.create_task(executor(storage, toy_workflow(calls, gate=gate), control=control)
                               .execute({"chunks": 6, "gate_at": 2}))
    while calls.counter[("sq", 2)] == 0:
        await asyncio.sleep(0.01)
    control.cancel()
    gate.set()
    outcome = await asyncio.wait_for(task, 5)
    assert outcome.status == "CANCELLED"
    assert sorted(c.chunk_index for c in await storage.get_chunks(outcome.execution_id, "sq")) == [0, 1, 2]
    assert (await storage.get_execution(outcome.execution_id)).status == "CANCELLED"


async def test_cancel_requested_through_the_database(storage):
    gate = threading.Event()
    calls = Calls()
    task = asyncio.create_task(executor(storage, toy_workflow(calls, gate=gate)).execute({"chunks": 6, "gate_at": 1}))
    while calls.counter[("sq", 1)] == 0:
        await asyncio.sleep(0.01)
    eid = (await storage.list_executions(limit=1))[0].execution_id
    assert await storage.request_cancel(eid) == "RUNNING"
    await asyncio.sleep(0.15)  # the heartbeat brings the request back
    gate.set()
    outcome = await asyncio.wait_for(task, 5)
    assert outcome.status == "CANCELLED"


async def test_fenced_zombie_writes_nothing_more(storage):
    gate = threading.Event()
    calls = Calls()
    task = asyncio.create_task(executor(storage, toy_workflow(calls, gate=gate)).execute({"chunks": 6, "gate_at": 2}))
    while calls.counter[("sq", 2)] == 0:
        await asyncio.sleep(0.01)
    eid = (await storage.list_executions(limit=1))[0].execution_id
    rec = await storage.get_execution(eid)
    usurper = await storage.claim(eid, rec.version, Owner("other", "x-1", 1, "elsewhere"), event="recovered", recovery=True)
    if usurper is None:  # a heartbeat raced the claim: take the newer version
        rec = await storage.get_execution(eid)
        usurper = await storage.claim(eid, rec.version, Owner("other", "x-1", 1, "elsewhere"), event="recovered", recovery=True)
    assert usurper is not None
    gate.set()
    outcome = await asyncio.wait_for(task, 5)
    assert outcome.status == LOST
    after = await storage.get_execution(eid)
    assert after.version == usurper.version and after.node_id == "other"
    assert sorted(c.chunk_index for c in await storage.get_chunks(eid, "sq")) == [0, 1]


async def test_submit_then_claim_and_run(storage):
    ex = executor(storage, toy_workflow())
    eid = await ex.submit({"chunks": 2})
    assert (await storage.get_execution(eid)).status == "PENDING"
    outcome = await ex.execute_from_state(eid, event="claimed", recovery=False)
    assert outcome.status == "COMPLETED"
    assert (await storage.get_execution(eid)).recovery_count == 0


async def test_metrics_are_not_double_counted(storage):
    import time

    t0 = time.perf_counter()
    outcome = await executor(storage, toy_workflow()).execute({"chunks": 30})
    wall_ms = (time.perf_counter() - t0) * 1000
    m = outcome.output["metrics"]
    # compute + coordinate partition the engine's time: never more than the wall clock
    assert m["total_time_ms"] <= wall_ms
    steps = await storage.get_steps(outcome.execution_id)
    chunks = await storage.get_chunks(outcome.execution_id)
    for s in steps:
        mine = [c for c in chunks if c.step_id == s.step_id]
        assert s.compute_ms == pytest.approx(sum(c.compute_ms for c in mine))
        assert s.coordinate_ms >= sum(c.coordinate_ms for c in mine)
        assert s.coordinate_ms - sum(c.coordinate_ms for c in mine) < wall_ms / 3


async def test_parallel_lanes_compute_each_chunk_once(storage):
    import time

    calls = Calls()
    ex = WorkflowExecutor(storage, toy_workflow(calls, distributable=True), node_id="node-t",
                          heartbeat_interval_secs=0.05, compute_threads=3)
    t0 = time.perf_counter()
    outcome = await ex.execute({"chunks": 12})
    wall_ms = (time.perf_counter() - t0) * 1000
    assert outcome.status == "COMPLETED" and outcome.output["total"] == expected_total(12)
    assert all(calls.counter[("sq", i)] == 1 and calls.counter[("plus", i)] == 1 for i in range(12))
    chunks = await storage.get_chunks(outcome.execution_id)
    assert sorted((c.step_id, c.chunk_index) for c in chunks if c.step_id == "sq") == [("sq", i) for i in range(12)]
    assert outcome.output["metrics"]["total_time_ms"] <= wall_ms  # overlapping compute counted once


async def test_parallel_lanes_kill_loses_at_most_one_chunk_per_lane(storage):
    gate = threading.Event()
    calls = Calls()
    control = ExecutionControl()
    ex = WorkflowExecutor(storage, toy_workflow(calls, gate=gate, distributable=True), node_id="node-t",
                          heartbeat_interval_secs=0.05, compute_threads=2, control=control)
    task = asyncio.create_task(ex.execute({"chunks": 10, "gate_at": 4}))
    while calls.counter[("sq", 4)] == 0:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # the other lane goes on with the chunks after the gated one
    control.kill()
    outcome = await asyncio.wait_for(task, 5)
    gate.set()
    assert outcome.status == KILLED
    eid = outcome.execution_id
    done = sorted(c.chunk_index for c in await storage.get_chunks(eid, "sq"))
    assert 4 not in done and len(set(range(10)) - set(done)) <= 2  # at most one chunk per lane lost
    resumed = await executor(storage, toy_workflow(calls, distributable=True)).execute_from_state(eid)
    assert resumed.status == "COMPLETED" and resumed.output["total"] == expected_total(10)
    assert all(calls.counter[("sq", i)] == 1 for i in done)  # never recomputed


@pytest.mark.parametrize("now", [False, True])
async def test_release_hands_the_run_back(storage, now):
    from genwf_tui.engine.executor import RELEASED

    gate = threading.Event()
    calls = Calls()
    control = ExecutionControl()
    task = asyncio.create_task(executor(storage, toy_workflow(calls, gate=gate), control=control)
                               .execute({"chunks": 5, "gate_at": 2}))
    while calls.counter[("sq", 2)] == 0:
        await asyncio.sleep(0.01)
    control.release("node shutting down", now=now)
    if not now:
        gate.set()  # graceful: the chunk in flight finishes and is committed first
    outcome = await asyncio.wait_for(task, 5)
    gate.set()
    assert outcome.status == RELEASED
    rec = await storage.get_execution(outcome.execution_id)
    assert rec.status == "PENDING" and rec.node_id is None and rec.owner_pid is None
    done = sorted(c.chunk_index for c in await storage.get_chunks(outcome.execution_id, "sq"))
    assert done == ([0, 1] if now else [0, 1, 2])
    assert [e.kind for e in await storage.get_events(outcome.execution_id)][-1] == "released"
    taken = await executor(storage, toy_workflow(calls)).execute_from_state(outcome.execution_id, event="claimed",
                                                                           recovery=False)
    assert taken.status == "COMPLETED" and taken.output["total"] == expected_total(5)
