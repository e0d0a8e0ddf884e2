"""WorkflowExecutor: runs a Workflow over any Storage, one durable checkpoint per chunk.

Compute (step handlers) runs in a one-thread pool so the event loop keeps heartbeating;
every write goes through :meth:`WorkflowExecutor._write`, which refuses once the run was
killed or lost its fence — a killed run writes nothing more, exactly like a crash.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, TypeVar

from ..storage.base import Storage
from ..storage.records import ChunkLease, ChunkWrite, Fence, LeaseLost, NewExecution, Owner, OwnershipLost, StepRecord
from .leases import held_leases, is_distributed, kept
from .metrics import CoordinationComputeTracker, Metrics
from .model import StepContext, StepDefinition, Workflow
from .owner import mark_gone, mark_live, new_owner

log = logging.getLogger(__name__)
T = TypeVar("T")

KILLED, LOST, RELEASED = "KILLED", "LOST", "RELEASED"  # outcomes only: never stored as statuses


class ExecutionControl:
    """Thread-safe stop signals for one run: ``cancel`` (graceful, ends CANCELLED), ``kill``
    (as a crash: nothing more is written) or ``release`` (hand the run back, PENDING and
    unowned, so another node takes it at once: after the chunks in flight, or ``now``)."""

    def __init__(self) -> None:
        self._cancel = threading.Event()
        self._kill = threading.Event()
        self._release = threading.Event()
        self._release_now = threading.Event()
        self.release_reason = ""

    def cancel(self) -> None:
        self._cancel.set()

    def kill(self) -> None:
        self._kill.set()

    def release(self, reason: str, *, now: bool = False) -> None:
        self.release_reason = reason
        self._release.set()
        if now:
            self._release_now.set()

    @property
    def released(self) -> bool:
        return self._release.is_set()

    @property
    def release_now(self) -> bool:
        return self._release_now.is_set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def killed(self) -> bool:
        return self._kill.is_set()


@dataclass(frozen=True)
class Outcome:
    execution_id: str
    status: str  # COMPLETED | FAILED | CANCELLED | KILLED | LOST
    output: dict | None = None
    error: str | None = None


class Killed(Exception):
    """The run was killed: stop at once, write nothing more."""


class _CancelNow(Exception):
    pass


class _ReleaseNow(Exception):
    pass


class StepFailed(Exception):
    def __init__(self, step_id: str, chunk: int, attempts: int, cause: BaseException):
        super().__init__(f"step {step_id} chunk {chunk} failed after {attempts} attempt(s): {type(cause).__name__}: {cause}")
        self.step_id = step_id


class ClaimLost(Exception):
    """Another process claimed the execution first."""


class WorkflowExecutor:
    """Executes one workflow; one instance may run many executions, one at a time."""

    def __init__(
        self,
        storage: Storage,
        workflow: Workflow,
        *,
        node_id: str,
        target_ratio: float = 100.0,
        heartbeat_interval_secs: float = 2.0,
        control: ExecutionControl | None = None,
        after_commit: Callable[[str, int], None] | None = None,
        on_progress: Callable[[str, str, int, int], None] | None = None,
        on_started: Callable[[str, Owner], None] | None = None,
        lease_secs: float = 300.0,
        wait_poll_secs: float = 0.1,
        compute_threads: int = 1,
    ):
        self.storage = storage
        self.workflow = workflow
        self.node_id = node_id
        self.target_ratio = target_ratio
        self.heartbeat_interval = heartbeat_interval_secs
        self.control = control or ExecutionControl()
        self.after_commit = after_commit
        self.on_progress = on_progress
        self.on_started = on_started
        self.lease_secs = lease_secs  # chunk leases of distributed runs (renewed while computing)
        self.wait_poll_secs = wait_poll_secs  # how often the owner looks at chunks other nodes compute
        # Chunks of a step whose chunks are independent (distributable) compute this many at a
        # time; a kill then loses at most one chunk per thread.
        self.compute_threads = max(1, compute_threads)
        self._distributed = False
        self._lock = asyncio.Lock()
        self._lost = False
        self._cancel_flag = False
        self._pool: ThreadPoolExecutor | None = None

    # -- entry points -------------------------------------------------------------------
    async def prepare(self, run_input: Mapping[str, Any]) -> None:
        """Validate the input and make sure the definition is stored."""
        self.workflow.validate_input(run_input)
        d = self.workflow.definition
        await self.storage.save_definition(d.id, d.version, d.name, d.to_json())

    async def submit(self, run_input: Mapping[str, Any], metadata: Mapping[str, Any] | None = None) -> str:
        """Record a PENDING execution for any node to take; returns its id."""
        await self.prepare(run_input)
        execution_id = str(uuid.uuid4())
        await self.storage.create_execution(self._new(execution_id, run_input, metadata), None)
        return execution_id

    async def execute(self, run_input: Mapping[str, Any], *, execution_id: str | None = None,
                      metadata: Mapping[str, Any] | None = None) -> Outcome:
        """Start a new execution owned by this process and run it to an end."""
        await self.prepare(run_input)
        execution_id = execution_id or str(uuid.uuid4())
        owner = new_owner(self.node_id)
        mark_live(owner.incarnation)  # before the row exists, so no observer here sees it orphaned
        try:
            fence = await self.storage.create_execution(self._new(execution_id, run_input, metadata), owner)
        except BaseException:
            mark_gone(owner.incarnation)
            raise
        assert fence is not None
        return await self._drive(fence, owner, run_input, is_distributed(dict(metadata or {})))

    async def execute_from_state(self, execution_id: str, *, fence: Fence | None = None, owner: Owner | None = None,
                                 event: str = "resumed", recovery: bool = True) -> Outcome:
        """Continue an execution from its checkpoints. Without a fence, claims it first
        (compare-and-swap on its current version); raises ClaimLost if another wins."""
        rec = await self.storage.get_execution(execution_id)
        if rec is None:
            raise KeyError(execution_id)
        d = self.workflow.definition
        if (rec.definition_id, rec.definition_version) != (d.id, d.version):
            raise ValueError(f"execution {execution_id} is of workflow {rec.definition_id} v{rec.definition_version}, "
                             f"not {d.id} v{d.version}")
        if fence is None:
            owner = new_owner(self.node_id)
            detail = f"from node {rec.node_id or '-'} to {owner.node_id} (pid {owner.pid} on {owner.host})"
            mark_live(owner.incarnation)
            fence = await self.storage.claim(execution_id, rec.version, owner, event=event, recovery=recovery, detail=detail)
            if fence is None:
                mark_gone(owner.incarnation)
                raise ClaimLost(execution_id)
        assert owner is not None
        return await self._drive(fence, owner, rec.input, is_distributed(rec.metadata))

    def _new(self, execution_id: str, run_input: Mapping[str, Any], metadata: Mapping[str, Any] | None) -> NewExecution:
        d = self.workflow.definition
        return NewExecution(execution_id, d.id, d.version, json.dumps(dict(run_input), sort_keys=True),
                            tuple(s.id for s in d.steps), dict(metadata or {}))

    # -- the run ------------------------------------------------------------------------
    async def _drive(self, fence: Fence, owner: Owner, run_input: Mapping[str, Any], distributed: bool = False) -> Outcome:
        execution_id = fence.execution_id
        self._lost = self._cancel_flag = False
        self._distributed = distributed
        self._pool = ThreadPoolExecutor(max_workers=self.compute_threads,
                                        thread_name_prefix=f"genwf-compute-{execution_id[:8]}")
        mark_live(owner.incarnation)
        heartbeat = asyncio.create_task(self._heartbeat_loop(fence))
        ctx = StepContext(execution_id=execution_id, input=run_input, cache={})
        if self.on_started:
            self.on_started(execution_id, owner)
        try:
            steps = {s.step_id: s for s in await self.storage.get_steps(execution_id)}
            for step in self.workflow.definition.steps:
                rec = steps[step.id]
                if rec.status == "COMPLETED":
                    continue
                await self._run_step(step, rec, fence, owner, ctx)
            self._check_stop()
            output = await self._finish(fence, ctx)
            return Outcome(execution_id, "COMPLETED", output)
        except Killed:
            return Outcome(execution_id, KILLED, error="killed")
        except OwnershipLost:
            log.warning("execution %s: ownership lost; stopping without further writes", execution_id)
            return Outcome(execution_id, LOST, error="ownership lost to another node")
        except _CancelNow:
            await self._write(lambda: self.storage.finish_execution(fence, "CANCELLED", error="cancelled"))
            return Outcome(execution_id, "CANCELLED", error="cancelled")
        except _ReleaseNow:
            try:
                await self._write(lambda: self.storage.release(fence, self.control.release_reason))
            except (Killed, OwnershipLost):
                return Outcome(execution_id, KILLED if self.control.killed else LOST, error="not released")
            return Outcome(execution_id, RELEASED, error=self.control.release_reason)
        except StepFailed as exc:
            await self._end_failed(fence, str(exc), exc.step_id)
            return Outcome(execution_id, "FAILED", error=str(exc))
        except Exception as exc:  # a bug or a storage fault outside a chunk: fail loudly, not silently
            if self.control.killed or self._lost:
                return Outcome(execution_id, KILLED if self.control.killed else LOST, error=str(exc))
            log.exception("execution %s failed", execution_id)
            msg = f"{type(exc).__name__}: {exc}"
            try:
                await self._end_failed(fence, msg, None)
            except Exception:  # the storage itself is gone: leave the run for recovery
                log.exception("could not record failure of %s", execution_id)
            return Outcome(execution_id, "FAILED", error=msg)
        finally:
            heartbeat.cancel()
            try:
                await heartbeat
            except (asyncio.CancelledError, Exception):
                pass
            mark_gone(owner.incarnation)
            self._pool.shutdown(wait=False, cancel_futures=True)

    async def _end_failed(self, fence: Fence, error: str, step_id: str | None) -> None:
        try:
            if step_id is not None:
                await self._write(lambda: self.storage.finish_step(fence, step_id, "FAILED", 0.0, error=error))
            await self._write(lambda: self.storage.finish_execution(fence, "FAILED", error=error))
        except (Killed, OwnershipLost):
            pass

    async def _run_step(self, step: StepDefinition, rec: StepRecord, fence: Fence, owner: Owner, ctx: StepContext) -> None:
        tracker = CoordinationComputeTracker()
        tracker.start_coordinate()
        total = await self._compute(tracker, self.workflow.handlers[step.id].plan, ctx)
        done = {c.chunk_index for c in await self.storage.get_chunks(fence.execution_id, step.id)}
        attempt = max(rec.attempt, 1)
        await self._write(lambda: self.storage.start_step(fence, step.id, total, attempt))
        run = _StepRun(step, total, done, fence, owner, ctx, tracker, {})
        if self._distributed and step.distributable:
            await self._run_shared(run)
        else:  # the single-node path: no leases, one commit per chunk
            todo = [i for i in range(total) if i not in done]
            lanes = self.compute_threads if step.distributable else 1
            await self._run_lanes(run, todo, min(lanes, len(todo)))
        self._check_stop()
        share = tracker.take()  # the step's trailing coordination; chunk shares are already stored
        await self._write(lambda: self.storage.finish_step(fence, step.id, "COMPLETED", share.coordinate_ms))

    async def _run_lanes(self, run: "_StepRun", todo: list[int], lanes: int) -> None:
        """Compute ``todo`` in order on up to ``lanes`` compute threads at once, each chunk
        committed as soon as it is done. On a failure no lane starts another chunk, every
        chunk in flight ends (committed or refused), then the first failure is raised."""
        queue = iter(todo)
        failures: list[BaseException] = []

        async def lane() -> None:
            for index in queue:  # one shared iterator: each chunk is taken once
                if failures:
                    return
                try:
                    self._check_stop()
                    await self._chunk(run, index)
                except BaseException as exc:
                    failures.append(exc)
                    return

        if lanes <= 1:
            await lane()
        else:
            await asyncio.gather(*(lane() for _ in range(lanes)))
        if failures:
            raise failures[0]

    async def _run_shared(self, run: "_StepRun") -> None:
        """A distributable step of a distributed run: lease each chunk before computing it, so
        helper nodes can compute others at the same time; once every chunk left is leased by
        someone else, wait for their checkpoints — or take a chunk over when its lease ends."""
        eid, step_id = run.fence.execution_id, run.step.id
        busy: set[int] = set()  # leased by another node when we last tried
        while len(run.done) < run.total:
            self._check_stop()
            index = next((i for i in range(run.total) if i not in run.done and i not in busy), None)
            if index is None:  # the rest is leased by others: wait, then look again
                await self._idle(run.tracker)
                busy = await held_leases(self.storage, eid, step_id, self._write)
                await self._refresh(run)
                continue
            lease = await self._write(lambda: self.storage.claim_chunk(eid, step_id, index, run.owner, self.lease_secs))
            if lease is None:  # another node has it (or already checkpointed it)
                busy.add(index)
                await self._refresh(run)
                continue
            async with kept(lambda: self._renew(lease), self.lease_secs):
                await self._chunk(run, index, lease)

    async def _renew(self, lease: ChunkLease) -> bool:
        try:
            return await self._write(lambda: self.storage.renew_chunk_lease(lease, self.lease_secs))
        except Killed:  # a killed run writes nothing more, renewals included
            return False

    async def _refresh(self, run: "_StepRun") -> None:
        """Learn which chunks other nodes checkpointed."""
        before = len(run.done)
        run.done |= {c.chunk_index for c in await self.storage.get_chunks(run.fence.execution_id, run.step.id)}
        if self.on_progress and len(run.done) != before:
            self.on_progress(run.fence.execution_id, run.step.id, len(run.done), run.total)

    async def _idle(self, tracker: CoordinationComputeTracker) -> None:
        """Wait for other nodes. Not counted as coordination: their time is in their chunks."""
        tracker.end_coordinate()
        try:
            await self._sleep(self.wait_poll_secs)
        finally:
            tracker.start_coordinate()

    async def _chunk(self, run: "_StepRun", index: int, lease: ChunkLease | None = None) -> None:
        """Compute one chunk (with retries) and commit it with its timings."""
        step, fence = run.step, run.fence
        handler = self.workflow.handlers[step.id]
        inputs = await self._inputs(step, index, fence.execution_id, run.everything)
        chunk_attempt = 1
        while True:
            try:
                out = await self._compute(run.tracker, handler.run_chunk, run.ctx, index, inputs)
                break
            except (Killed, OwnershipLost):
                raise
            except Exception as exc:
                if chunk_attempt >= step.retry.max_attempts or not getattr(exc, "retryable", True):
                    raise StepFailed(step.id, index, chunk_attempt, exc) from exc
                log.warning("step %s chunk %d attempt %d failed: %s", step.id, index, chunk_attempt, exc)
                chunk_attempt += 1
                msg = f"chunk {index} attempt {chunk_attempt - 1}: {type(exc).__name__}: {exc}"
                await self._write(lambda: self.storage.record_attempt(fence, step.id, chunk_attempt, msg))
                await self._sleep(step.retry.backoff(chunk_attempt - 1))
        share = run.tracker.take()
        chunk = ChunkWrite(step.id, index, out.payload, out.items, share.compute_ms, share.coordinate_ms,
                           chunk_attempt, run.owner.incarnation)
        if lease is None:
            cancel = await self._write(lambda: self.storage.commit_chunk(fence, chunk))
        else:
            try:
                cancel = await self._write(lambda: self.storage.commit_chunk(fence, chunk, lease))
            except LeaseLost:  # we stalled past the lease and another node took the chunk: only it is lost
                log.warning("execution %s: lease on %s#%d lost; another node computes it", fence.execution_id,
                            step.id, index)
                return
        if cancel:
            self._cancel_flag = True
        run.done.add(index)
        if self.after_commit:
            self.after_commit(step.id, index)
        if self.on_progress:
            self.on_progress(fence.execution_id, step.id, len(run.done), run.total)

    async def _inputs(self, step: StepDefinition, index: int, execution_id: str,
                      everything: dict[str, dict[int, bytes]]) -> dict[str, Any]:
        inputs: dict[str, Any] = {}
        for dep, mode in step.inputs.items():
            if mode == "same":
                got = await self.storage.get_chunk_payloads(execution_id, dep, [index])
                inputs[dep] = got[index]
            else:
                if dep not in everything:
                    everything[dep] = await self.storage.get_chunk_payloads(execution_id, dep)
                inputs[dep] = everything[dep]
        return inputs

    async def _finish(self, fence: Fence, ctx: StepContext) -> dict:
        tracker = CoordinationComputeTracker()
        tracker.start_coordinate()
        payloads = {}
        for step in self.workflow.definition.steps:
            got = await self.storage.get_chunk_payloads(fence.execution_id, step.id)
            payloads[step.id] = [got[i] for i in sorted(got)]
        results = await self._compute(tracker, self.workflow.finalize, ctx, payloads)
        steps = await self.storage.get_steps(fence.execution_id)
        finishing = tracker.finalize()
        output = build_output(fence.execution_id, "COMPLETED", results, steps, self.target_ratio, finishing)
        await self._write(lambda: self.storage.finish_execution(fence, "COMPLETED", json.dumps(output, sort_keys=True)))
        return output

    # -- plumbing -----------------------------------------------------------------------
    def _check_stop(self) -> None:
        if self.control.killed:
            raise Killed()
        if self._lost:
            raise OwnershipLost()
        if self.control.released:
            raise _ReleaseNow()
        if self.control.cancelled or self._cancel_flag:
            raise _CancelNow()

    async def _write(self, op: Callable[[], Awaitable[T]]) -> T:
        async with self._lock:
            if self.control.killed:
                raise Killed()
            if self._lost:
                raise OwnershipLost()
            try:
                return await op()
            except LeaseLost:  # one chunk's lease, not the execution's fence
                raise
            except OwnershipLost:
                self._lost = True
                raise

    async def _compute(self, tracker: CoordinationComputeTracker, fn: Callable[..., T], *args: Any) -> T:
        """Run handler code in a compute thread; its span counts as compute."""

        def timed() -> T:
            tracker.start_compute()
            try:
                return fn(*args)
            finally:
                tracker.end_compute()

        assert self._pool is not None
        future = asyncio.get_running_loop().run_in_executor(self._pool, timed)
        while True:
            done, _ = await asyncio.wait({future}, timeout=0.05)
            if done:
                break
            if self.control.killed:
                future.cancel()
                raise Killed()
            if self.control.release_now:  # hand the run back without its chunk in flight
                future.cancel()
                raise _ReleaseNow()
        result = future.result()
        if self.control.killed:
            raise Killed()
        return result

    async def _sleep(self, secs: float) -> None:
        end = time.monotonic() + secs
        while (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(left, 0.05))
            self._check_stop()

    async def _heartbeat_loop(self, fence: Fence) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            try:
                if await self._write(lambda: self.storage.heartbeat(fence)):
                    self._cancel_flag = True
            except (Killed, OwnershipLost):
                return
            except Exception:  # a transient storage fault: the next beat tries again
                log.warning("heartbeat of %s failed", fence.execution_id, exc_info=True)


@dataclass
class _StepRun:
    """The state of one step while this process runs it."""

    step: StepDefinition
    total: int
    done: set[int]
    fence: Fence
    owner: Owner
    ctx: StepContext
    tracker: CoordinationComputeTracker
    everything: dict[str, dict[int, bytes]]


def build_output(execution_id: str, status: str, results: Mapping[str, Any], steps: list[StepRecord],
                 target: float, finishing: Metrics) -> dict:
    """The run's results object (``output_json`` == ``pipeline_results.json``)."""
    step_metrics = {s.step_id: Metrics(s.compute_ms, s.coordinate_ms) for s in steps}
    run = Metrics.sum(step_metrics.values()) + finishing
    out = dict(results)
    out["execution_id"] = execution_id
    out["status"] = status
    out["metrics"] = run.as_dict(target)
    out["step_metrics"] = {k: m.as_dict(target) for k, m in step_metrics.items()}
    reads = results.get("total_reads")
    if isinstance(reads, int) and run.total_ms > 0:
        out["throughput_reads_per_sec"] = round(reads / (run.total_ms / 1000.0), 1)
    return out
