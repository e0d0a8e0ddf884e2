"""PostgreSQL-only behaviour beyond the shared contract: concurrent migration, SKIP LOCKED
claims, read-only opens, and no password anywhere in the database."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest

from genwf_tui.storage import StorageError, make_storage
from genwf_tui.storage.records import ChunkWrite, NewExecution, Owner

from ..conftest import postgres_dsn, reset_postgres

pytestmark = pytest.mark.postgres


@pytest.fixture
def dsn() -> str:
    d = postgres_dsn()
    asyncio.run(reset_postgres(d))
    return d


async def test_concurrent_first_open_migrates_once(dsn):
    stores = [make_storage(dsn) for _ in range(6)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        from genwf_tui.storage.postgres import _migrations

        every = [v for v, _name, _sql in _migrations()]
        versions = {await s.schema_version() for s in stores}
        assert versions == {every[-1]}
        rows = await stores[0].pool.fetch("SELECT version FROM schema_migrations ORDER BY version")
        assert [r[0] for r in rows] == every  # each applied once
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_read_only_never_migrates(dsn):
    ro = make_storage(dsn, read_only=True)
    with pytest.raises(StorageError, match="no genwf schema"):
        await ro.open()
    rw = make_storage(dsn)
    await rw.open()
    await rw.close()
    ro = make_storage(dsn, read_only=True)
    await ro.open()
    try:
        assert await ro.list_executions() == []
        with pytest.raises(Exception):
            await ro.save_definition("wf", 1, "x", "{}")
    finally:
        await ro.close()


async def test_skip_locked_claims_spread_over_runs(dsn):
    setup = make_storage(dsn)
    await setup.open()
    await setup.save_definition("wf", 1, "Workflow", "{}")
    await setup.save_definition("other", 1, "Other", "{}")
    for i in range(5):
        await setup.create_execution(NewExecution(f"p{i}", "wf", 1, "{}", ("qc",)), None)
    await setup.create_execution(NewExecution("x0", "other", 1, "{}", ("qc",)), None)
    await setup.close()

    async def claimer(i: int):
        s = make_storage(dsn)
        await s.open()
        try:
            return await s.claim_next_pending(Owner(f"n{i}", f"i{i}", i, "h"), "wf", 1)
        finally:
            await s.close()

    fences = await asyncio.gather(*(claimer(i) for i in range(8)))
    won = [f.execution_id for f in fences if f is not None]
    assert sorted(won) == [f"p{i}" for i in range(5)]  # each run exactly once; never another workflow's

    check = make_storage(dsn)
    await check.open()
    try:
        for f in fences:
            if f is not None:
                rec = await check.get_execution(f.execution_id)
                assert (rec.status, rec.node_id, rec.version) == ("RUNNING", f.node_id, f.version)
                assert [e.kind for e in await check.get_events(f.execution_id)] == ["created", "claimed"]
        assert (await check.get_execution("x0")).status == "PENDING"
    finally:
        await check.close()


async def test_password_is_nowhere_in_the_database(dsn):
    password = urlsplit(dsn).password
    assert password
    s = make_storage(dsn)
    await s.open()
    try:
        assert password not in s.display_url and password not in repr(s)
        await s.save_definition("wf", 1, "Workflow", "{}")
        fence = await s.create_execution(NewExecution("e1", "wf", 1, "{}", ("qc",), {"storage": s.display_url}),
                                          Owner("n", "i", 1, "h"))
        await s.commit_chunk(fence, ChunkWrite("qc", 0, b"abc", 1, 1.0, 1.0, 1, "i"))
        await s.finish_execution(fence, "COMPLETED", "{}")
        tables = [r[0] for r in await s.pool.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        for table in tables:
            rows = await s.pool.fetch(f"SELECT t::text FROM {table} t")
            assert all(password not in r[0] for r in rows), table
    finally:
        await s.close()


async def test_times_are_unix_seconds_from_the_server_clock(dsn):
    s = make_storage(dsn)
    await s.open()
    try:
        await s.save_definition("wf", 1, "Workflow", "{}")
        await s.create_execution(NewExecution("e1", "wf", 1, "{}", ("qc",)), Owner("n", "i", 1, "h"))
        rec = await s.get_execution("e1")
        now = await s.now()
        assert isinstance(rec.created_at, float) and abs(now - rec.created_at) < 5
        assert isinstance(rec.heartbeat_age, float) and 0 <= rec.heartbeat_age < 5
        assert await s.max_updated_at() == pytest.approx(rec.updated_at)
        assert [r.execution_id for r in await s.list_executions(changed_since=rec.updated_at)] == ["e1"]
    finally:
        await s.close()
