"""`genwf worker`: a long-running node that claims and runs executions from a shared database.

Every poll interval the node
  1. sweeps for *interrupted* runs (dead owner process on this host, heartbeat older than
     the stale threshold by the database's clock, ...) and recovers them through
     :class:`~genwf_tui.engine.recovery.RecoveryService` (CAS claim, crash-loop guard);
  2. claims PENDING runs — ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the version
     compare-and-swap elsewhere — up to ``worker.concurrency`` runs at once, each in its own
     asyncio task with its own executor (they share one storage);
  3. with slots still free, *helps* distributed runs (``genwf submit --distribute``) owned by
     any node: each helper task leases, computes and checkpoints single chunks
     (:class:`~genwf_tui.engine.helper.ChunkHelper`) and gives its slot back every poll.

SIGTERM/SIGINT drain the node: each run finishes the chunk in flight, its executor writes
nothing more, and the node *releases* the run (PENDING, no owner) so any node takes it at
once; then the worker exits 0. A second signal stops at once (runs are released without
waiting for the chunk in flight). ``/healthz`` and ``/metrics`` are served on
``node.listen_address`` from a background thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time
from typing import Any, Callable, TextIO

from . import pipeline
from .config import Config, ConfigError
from .engine import ExecutionControl, Outcome, WorkflowExecutor
from .engine.executor import RELEASED
from .engine.helper import ChunkHelper
from .engine.owner import PROCESS_INCARNATION, mark_gone, mark_live, new_owner
from .node_http import NodeHTTPServer, NodeMetrics, parse_listen
from .service import make_recovery, retry_policy
from .storage import Storage, make_storage
from .storage.records import ChunkLease, ChunkWrite, ExecutionRecord, Fence, Owner

log = logging.getLogger(__name__)
HELP_LINGER_SECS = 1.0  # how long a helper keeps looking after its last chunk (covers step changes)
HELP_RETRY_SECS = 0.1


class MeteredStorage:
    """The shared storage as executors see it: ``commit_chunk`` is timed for ``/metrics``."""

    def __init__(self, inner: Storage, metrics: NodeMetrics):
        self._inner = inner
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def commit_chunk(self, fence: Fence, chunk: ChunkWrite, lease: ChunkLease | None = None) -> bool:
        t0 = time.perf_counter()
        if lease is None:
            result = await self._inner.commit_chunk(fence, chunk)
        else:
            result = await self._inner.commit_chunk(fence, chunk, lease)
        self._metrics.chunk_committed(chunk.step_id, chunk.compute_ms, chunk.coordinate_ms, time.perf_counter() - t0)
        return result

    async def commit_leased_chunk(self, lease: ChunkLease, chunk: ChunkWrite) -> None:
        t0 = time.perf_counter()
        await self._inner.commit_leased_chunk(lease, chunk)
        self._metrics.chunk_committed(chunk.step_id, chunk.compute_ms, chunk.coordinate_ms, time.perf_counter() - t0)


class Worker:
    """One node: a poll loop plus up to ``concurrency`` run tasks."""

    def __init__(self, cfg: Config, storage: Storage, *, exit_when_idle: bool = False, out: TextIO = sys.stdout):
        self.cfg = cfg
        self.storage = storage
        self.node_id = cfg.node_id
        self.concurrency = cfg.worker.concurrency
        self.poll_secs = cfg.worker.poll_interval_secs
        self.exit_when_idle = exit_when_idle
        self.out = out
        self.metrics = NodeMetrics(self.node_id, PROCESS_INCARNATION)
        self.metered = MeteredStorage(storage, self.metrics)
        self.workflow = pipeline.workflow(retry_policy(cfg))
        self.tasks: dict[str, asyncio.Task] = {}
        self.executors: dict[str, WorkflowExecutor] = {}
        self.lease_secs = cfg.recovery.stale_threshold_secs
        self.helper = ChunkHelper(self.metered, self.workflow, new_owner(self.node_id), lease_secs=self.lease_secs,
                                  exclude=lambda: list(self.tasks))
        self.helpers: set[asyncio.Task] = set()
        self._helped: set[tuple[str, str]] = set()  # (run, step) already announced
        self.draining = False
        self.hard_stop = False
        self._wake = asyncio.Event()
        self.last_poll = time.monotonic()
        self.last_error: str | None = None
        self.started = time.monotonic()

    # -- output ---------------------------------------------------------------------------
    def say(self, text: str) -> None:
        print(f"[{self.node_id}] {text}", file=self.out, flush=True)

    # -- executors ---------------------------------------------------------------------------
    def _new_executor(self, on_started: Callable[[str, Owner], None] | None = None) -> WorkflowExecutor:
        control = ExecutionControl()
        if self.draining:  # claimed while the node began to drain: hand it back at once
            control.release(self._release_reason())
        return WorkflowExecutor(
            self.metered, self.workflow, node_id=self.node_id, target_ratio=self.cfg.target_granularity_ratio,
            heartbeat_interval_secs=self.cfg.recovery.heartbeat_interval_secs, control=control,
            lease_secs=self.lease_secs, compute_threads=self.cfg.pipeline.compute_threads, on_started=on_started,
        )

    def _release_reason(self) -> str:
        return f"node {self.node_id} shutting down (pid {os.getpid()})"

    # -- signals --------------------------------------------------------------------------
    def request_stop(self, signame: str = "signal") -> None:
        if not self.draining:
            self.draining = True
            n = len(self.tasks)
            self.say(f"{signame}: draining — finishing {n} chunk(s) in flight, then releasing {n} run(s)")
            for ex in list(self.executors.values()):
                ex.control.release(self._release_reason())
        elif not self.hard_stop:
            self.hard_stop = True
            self.say(f"{signame} again: stopping now; releasing runs without waiting for their chunks")
            for ex in list(self.executors.values()):
                ex.control.release(self._release_reason(), now=True)
            for h in list(self.helpers):
                h.cancel()  # the chunk in flight is handed back (its lease released)
        self._wake.set()

    # -- health ---------------------------------------------------------------------------
    def health(self) -> tuple[bool, dict[str, Any]]:
        age = time.monotonic() - self.last_poll
        ok = age < max(10.0, 5 * self.poll_secs) and not self.draining
        return ok, {
            "status": "ok" if ok else ("draining" if self.draining else "stalled"),
            "node_id": self.node_id, "incarnation": PROCESS_INCARNATION, "pid": os.getpid(),
            "running": sorted(self.tasks), "helping": len(self.helpers), "concurrency": self.concurrency,
            "last_poll_age_secs": round(age, 3), "uptime_secs": round(time.monotonic() - self.started, 1),
            "storage": self.storage.display_url, "last_error": self.last_error,
        }

    # -- the loop -------------------------------------------------------------------------
    async def run(self) -> int:
        while not self.draining:
            found = 0
            try:
                self._reap()
                found += await self._sweep_interrupted()
                found += await self._claim_pending()
                found += await self._start_helpers()
                self.metrics.set_counts(await self.storage.count_by_status())
                self.last_error = None
            except Exception as exc:  # a storage hiccup: report it, try again next poll
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("worker poll failed: %s", self.last_error, exc_info=log.isEnabledFor(logging.DEBUG))
            self.last_poll = time.monotonic()
            self.metrics.running_here.set(len(self.tasks))
            if self.exit_when_idle and not self.tasks and not self.helpers and not found and self.last_error is None:
                self.say("idle: nothing left to run; exiting")
                break
            await self._wait(self.poll_secs)
        await self._drain()
        return 0

    async def _wait(self, secs: float) -> None:
        self._wake.clear()
        wake = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({wake, *self.tasks.values(), *self.helpers}, timeout=secs,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            wake.cancel()

    def _reap(self) -> None:
        for eid, task in list(self.tasks.items()):
            if task.done():
                del self.tasks[eid]
                self.executors.pop(eid, None)
                if not task.cancelled() and task.exception() is not None:
                    log.error("run task %s crashed", eid, exc_info=task.exception())
        for task in [h for h in self.helpers if h.done()]:
            self.helpers.discard(task)
            if not task.cancelled() and task.exception() is not None:
                log.error("helper task crashed", exc_info=task.exception())

    def _free(self) -> int:
        return 0 if self.draining else self.concurrency - len(self.tasks) - len(self.helpers)

    async def _sweep_interrupted(self) -> int:
        """Recover interrupted runs of dead nodes (every poll, not only at start-up)."""
        if self._free() <= 0:
            return 0
        recovery = make_recovery(self.storage, self.cfg, include_pending=False)
        found = [(rec, why) for rec, why in await recovery.find_interrupted() if rec.execution_id not in self.tasks]
        for rec, why in found:
            if self._free() <= 0:
                break
            self._start(rec.execution_id, self._recover(rec, why))
        return len(found)

    async def _claim_pending(self) -> int:
        """Claim PENDING runs into free slots; returns how many were taken."""
        taken = 0
        while self._free() > 0:
            owner = new_owner(self.node_id)
            mark_live(owner.incarnation)  # ours from the instant the claim lands
            fence = await self._claim_one(owner)
            if fence is None:
                mark_gone(owner.incarnation)
                break
            taken += 1
            self._start(fence.execution_id, self._run_claimed(fence, owner))
        return taken

    async def _claim_one(self, owner: Owner) -> Fence | None:
        d = self.workflow.definition
        detail = f"waiting for a node; to {owner.node_id} (pid {owner.pid} on {owner.host})"
        skip_locked = getattr(self.storage, "claim_next_pending", None)
        if skip_locked is not None:  # PostgreSQL: FOR UPDATE SKIP LOCKED
            return await skip_locked(owner, d.id, d.version, event="claimed", detail=detail)
        # Elsewhere (SQLite): oldest first, compare-and-swap on version; a lost race tries the next.
        pending = await self.storage.list_executions(limit=10_000, statuses=["PENDING"])
        for rec in sorted(pending, key=lambda r: (r.created_at, r.execution_id)):
            if rec.execution_id in self.tasks or (rec.definition_id, rec.definition_version) != (d.id, d.version):
                continue
            fence = await self.storage.claim(rec.execution_id, rec.version, owner, event="claimed", recovery=False,
                                             detail=detail)
            if fence is not None:
                return fence
        return None

    def _start(self, execution_id: str, coro: Any) -> None:
        self.tasks[execution_id] = asyncio.create_task(coro, name=f"run-{execution_id[:8]}")
        self.metrics.running_here.set(len(self.tasks))

    # -- helping distributed runs -------------------------------------------------------------
    async def _start_helpers(self) -> int:
        """Fill free slots with helper tasks if some distributed run has chunks to take."""
        free = self._free()
        if free <= 0 or not await self.helper.any_work():
            return 0
        for _ in range(free):
            self.helpers.add(asyncio.create_task(self._help(), name="help"))
        return free

    async def _help(self) -> None:
        """Take chunks one at a time. Linger briefly when there is none (the owner may be
        between two steps); give the slot back after about a poll, so PENDING runs and
        recoveries (the poll loop) come first."""
        end = time.monotonic() + max(self.poll_secs, 1.0)
        linger_until = time.monotonic() + HELP_LINGER_SECS
        while not self.draining and time.monotonic() < end:
            try:
                helped = await self.helper.help_one()
            except Exception as exc:  # a storage hiccup: the poll loop starts helpers again
                log.warning("helping failed: %s: %s", type(exc).__name__, exc)
                return
            if helped is None:
                if time.monotonic() >= linger_until:
                    return
                await asyncio.sleep(HELP_RETRY_SECS)
                continue
            linger_until = time.monotonic() + HELP_LINGER_SECS
            if (helped.execution_id, helped.step_id) not in self._helped:
                self._helped.add((helped.execution_id, helped.step_id))
                self.say(f"helping {helped.execution_id} ({helped.step_id})")

    # -- one run --------------------------------------------------------------------------
    async def _run_claimed(self, fence: Fence, owner: Owner) -> None:
        self.metrics.claims.labels("claimed").inc()
        self.say(f"claimed {fence.execution_id}")
        ex = self._new_executor()
        self.executors[fence.execution_id] = ex
        try:
            outcome = await ex.execute_from_state(fence.execution_id, fence=fence, owner=owner)
        finally:
            mark_gone(owner.incarnation)
        await self._after(outcome)

    async def _recover(self, rec: ExecutionRecord, why: str) -> None:
        made: list[WorkflowExecutor] = []

        def took(eid: str, _owner: Owner) -> None:
            self.metrics.claims.labels("recovered").inc()
            self.say(f"recovered {eid} ({why})")

        def factory() -> WorkflowExecutor:
            ex = self._new_executor(on_started=took)
            made.append(ex)
            self.executors[rec.execution_id] = ex
            return ex

        service = make_recovery(self.storage, self.cfg, factory, include_pending=False)
        outcome = await service.recover_one(rec, why)
        if outcome is None:
            if not made:  # the crash-loop guard failed it instead of resuming it
                self.say(f"gave up {rec.execution_id}: crashed too often (max_recoveries)")
            return  # otherwise another node won the claim
        await self._after(outcome)

    async def _after(self, outcome: Outcome) -> None:
        eid = outcome.execution_id
        self.metrics.finished.labels(outcome.status).inc()
        if outcome.status == RELEASED:
            self.say(f"released {eid}")
            return
        if outcome.status == "COMPLETED":
            ratio = (outcome.output or {}).get("metrics", {}).get("granularity_ratio")
            if isinstance(ratio, (int, float)):
                self.metrics.last_run_granularity.set(ratio)
            self.say(f"{eid} COMPLETED")
        else:
            self.say(f"{eid} {outcome.status}: {outcome.error}")

    async def _drain(self) -> None:
        if self.tasks or self.helpers:
            await asyncio.gather(*self.tasks.values(), *self.helpers, return_exceptions=True)
        self._reap()
        self.helper.close()
        self.metrics.running_here.set(0)


def _start_http(cfg: Config, worker: Worker) -> NodeHTTPServer | None:
    key = "node.listen_address"
    source = cfg.sources.get(key, "default")
    try:
        target = parse_listen(cfg.node.listen_address)
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc} (from {source})") from None
    if target is None:
        return None
    try:
        return NodeHTTPServer(target[0], target[1], worker.metrics, worker.health).start()
    except OSError as exc:
        raise ConfigError(f"{key}: cannot listen on {cfg.node.listen_address}: {exc.strerror or exc} (from {source})") from None


async def run_worker(cfg: Config, *, exit_when_idle: bool = False, out: TextIO = sys.stdout) -> int:
    """Run a worker node until SIGTERM/SIGINT (or, with ``exit_when_idle``, until idle); returns 0."""
    storage = make_storage(cfg.storage.url)
    if hasattr(storage, "max_pool"):  # runs share the pool: two connections each at most, plus the loop
        storage.max_pool = max(storage.max_pool, 2 * cfg.worker.concurrency + 4)
    await storage.open()
    worker = Worker(cfg, storage, exit_when_idle=exit_when_idle, out=out)
    http = None
    loop = asyncio.get_running_loop()
    installed = []
    try:
        http = _start_http(cfg, worker)
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, worker.request_stop, sig.name)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread (tests)
                pass
        worker.say(f"worker up: incarnation {PROCESS_INCARNATION}, pid {os.getpid()}, storage {storage.display_url}, "
                   f"concurrency {worker.concurrency}, poll {worker.poll_secs:g}s")
        if http is not None:
            worker.say(f"listening on http://{http.address} (/healthz, /metrics)")
        code = await worker.run()
        worker.say("stopped")
        return code
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if http is not None:
            threading.Thread(target=http.stop, daemon=True).start()
        await storage.close()
