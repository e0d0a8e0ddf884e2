"""Fixtures for node tests: a shared database (SQLite file or PostgreSQL), worker processes,
and single-node reference results to compare against."""

from __future__ import annotations

import asyncio

import pytest

from ..conftest import postgres_dsn, reset_postgres
from .cluster import Cluster, single_node_results


@pytest.fixture
def node_env(genwf_env):
    env = dict(genwf_env)
    env["GENOMIC_PIPELINE__WORKER__POLL_INTERVAL_SECS"] = "0.3"
    return env


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """reference(reads, chunk_size, seeds) -> {seed: normalized results of an uninterrupted run}; cached."""
    import os

    cache: dict[tuple[int, int, int], dict] = {}
    workdir = tmp_path_factory.mktemp("reference")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENOMIC_PIPELINE__")}
    env.pop("APP_CONFIG_PATH", None)

    def get(reads: int, chunk_size: int, seeds: list[int]) -> dict[int, dict]:
        missing = [s for s in seeds if (reads, chunk_size, s) not in cache]
        if missing:
            for seed, res in single_node_results(workdir, env, reads, chunk_size, missing).items():
                cache[(reads, chunk_size, seed)] = res
        return {s: cache[(reads, chunk_size, s)] for s in seeds}

    return get


@pytest.fixture
def shared_url(storage_url) -> str:
    """The database the nodes share: a fresh one on each backend."""
    return storage_url


@pytest.fixture
def pg_url() -> str:
    dsn = postgres_dsn()
    asyncio.run(reset_postgres(dsn))
    return dsn


@pytest.fixture
def make_cluster(tmp_path, node_env):
    made: list[Cluster] = []

    def make(url: str, **env: str) -> Cluster:
        c = Cluster(url, tmp_path, {**node_env, **env})
        made.append(c)
        return c

    yield make
    for c in made:
        c.shutdown()
