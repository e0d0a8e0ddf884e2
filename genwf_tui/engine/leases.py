"""Chunk-lease plumbing shared by an execution's owner and by helper nodes."""

from __future__ import annotations

import asyncio
import logging
import os
from contextlib import asynccontextmanager, suppress
from typing import AsyncIterator, Awaitable, Callable

from ..storage.base import Storage
from ..storage.records import OwnershipLost
from .liveness import HOST, pid_alive

log = logging.getLogger(__name__)

DISTRIBUTED = "distributed"  # the execution-metadata key that opens a run's chunks to other nodes


def is_distributed(metadata: dict | None) -> bool:
    return bool((metadata or {}).get(DISTRIBUTED))


@asynccontextmanager
async def kept(renew: Callable[[], Awaitable[bool]], lease_secs: float) -> AsyncIterator[None]:
    """Renew a lease every third of its life while the body (a chunk's compute) runs, so
    only a holder that died or froze loses it, however long the chunk takes."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(lease_secs / 3.0)
            try:
                if not await renew():
                    return  # lost: the commit will say so
            except (OwnershipLost, asyncio.CancelledError):
                return
            except Exception:  # a storage hiccup: the next renewal tries again
                log.warning("lease renewal failed", exc_info=True)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError, Exception):
            await task


async def held_leases(storage: Storage, execution_id: str, step_id: str, write: Callable = lambda op: op()) -> set[int]:
    """Chunks of ``step_id`` under a live lease. Drops, on the way, leases whose holder process
    is gone from this host (it can never commit), so their chunks are taken at once instead
    of after the lease expires."""
    held = set()
    for lease in await storage.get_chunk_leases(execution_id):
        if lease.step_id != step_id or (lease.expires_in or 0) <= 0:
            continue
        if lease.owner_host == HOST and lease.owner_pid and lease.owner_pid != os.getpid() \
                and not pid_alive(lease.owner_pid):
            await write(lambda lease=lease: storage.release_chunk_lease(lease))
            log.info("execution %s: dropped the lease of dead process %s on %s#%d", execution_id, lease.owner_pid,
                     lease.step_id, lease.chunk_index)
            continue
        held.add(lease.chunk_index)
    return held
