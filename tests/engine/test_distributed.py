"""Distribution within a run, in one process: the owner leases its chunks, a ChunkHelper
computes others, the owner waits for them or takes over an expired lease."""

from __future__ import annotations

import asyncio
import os
import threading
import time

from genwf_tui.engine import WorkflowExecutor
from genwf_tui.engine.helper import ChunkHelper
from genwf_tui.engine.liveness import HOST
from genwf_tui.storage.records import Owner

from .toy import Calls, expected_total, toy_workflow

DIST = {"distributed": True}


def executor(storage, wf, **kw):
    return WorkflowExecutor(storage, wf, node_id="node-t", heartbeat_interval_secs=0.05, lease_secs=5.0,
                            wait_poll_secs=0.02, **kw)


async def test_helper_computes_chunks_while_the_owner_runs(storage):
    calls, gate = Calls(), threading.Event()
    wf = toy_workflow(calls, gate=gate, distributable=True)
    ex = executor(storage, wf)
    eid = await ex.submit({"chunks": 6, "gate_at": 0}, DIST)
    owner = asyncio.create_task(ex.execute_from_state(eid, event="claimed", recovery=False))
    helper = ChunkHelper(storage, wf, Owner("node-h", "inc-h", os.getpid(), HOST), lease_secs=5.0)
    helped = []
    deadline = time.monotonic() + 30
    try:
        while not owner.done():
            assert time.monotonic() < deadline, helped
            if calls.counter[("sq", 0)] and not gate.is_set() and len(helped) >= 5:
                gate.set()  # the owner sat on sq#0 while the helper took 5..1
            got = await helper.help_one()
            if got:
                helped.append((got.step_id, got.chunk_index))
            else:
                await asyncio.sleep(0.005)
        outcome = owner.result()
    finally:
        gate.set()
        helper.close()
    assert outcome.status == "COMPLETED" and outcome.output["total"] == expected_total(6)
    assert sorted(helped[:5]) == [("sq", i) for i in range(1, 6)]  # all but the owner's sq#0
    assert sum(calls.counter.values()) == 12  # every chunk computed exactly once, by one of the two
    chunks = await storage.get_chunks(eid)
    by = {(c.step_id, c.chunk_index): c.node_id for c in chunks}
    assert len(chunks) == 13 and by[("sq", 0)] == "node-t"
    assert all(by[k] == "node-h" for k in helped)
    for st in await storage.get_steps(eid):  # helpers' chunks count in the step's progress and totals
        assert st.chunks_done == st.chunks_total and st.status == "COMPLETED"
        mine = [c for c in chunks if c.step_id == st.step_id]
        assert abs(st.compute_ms - sum(c.compute_ms for c in mine)) < 1e-6
    assert await storage.get_chunk_leases(eid) == []


async def test_owner_waits_for_a_foreign_lease_and_takes_the_chunk_when_it_expires(storage):
    calls = Calls()
    wf = toy_workflow(calls, distributable=True)
    ex = executor(storage, wf)
    eid = await ex.submit({"chunks": 5}, DIST)
    ghost = Owner("node-gone", "inc-gone", 0, "elsewhere")  # a helper on another host that froze
    assert await storage.claim_chunk(eid, "sq", 2, ghost, 0.6) is not None
    t0 = time.monotonic()
    outcome = await ex.execute_from_state(eid, event="claimed", recovery=False)
    assert outcome.status == "COMPLETED" and outcome.output["total"] == expected_total(5)
    assert time.monotonic() - t0 >= 0.5  # it waited for the lease to end
    assert {c.node_id for c in await storage.get_chunks(eid)} == {"node-t"}
    assert calls.counter[("sq", 2)] == 1


async def test_owner_drops_the_lease_of_a_dead_local_process_at_once(storage):
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    wf = toy_workflow(distributable=True)
    ex = executor(storage, wf)
    eid = await ex.submit({"chunks": 4}, DIST)
    await storage.claim_chunk(eid, "plus", 1, Owner("node-d", "inc-d", dead.pid, HOST), 60.0)
    t0 = time.monotonic()
    outcome = await ex.execute_from_state(eid, event="claimed", recovery=False)
    assert outcome.status == "COMPLETED" and time.monotonic() - t0 < 30


async def test_a_run_not_submitted_for_distribution_takes_no_leases(storage):
    wf = toy_workflow(distributable=True)
    claims = 0
    real = storage.claim_chunk

    async def counting(*a, **kw):
        nonlocal claims
        claims += 1
        return await real(*a, **kw)

    storage.claim_chunk = counting
    outcome = await executor(storage, wf).execute({"chunks": 4})
    assert outcome.status == "COMPLETED" and claims == 0
    helper = ChunkHelper(storage, wf, Owner("node-h", "inc-h", os.getpid(), HOST), lease_secs=5.0)
    assert not await helper.any_work()
