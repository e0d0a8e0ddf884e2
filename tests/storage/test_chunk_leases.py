"""The chunk-lease half of the storage contract (distributed runs), on both backends."""

from __future__ import annotations

import asyncio

import pytest

from genwf_tui.storage import make_storage
from genwf_tui.storage.records import ChunkWrite, LeaseLost, NewExecution, Owner, OwnershipLost

OWNER = Owner("node-a", "inc-a", 111, "host-a")
HELPER = Owner("node-h", "inc-h", 222, "host-h")
OTHER = Owner("node-o", "inc-o", 333, "host-o")
LONG = 60.0


def new(eid: str = "e1", distributed: bool = True) -> NewExecution:
    return NewExecution(eid, "wf", 1, '{"reads": 10}', ("qc", "align", "call"), {"distributed": True} if distributed else {})


def chunk(step: str, i: int, payload: bytes = b"x", inc: str = "inc-h") -> ChunkWrite:
    return ChunkWrite(step, i, payload, 10, 5.0, 0.5, 1, inc)


async def running(storage, eid: str = "e1", distributed: bool = True, total: int = 4):
    await storage.save_definition("wf", 1, "Workflow", "{}")
    fence = await storage.create_execution(new(eid, distributed), OWNER)
    await storage.start_step(fence, "qc", total, 1)
    return fence


async def test_claim_excludes_others_until_expiry_then_old_lease_writes_nothing(storage):
    await running(storage)
    first = await storage.claim_chunk("e1", "qc", 0, HELPER, 0.5)
    assert first is not None and (first.node_id, first.incarnation) == ("node-h", "inc-h")
    assert await storage.claim_chunk("e1", "qc", 0, OTHER, LONG) is None
    assert await storage.claim_chunk("e1", "qc", 0, HELPER, LONG) is None  # held means held, even by itself
    await asyncio.sleep(0.7)
    second = await storage.claim_chunk("e1", "qc", 0, OTHER, LONG)
    assert second is not None and second.token != first.token
    with pytest.raises(LeaseLost):  # expired and taken: nothing written
        await storage.commit_leased_chunk(first, chunk("qc", 0, b"old"))
    assert await storage.get_chunks("e1", "qc") == []
    assert (await storage.get_steps("e1"))[0].chunks_done == 0
    assert not await storage.renew_chunk_lease(first, LONG)
    await storage.commit_leased_chunk(second, chunk("qc", 0, b"new", inc="inc-o"))
    [row] = await storage.get_chunks("e1", "qc")
    assert (row.node_id, row.incarnation) == ("node-o", "inc-o")
    assert await storage.get_chunk_payloads("e1", "qc") == {0: b"new"}


async def test_expired_lease_cannot_commit_even_if_nobody_took_it(storage):
    await running(storage)
    lease = await storage.claim_chunk("e1", "qc", 1, HELPER, 0.2)
    await asyncio.sleep(0.4)
    with pytest.raises(OwnershipLost):  # LeaseLost is an OwnershipLost
        await storage.commit_leased_chunk(lease, chunk("qc", 1))
    assert await storage.get_chunks("e1") == []


async def test_helper_commit_counts_progress_and_never_touches_the_execution_row(storage):
    fence = await running(storage)
    before = await storage.get_execution("e1")
    for i, who in ((3, HELPER), (2, OTHER)):
        lease = await storage.claim_chunk("e1", "qc", i, who, LONG)
        await storage.commit_leased_chunk(lease, chunk("qc", i, inc=who.incarnation))
    after = await storage.get_execution("e1")
    assert (after.version, after.updated_at) == (before.version, before.updated_at)
    qc = (await storage.get_steps("e1"))[0]
    assert (qc.chunks_done, qc.items_done) == (2, 20)
    assert qc.compute_ms == pytest.approx(10.0) and qc.coordinate_ms == pytest.approx(1.0)
    assert {c.chunk_index: c.node_id for c in await storage.get_chunks("e1", "qc")} == {2: "node-o", 3: "node-h"}
    assert await storage.get_chunk_leases("e1") == []  # dropped with the commit
    # a checkpointed chunk cannot be claimed again, by anyone
    assert await storage.claim_chunk("e1", "qc", 3, OWNER, LONG) is None
    # the owner's own fence is untouched by helpers
    await storage.heartbeat(fence)


async def test_commit_after_the_run_ended_writes_nothing(storage):
    fence = await running(storage)
    lease = await storage.claim_chunk("e1", "qc", 0, HELPER, LONG)
    await storage.finish_execution(fence, "CANCELLED", error="cancelled")
    with pytest.raises(LeaseLost):
        await storage.commit_leased_chunk(lease, chunk("qc", 0))
    assert await storage.get_chunks("e1") == []


async def test_owner_commit_with_lease(storage):
    fence = await running(storage)
    mine = await storage.claim_chunk("e1", "qc", 0, OWNER, LONG)
    assert await storage.commit_chunk(fence, chunk("qc", 0, inc="inc-a"), mine) is False
    assert fence.version == 3 and await storage.get_chunk_leases("e1") == []
    # a lease lost to a helper: LeaseLost, nothing written, the fence still good
    short = await storage.claim_chunk("e1", "qc", 1, OWNER, 0.2)
    await asyncio.sleep(0.4)
    theirs = await storage.claim_chunk("e1", "qc", 1, HELPER, LONG)
    version = fence.version
    with pytest.raises(LeaseLost):
        await storage.commit_chunk(fence, chunk("qc", 1, inc="inc-a"), short)
    assert fence.version == version and (await storage.get_execution("e1")).version == version
    assert [c.chunk_index for c in await storage.get_chunks("e1")] == [0]
    await storage.commit_leased_chunk(theirs, chunk("qc", 1))
    # a stale fence is OwnershipLost (not LeaseLost), even with a good lease
    lease2 = await storage.claim_chunk("e1", "qc", 2, OWNER, LONG)
    stale = type(fence)(fence.execution_id, fence.node_id, fence.version - 1)
    with pytest.raises(OwnershipLost) as exc:
        await storage.commit_chunk(stale, chunk("qc", 2, inc="inc-a"), lease2)
    assert not isinstance(exc.value, LeaseLost)
    assert [c.chunk_index for c in await storage.get_chunks("e1")] == [0, 1]
    assert len(await storage.get_chunk_leases("e1")) == 1  # rolled back: the lease is still there


async def test_concurrent_chunk_claims_exactly_one_wins(storage_url):
    setup = make_storage(storage_url)
    await setup.open()
    await running(setup)
    await setup.close()

    async def claimer(i: int):
        s = make_storage(storage_url)
        await s.open()
        try:
            return await s.claim_chunk("e1", "qc", 2, Owner(f"n{i}", f"i{i}", i, "h"), LONG)
        finally:
            await s.close()

    results = await asyncio.gather(*(claimer(i) for i in range(6)))
    assert sum(r is not None for r in results) == 1


async def test_renew_and_release(storage):
    await running(storage)
    lease = await storage.claim_chunk("e1", "qc", 0, HELPER, 0.5)
    [row] = await storage.get_chunk_leases("e1")
    assert 0 < row.expires_in <= 0.51 and (row.owner_pid, row.owner_host) == (222, "host-h")
    assert await storage.renew_chunk_lease(lease, LONG)
    assert (await storage.get_chunk_leases("e1"))[0].expires_in > 30
    await storage.release_chunk_lease(lease)
    assert await storage.get_chunk_leases("e1") == []
    assert await storage.claim_chunk("e1", "qc", 0, OTHER, LONG) is not None  # at once


async def test_find_helpable_chunks(storage):
    fence = await running(storage, "e1", total=4)
    await running(storage, "solo", distributed=False)  # not submitted for distribution
    steps = ["qc", "align"]
    found = await storage.find_helpable_chunks("wf", 1, steps)
    assert [(h.execution_id, h.step_id, h.chunk_index) for h in found] == [("e1", "qc", i) for i in (3, 2, 1, 0)]
    assert found[0].input_json == '{"reads": 10}'
    assert await storage.find_helpable_chunks("wf", 1, steps, exclude=["e1", "x"]) == []  # e.g. a worker's own runs
    assert await storage.find_helpable_chunks("wf", 1, ["align"]) == []  # not a helpable step here
    assert await storage.find_helpable_chunks("wf", 2, steps) == []
    await storage.commit_chunk(fence, chunk("qc", 0, inc="inc-a"))
    await storage.claim_chunk("e1", "qc", 3, HELPER, LONG)
    expired = await storage.claim_chunk("e1", "qc", 2, HELPER, 0.1)
    await asyncio.sleep(0.3)
    assert expired is not None
    assert [h.chunk_index for h in await storage.find_helpable_chunks("wf", 1, steps, limit=1)] == [2]
    assert [h.chunk_index for h in await storage.find_helpable_chunks("wf", 1, steps)] == [2, 1]
    await storage.finish_step(fence, "qc", "COMPLETED", 0.0)
    assert await storage.find_helpable_chunks("wf", 1, steps) == []  # current step not RUNNING
    await storage.start_step(fence, "align", 2, 1)
    assert [(h.step_id, h.chunk_index) for h in await storage.find_helpable_chunks("wf", 1, steps)] == [
        ("align", 1), ("align", 0)]
    await storage.finish_execution(fence, "FAILED", error="x")
    assert await storage.find_helpable_chunks("wf", 1, steps) == []


async def test_claiming_or_releasing_a_run_revokes_its_previous_owners_leases(storage):
    fence = await running(storage)
    await storage.claim_chunk("e1", "qc", 0, OWNER, LONG)
    helper = await storage.claim_chunk("e1", "qc", 1, HELPER, LONG)
    rec = await storage.get_execution("e1")
    taker = Owner("node-b", "inc-b", 444, "host-b")
    fence_b = await storage.claim("e1", rec.version, taker, event="recovered", recovery=True)
    assert [(l.chunk_index, l.node_id) for l in await storage.get_chunk_leases("e1")] == [(1, "node-h")]
    with pytest.raises(OwnershipLost):  # the old owner (a zombie) is fenced out as before
        await storage.heartbeat(fence)
    mine = await storage.claim_chunk("e1", "qc", 0, taker, LONG)
    assert mine is not None
    await storage.release(fence_b, "draining")
    assert [l.chunk_index for l in await storage.get_chunk_leases("e1")] == [1]
    await storage.commit_leased_chunk(helper, chunk("qc", 1))  # a helper's work survives a hand-over
