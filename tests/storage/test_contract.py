"""The storage contract: every backend passes the same tests (fixture `storage` is parametrized)."""

from __future__ import annotations

import asyncio

import pytest

from genwf_tui.storage import make_storage
from genwf_tui.storage.records import ChunkWrite, NewExecution, Owner, OwnershipLost

OWNER_A = Owner("node-a", "inc-a", 111, "host-a")
OWNER_B = Owner("node-b", "inc-b", 222, "host-b")


def new(eid: str = "e1") -> NewExecution:
    return NewExecution(eid, "wf", 1, '{"reads": 10}', ("qc", "align"), {"k": "v"})


def chunk(step: str, i: int, payload: bytes = b"x") -> ChunkWrite:
    return ChunkWrite(step, i, payload, 10, 5.0, 0.5, 1, "inc-a")


async def seed_definition(storage):
    await storage.save_definition("wf", 1, "Workflow", '{"steps": []}')


async def test_migrations_applied_and_idempotent(storage, storage_url):
    assert await storage.schema_version() >= 1
    again = make_storage(storage_url)
    await again.open()  # re-opening applies nothing twice
    assert await again.schema_version() == await storage.schema_version()
    await again.close()


async def test_definition_saved_once(storage):
    await seed_definition(storage)
    await storage.save_definition("wf", 1, "Other", '{"x": 1}')
    assert await storage.get_definition_json("wf", 1) == '{"steps": []}'
    assert await storage.get_definition_json("wf", 2) is None


async def test_create_owned_and_pending(storage):
    await seed_definition(storage)
    fence = await storage.create_execution(new("e1"), OWNER_A)
    assert fence.version == 1 and fence.node_id == "node-a"
    assert await storage.create_execution(new("e2"), None) is None
    e1, e2 = await storage.get_execution("e1"), await storage.get_execution("e2")
    assert (e1.status, e1.node_id, e1.owner_pid, e1.owner_host) == ("RUNNING", "node-a", 111, "host-a")
    assert e2.status == "PENDING" and e2.node_id is None
    assert e1.input == {"reads": 10} and e1.metadata == {"k": "v"}
    assert e1.heartbeat_age is not None and -1 < e1.heartbeat_age < 5
    steps = await storage.get_steps("e1")
    assert [(s.step_id, s.step_index, s.status) for s in steps] == [("qc", 0, "PENDING"), ("align", 1, "PENDING")]
    assert await storage.get_execution("nope") is None


async def test_commit_chunk_is_fenced_and_atomic(storage):
    await seed_definition(storage)
    fence = await storage.create_execution(new(), OWNER_A)
    await storage.start_step(fence, "qc", 3, 1)
    assert await storage.commit_chunk(fence, chunk("qc", 0, b"\x00\x01")) is False
    assert fence.version == 3
    stale = type(fence)(fence.execution_id, fence.node_id, fence.version - 1)
    with pytest.raises(OwnershipLost):
        await storage.commit_chunk(stale, chunk("qc", 1))
    # the rejected write left nothing behind
    assert [c.chunk_index for c in await storage.get_chunks("e1", "qc")] == [0]
    qc = (await storage.get_steps("e1"))[0]
    assert (qc.status, qc.chunks_total, qc.chunks_done, qc.items_done) == ("RUNNING", 3, 1, 10)
    assert qc.compute_ms == pytest.approx(5.0) and qc.coordinate_ms == pytest.approx(0.5)
    assert await storage.get_chunk_payloads("e1", "qc") == {0: b"\x00\x01"}
    rec = await storage.get_execution("e1")
    assert rec.current_step_id == "qc" and rec.version == fence.version


async def test_chunk_never_checkpointed_twice(storage):
    await seed_definition(storage)
    fence = await storage.create_execution(new(), OWNER_A)
    await storage.commit_chunk(fence, chunk("qc", 0))
    with pytest.raises(Exception):
        await storage.commit_chunk(fence, chunk("qc", 0))
    assert len(await storage.get_chunks("e1", "qc")) == 1
    assert (await storage.get_steps("e1"))[0].chunks_done == 1


async def test_claim_is_compare_and_swap(storage):
    await seed_definition(storage)
    fence_a = await storage.create_execution(new(), OWNER_A)
    rec = await storage.get_execution("e1")
    fence_b = await storage.claim("e1", rec.version, OWNER_B, event="recovered", recovery=True, detail="test")
    assert fence_b is not None and fence_b.version == rec.version + 1
    # a second claim on the old version loses
    assert await storage.claim("e1", rec.version, OWNER_A, event="recovered", recovery=True) is None
    # the zombie (old owner) can no longer write
    with pytest.raises(OwnershipLost):
        await storage.heartbeat(fence_a)
    with pytest.raises(OwnershipLost):
        await storage.commit_chunk(fence_a, chunk("qc", 0))
    after = await storage.get_execution("e1")
    assert (after.node_id, after.owner_pid, after.recovery_count) == ("node-b", 222, 1)
    kinds = [e.kind for e in await storage.get_events("e1")]
    assert kinds == ["started", "recovered"]


async def test_concurrent_claims_exactly_one_wins(storage_url):
    setup = make_storage(storage_url)
    await setup.open()
    await seed_definition(setup)
    await setup.create_execution(new(), None)
    version = (await setup.get_execution("e1")).version
    await setup.close()

    async def claimer(i: int):
        s = make_storage(storage_url)
        await s.open()
        try:
            return await s.claim("e1", version, Owner(f"n{i}", f"i{i}", i, "h"), event="claimed", recovery=False)
        finally:
            await s.close()

    results = await asyncio.gather(*(claimer(i) for i in range(6)))
    assert sum(r is not None for r in results) == 1


async def test_finish_execution_and_release(storage):
    await seed_definition(storage)
    fence = await storage.create_execution(new("e1"), OWNER_A)
    await storage.finish_step(fence, "qc", "COMPLETED", 1.5)
    await storage.finish_execution(fence, "COMPLETED", '{"total_reads": 10}')
    rec = await storage.get_execution("e1")
    assert rec.status == "COMPLETED" and rec.output == {"total_reads": 10} and rec.completed_at is not None
    assert (await storage.get_steps("e1"))[0].coordinate_ms == pytest.approx(1.5)

    fence2 = await storage.create_execution(new("e2"), OWNER_A)
    await storage.release(fence2, "shutdown")
    rec2 = await storage.get_execution("e2")
    assert rec2.status == "PENDING" and rec2.node_id is None
    with pytest.raises(OwnershipLost):
        await storage.heartbeat(fence2)
    assert await storage.claim("e2", rec2.version, OWNER_B, event="claimed", recovery=False) is not None


async def test_cancel_request_reaches_owner_without_breaking_fence(storage):
    await seed_definition(storage)
    fence = await storage.create_execution(new("e1"), OWNER_A)
    await storage.create_execution(new("e2"), None)
    assert await storage.request_cancel("e1") == "RUNNING"
    assert await storage.heartbeat(fence) is True  # owner still holds the fence and sees the request
    assert await storage.request_cancel("e2") == "CANCELLED"
    assert (await storage.get_execution("e2")).status == "CANCELLED"
    await storage.finish_execution(fence, "CANCELLED")
    assert await storage.request_cancel("e1") is None


async def test_fail_unowned_and_attempts(storage):
    await seed_definition(storage)
    fence = await storage.create_execution(new("e1"), OWNER_A)
    await storage.record_attempt(fence, "qc", 2, "boom")
    qc = (await storage.get_steps("e1"))[0]
    assert (qc.attempt, qc.error) == (2, "boom")
    rec = await storage.get_execution("e1")
    assert await storage.fail_unowned("e1", rec.version - 1, "x") is False
    assert await storage.fail_unowned("e1", rec.version, "crash loop") is True
    assert (await storage.get_execution("e1")).status == "FAILED"


async def test_listing_filters_and_watermark(storage):
    await seed_definition(storage)
    for i in range(5):
        await storage.create_execution(new(f"run-{i}"), OWNER_A if i % 2 else None)
    listed = await storage.list_executions(limit=3)
    assert len(listed) == 3 and listed[0].execution_id == "run-4"
    assert {r.execution_id for r in await storage.list_executions(statuses=["PENDING"])} == {"run-0", "run-2", "run-4"}
    assert await storage.count_by_status() == {"PENDING": 3, "RUNNING": 2}
    mark = await storage.max_updated_at()
    assert mark is not None
    await asyncio.sleep(0.01)
    later = await storage.now()
    assert await storage.list_executions(changed_since=later + 1) == []
    await storage.request_cancel("run-1")
    changed = await storage.list_executions(changed_since=later)
    assert [r.execution_id for r in changed] == ["run-1"]
    assert [r.execution_id for r in await storage.list_executions(search="run-3")] == ["run-3"]
    assert await storage.resolve_execution_id("run-") == [f"run-{i}" for i in range(5)]
    assert await storage.resolve_execution_id("zzz") == []


async def test_database_clock_is_used(storage):
    import time

    assert abs(await storage.now() - time.time()) < 5
