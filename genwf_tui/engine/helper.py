"""ChunkHelper: computes chunks of distributed runs that other processes own.

A helper never writes the execution row, so it never races the owner's fence. It finds a
chunk no one has checkpointed or leased, leases it (database clock, renewed while it
computes), rebuilds the chunk's inputs from the run's input and its "same"/"all" inputs'
checkpoints, computes it in a thread and commits checkpoint + step progress + lease drop in
one transaction. A helper that dies holds its lease only until it expires (or until the
owner sees the process gone from its host); then the chunk is anyone's again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Collection

from ..storage.base import Storage
from ..storage.records import ChunkLease, ChunkWrite, HelpableChunk, Owner, OwnershipLost
from .leases import kept
from .metrics import CoordinationComputeTracker, Metrics
from .model import StepContext, Workflow

log = logging.getLogger(__name__)


@dataclass
class _Run:
    ctx: StepContext  # per run, so a handler's per-run cache (streams, indexes) is reused
    everything: dict[str, dict[int, bytes]] = field(default_factory=dict)


@dataclass(frozen=True)
class Helped:
    """One chunk this helper computed and checkpointed."""

    execution_id: str
    step_id: str
    chunk_index: int
    compute_ms: float
    coordinate_ms: float
    commit_secs: float


class ChunkHelper:
    """Takes chunks of distributed runs of one workflow, one at a time."""

    def __init__(self, storage: Storage, workflow: Workflow, owner: Owner, *, lease_secs: float, batch: int = 8,
                 exclude: Callable[[], Collection[str]] = frozenset):
        self.storage = storage
        self.workflow = workflow
        self.owner = owner
        self.lease_secs = lease_secs
        self.batch = batch
        # Runs not to help: a worker's own runs, whose handlers would share this process's
        # per-input caches from two compute threads at once.
        self.exclude = exclude
        self.steps = [s.id for s in workflow.definition.steps if s.distributable]
        self._runs: OrderedDict[str, _Run] = OrderedDict()
        self._failed: set[tuple[str, str, int]] = set()  # chunks whose handler raised here: the owner retries them
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="genwf-help")
        self._carry: tuple[tuple[str, str], float] | None = None  # last commit's latency, for the next chunk

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def any_work(self) -> bool:
        d = self.workflow.definition
        return bool(self.steps) and bool(await self.storage.find_helpable_chunks(
            d.id, d.version, self.steps, 1, list(self.exclude())))

    async def help_one(self) -> Helped | None:
        """Lease, compute and checkpoint one chunk; None if there was nothing to take."""
        if not self.steps:
            return None
        tracker = CoordinationComputeTracker()
        tracker.start_coordinate()
        d = self.workflow.definition
        found = [c for c in await self.storage.find_helpable_chunks(d.id, d.version, self.steps, self.batch,
                                                                    list(self.exclude()))
                 if (c.execution_id, c.step_id, c.chunk_index) not in self._failed]
        random.shuffle(found)  # several helpers see the same list: spread them over it
        for cand in found:
            lease = await self.storage.claim_chunk(cand.execution_id, cand.step_id, cand.chunk_index, self.owner,
                                                   self.lease_secs)
            if lease is not None:
                return await self._run_chunk(cand, lease, tracker)
        return None

    async def _run_chunk(self, cand: HelpableChunk, lease: ChunkLease, tracker: CoordinationComputeTracker) -> Helped | None:
        key = (cand.execution_id, cand.step_id, cand.chunk_index)
        try:
            run = self._run(cand)
            inputs = await self._inputs(cand, run)
            handler = self.workflow.handlers[cand.step_id]
            async with kept(lambda: self.storage.renew_chunk_lease(lease, self.lease_secs), self.lease_secs):
                out, ms = await asyncio.get_running_loop().run_in_executor(
                    self._pool, _timed, handler.run_chunk, run.ctx, cand.chunk_index, inputs)
            tracker.record_compute(ms)
            share = tracker.take()
            if self._carry and self._carry[0] == key[:2]:
                share = share + Metrics(0.0, self._carry[1])
            chunk = ChunkWrite(cand.step_id, cand.chunk_index, out.payload, out.items, share.compute_ms,
                               share.coordinate_ms, 1, self.owner.incarnation)
            t0 = time.perf_counter()
            await self.storage.commit_leased_chunk(lease, chunk)
            commit_secs = time.perf_counter() - t0
            self._carry = (key[:2], commit_secs * 1000.0)
            return Helped(*key, share.compute_ms, share.coordinate_ms, commit_secs)
        except OwnershipLost as exc:  # lease lost (we stalled) or the run ended: nothing was written
            log.info("helper: chunk %s#%d of %s not committed: %s", cand.step_id, cand.chunk_index,
                     cand.execution_id, exc)
            return None
        except asyncio.CancelledError:  # hard stop: hand the chunk back at once if we still can
            await _quietly(asyncio.shield(self.storage.release_chunk_lease(lease)))
            raise
        except Exception:  # the owner retries it under its retry policy (and fails the run if it must)
            log.warning("helper: chunk %s#%d of %s failed here; leaving it to its owner", cand.step_id,
                        cand.chunk_index, cand.execution_id, exc_info=True)
            self._failed.add(key)
            await _quietly(self.storage.release_chunk_lease(lease))
            return None

    def _run(self, cand: HelpableChunk) -> _Run:
        run = self._runs.get(cand.execution_id)
        if run is None:
            run = _Run(StepContext(cand.execution_id, json.loads(cand.input_json), {}))
            self._runs[cand.execution_id] = run
            while len(self._runs) > 4:
                self._runs.popitem(last=False)
        self._runs.move_to_end(cand.execution_id)
        return run

    async def _inputs(self, cand: HelpableChunk, run: _Run) -> dict[str, Any]:
        inputs: dict[str, Any] = {}
        for dep, mode in self.workflow.definition.step(cand.step_id).inputs.items():
            if mode == "same":
                got = await self.storage.get_chunk_payloads(cand.execution_id, dep, [cand.chunk_index])
                if cand.chunk_index not in got:
                    raise LookupError(f"input {dep}#{cand.chunk_index} is not checkpointed")
                inputs[dep] = got[cand.chunk_index]
            else:
                if dep not in run.everything:
                    run.everything[dep] = await self.storage.get_chunk_payloads(cand.execution_id, dep)
                inputs[dep] = run.everything[dep]
        return inputs


def _timed(fn: Any, *args: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    result = fn(*args)
    return result, (time.perf_counter() - t0) * 1000.0


async def _quietly(aw: Any) -> None:
    try:
        await aw
    except (Exception, asyncio.CancelledError):
        pass
