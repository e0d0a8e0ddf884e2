"""Shared fixtures: storages on a real SQLite file and (when available) a real PostgreSQL server.

PostgreSQL tests read the DSN from GENWF_TEST_POSTGRES_DSN (scripts/postgres-dev.sh prints
one and scripts/test.sh exports it). Outside CI a missing server skips them with how to
enable them; in CI (CI=true) a missing server fails them.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PG_ENV = "GENWF_TEST_POSTGRES_DSN"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def postgres_dsn() -> str:
    """The test server's DSN, or skip (fail in CI) with how to get one."""
    dsn = os.environ.get(PG_ENV)
    if not dsn:
        msg = f"{PG_ENV} is not set: run `eval \"$(sudo scripts/postgres-dev.sh)\"` (or ./scripts/test.sh) to enable PostgreSQL tests"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return dsn


async def reset_postgres(dsn: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request, tmp_path) -> str:
    """A fresh, empty storage URL on each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "workflow.db")
    dsn = postgres_dsn()
    asyncio.run(reset_postgres(dsn))
    return dsn


@pytest.fixture
async def storage(storage_url):
    from genwf_tui.storage import make_storage

    s = make_storage(storage_url)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def genwf_env(tmp_path):
    """Environment for running `genwf` subprocesses in an isolated working directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENOMIC_PIPELINE__")}
    env.pop("APP_CONFIG_PATH", None)
    env["PYTHONUNBUFFERED"] = "1"
    env["GENOMIC_PIPELINE__RECOVERY__HEARTBEAT_INTERVAL_SECS"] = "0.2"
    return env


def genwf_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "genwf_tui.cli", *args]
