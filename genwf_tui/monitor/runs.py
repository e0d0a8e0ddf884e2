"""RunManager: the dashboard's own runs, each in a thread of a bounded pool, each killable.

Every run gets its own thread (``asyncio.run``), its own :class:`Storage` connection and its
own :class:`ExecutionControl`, so a run can never starve the poller (which has a thread of its
own) nor another run's heartbeats. ``kill`` stops a run as a crash would (the executor writes
nothing more) and remembers its incarnation as dead, so the poller shows it interrupted at
once; a run owned by another process on this host gets SIGKILL. Facts about runs go back to
the caller through ``on_event`` (called from worker threads: the receiver must hand them to
its own thread, e.g. by posting a message).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import signal
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

from ..config import Config
from ..engine import ClaimLost, ExecutionControl, Outcome, WorkflowExecutor
from ..engine.liveness import HOST, interrupted_reason, pid_alive
from ..storage import Storage, make_storage
from ..storage.records import TERMINAL, Owner

log = logging.getLogger(__name__)

ExecutorFactory = Callable[..., WorkflowExecutor]  # (storage, control, **hooks) -> executor
InputFactory = Callable[[int, int, int], dict]  # (reads, seed, chunk_size) -> run input


class ActionRefused(Exception):
    """An action that cannot be done (the message says why, for a toast)."""


@dataclass(frozen=True)
class RunEvent:
    """A fact about one of the dashboard's runs (or actions), for a toast."""

    kind: str  # queued | started | completed | failed | cancelled | killed | lost | error | info
    execution_id: str | None
    message: str
    output: Mapping[str, Any] | None = None

    @property
    def severity(self) -> str:
        if self.kind in ("failed", "error", "lost"):
            return "error"
        if self.kind in ("killed", "cancelled"):
            return "warning"
        return "information"


@dataclass(frozen=True)
class LaunchRequest:
    reads: int
    seed: int
    chunk_size: int


class LaunchError(ValueError):
    """Bad launch form values: ``errors`` maps field name -> message."""

    def __init__(self, errors: Mapping[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


def parse_launch(reads: str, seed: str, chunk_size: str) -> LaunchRequest:
    """Validate the launch form's text fields (pure); raises LaunchError naming each bad field."""
    errors: dict[str, str] = {}
    values: dict[str, int] = {}
    for name, text, minimum in (("reads", reads, 1), ("seed", seed, 0), ("chunk_size", chunk_size, 1)):
        t = (text or "").strip().replace("_", "").replace(",", "")
        try:
            v = int(t)
        except ValueError:
            errors[name] = f"must be a whole number, got {text.strip()!r}" if text.strip() else "is required"
            continue
        if v < minimum:
            errors[name] = f"must be at least {minimum}, got {v}"
        elif v > 10**12:
            errors[name] = f"is too large ({v})"
        else:
            values[name] = v
    if errors:
        raise LaunchError(errors)
    return LaunchRequest(values["reads"], values["seed"], values["chunk_size"])


@dataclass
class _Job:
    execution_id: str
    kind: str  # launch | resume | recover
    control: ExecutionControl = field(default_factory=ExecutionControl)
    incarnation: str | None = None
    future: Future | None = None
    started: threading.Event = field(default_factory=threading.Event)


def _default_executor_factory(cfg: Config) -> ExecutorFactory:
    # The dashboard's runs share its process with the UI: one compute lane each keeps the
    # GIL free often enough for keys to be answered while several runs compute.
    lanes = copy.deepcopy(cfg)
    lanes.pipeline.compute_threads = 1

    def factory(storage: Storage, control: ExecutionControl, **hooks: Any) -> WorkflowExecutor:
        from ..service import make_executor

        return make_executor(storage, lanes, control=control, **hooks)

    return factory


def _default_input_factory(cfg: Config) -> InputFactory:
    def factory(reads: int, seed: int, chunk_size: int) -> dict:
        from .. import pipeline

        c = copy.deepcopy(cfg)
        c.pipeline.seed, c.pipeline.chunk_size = seed, chunk_size
        return pipeline.make_input(c, reads)

    return factory


def _looks_like_genwf(pid: int) -> bool:
    """Guard against a recycled pid: only signal a process that runs our code."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmd = fh.read().replace(b"\0", b" ")
    except OSError:
        return True  # no /proc here: trust the recorded pid (same host, alive)
    return b"genwf" in cmd


class RunManager:
    """Launch, kill, cancel, resume and recover runs from the dashboard; see module doc."""

    def __init__(
        self,
        url: str,
        cfg: Config,
        *,
        on_event: Callable[[RunEvent], None] | None = None,
        executor_factory: ExecutorFactory | None = None,
        input_factory: InputFactory | None = None,
        after_commit: Callable[[str, str, int], None] | None = None,
    ):
        self.url = url
        self.cfg = cfg
        self.on_event = on_event or (lambda e: None)
        self.make_executor = executor_factory or _default_executor_factory(cfg)
        self.make_input = input_factory or _default_input_factory(cfg)
        self.after_commit = after_commit  # (execution_id, step_id, chunk_index): demos and tests
        self._pool = ThreadPoolExecutor(max_workers=cfg.dashboard.run_threads, thread_name_prefix="genwf-run")
        self._admin = ThreadPoolExecutor(max_workers=1, thread_name_prefix="genwf-dashboard-admin")
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}
        self._dead: set[str] = set()
        self._closing = False

    # -- what the poller asks ------------------------------------------------------------------
    def dead_incarnations(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._dead)

    def owns(self, execution_id: str) -> bool:
        with self._lock:
            job = self._jobs.get(execution_id)
        return job is not None and not (job.future and job.future.done())

    def active_ids(self) -> list[str]:
        with self._lock:
            return [k for k, j in self._jobs.items() if not (j.future and j.future.done())]

    # -- actions (called from the UI thread; never block on the database) ---------------------
    def launch(self, reads: int, seed: int, chunk_size: int) -> str:
        """Start a new run; returns its execution id. Bad input raises LaunchError, nothing starts."""
        self._check_open()
        try:
            run_input = self.make_input(reads, seed, chunk_size)
        except (ValueError, TypeError) as exc:
            raise LaunchError({"input": str(exc)}) from None
        execution_id = str(uuid.uuid4())
        job = _Job(execution_id, "launch")

        async def body(ex: WorkflowExecutor, storage: Storage) -> Outcome:
            return await ex.execute(run_input, execution_id=execution_id, metadata={"launched_by": "genwf-tui"})

        self._submit(job, body)
        return execution_id

    def resume(self, execution_id: str) -> None:
        """Continue an interrupted (or waiting) run from its checkpoints, in a thread."""
        self._check_open()
        if self.owns(execution_id):
            raise ActionRefused(f"{execution_id[:8]} is running in this dashboard already")
        job = _Job(execution_id, "resume")

        async def body(ex: WorkflowExecutor, storage: Storage) -> Outcome | None:
            rec = await storage.get_execution(execution_id)
            if rec is None:
                raise ActionRefused(f"no execution {execution_id[:8]}")
            if rec.status in TERMINAL:
                raise ActionRefused(f"{execution_id[:8]} is {rec.status}; it cannot be resumed")
            if rec.status == "RUNNING":
                why = interrupted_reason(rec, stale_threshold_secs=self.cfg.recovery.stale_threshold_secs,
                                         progress_timeout_secs=self.cfg.recovery.progress_timeout_secs,
                                         dead_incarnations=self.dead_incarnations())
                if why is None:
                    raise ActionRefused(f"{execution_id[:8]} is still running on node {rec.node_id}; not taking it over")
            try:
                return await ex.execute_from_state(execution_id, event="resumed", recovery=rec.status == "RUNNING")
            except ClaimLost:
                raise ActionRefused(f"{execution_id[:8]} was just taken by another process") from None

        self._submit(job, body)

    def recover_all(self) -> Future:
        """Find every interrupted or waiting run and resume each in its own thread.
        The future gives the number of runs taken."""
        self._check_open()

        async def find() -> int:
            from ..service import make_recovery

            storage = make_storage(self.url)
            await storage.open()
            try:
                service = make_recovery(storage, self.cfg)
                found = await service.find_interrupted()
            finally:
                await storage.close()
            taken = 0
            for rec, why in found:
                if self.owns(rec.execution_id):
                    continue
                self._submit(_Job(rec.execution_id, "recover"), self._recover_body(rec, why))
                taken += 1
            self.on_event(RunEvent("info", None, f"auto-recover: {taken} run(s) to resume" if taken
                                   else "auto-recover: nothing is interrupted"))
            return taken

        return self._admin_call(find)

    def _recover_body(self, rec, why: str):
        async def body(ex: WorkflowExecutor, storage: Storage) -> Outcome | None:
            from ..service import make_recovery

            service = make_recovery(storage, self.cfg, lambda: ex)
            outcome = await service.recover_one(rec, why)
            if outcome is None:
                raise ActionRefused(f"{rec.execution_id[:8]} was not recovered (taken by another process, "
                                    f"or failed after too many crashes)")
            return outcome

        return body

    def kill(self, execution_id: str, *, owner_pid: int | None = None, owner_host: str | None = None) -> str:
        """Stop a run at once, as a crash would. Returns what was done (for a toast)."""
        with self._lock:
            job = self._jobs.get(execution_id)
        if job is not None and not (job.future and job.future.done()):
            job.control.kill()
            with self._lock:
                if job.incarnation:
                    self._dead.add(job.incarnation)
            return f"killed {execution_id[:8]} (as a crash: nothing more is written)"
        if owner_host and owner_host != HOST:
            raise ActionRefused(f"{execution_id[:8]} runs on host {owner_host}; kill it there")
        if not owner_pid:
            raise ActionRefused(f"{execution_id[:8]} has no owner process to kill")
        if owner_pid == os.getpid():
            raise ActionRefused(f"{execution_id[:8]} is not running in this dashboard any more")
        if not pid_alive(owner_pid):
            raise ActionRefused(f"owner process {owner_pid} of {execution_id[:8]} is already gone")
        if not _looks_like_genwf(owner_pid):
            raise ActionRefused(f"process {owner_pid} does not look like a genwf process; not killing it")
        os.kill(owner_pid, signal.SIGKILL)
        return f"sent SIGKILL to process {owner_pid} (owner of {execution_id[:8]})"

    def cancel(self, execution_id: str) -> str:
        """Ask a run to stop gracefully (it ends CANCELLED after its current chunk)."""
        with self._lock:
            job = self._jobs.get(execution_id)
        if job is not None and not (job.future and job.future.done()):
            job.control.cancel()
            return f"cancelling {execution_id[:8]}: it stops after its current chunk"
        self._check_open()

        async def ask() -> str | None:
            storage = make_storage(self.url)
            await storage.open()
            try:
                return await storage.request_cancel(execution_id)
            finally:
                await storage.close()

        def done(f: Future) -> None:
            if f.exception() is not None:
                self.on_event(RunEvent("error", execution_id, f"cancel {execution_id[:8]}: {f.exception()}"))
            elif f.result() is None:
                self.on_event(RunEvent("error", execution_id, f"{execution_id[:8]} is not running; nothing to cancel"))
            else:
                self.on_event(RunEvent("info", execution_id, f"cancel requested for {execution_id[:8]} "
                                       f"({'now CANCELLED' if f.result() == 'CANCELLED' else 'its owner stops it'})"))

        self._admin_call(ask).add_done_callback(done)
        return f"asking the owner of {execution_id[:8]} to cancel"

    # -- lifecycle -------------------------------------------------------------------------------
    def shutdown(self, timeout: float = 3.0) -> int:
        """Stop: every own run is killed as a crash would (left RUNNING, resumable); waits at
        most ``timeout`` seconds. Returns how many threads were still busy after that."""
        with self._lock:
            self._closing = True
            jobs = list(self._jobs.values())
        for job in jobs:
            job.control.kill()
            if job.incarnation:
                with self._lock:
                    self._dead.add(job.incarnation)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._admin.shutdown(wait=False, cancel_futures=True)
        busy = 0
        deadline = threading.Event()
        timer = threading.Timer(timeout, deadline.set)
        timer.start()
        try:
            for job in jobs:
                if job.future is None:
                    continue
                while not job.future.done() and not deadline.is_set():
                    deadline.wait(0.02)
                if not job.future.done():
                    busy += 1
        finally:
            timer.cancel()
        return busy

    # -- plumbing -------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closing:
            raise ActionRefused("the dashboard is shutting down")

    def _admin_call(self, fn: Callable[[], Awaitable[Any]]) -> Future:
        return self._admin.submit(lambda: asyncio.run(fn()))

    def _submit(self, job: _Job, body: Callable[[WorkflowExecutor, Storage], Awaitable[Outcome | None]]) -> None:
        with self._lock:
            self._jobs = {k: j for k, j in self._jobs.items() if not (j.future and j.future.done())}
            self._jobs[job.execution_id] = job
        busy = len(self.active_ids()) - 1
        job.future = self._pool.submit(self._thread_body, job, body)
        if busy >= self.cfg.dashboard.run_threads:
            self.on_event(RunEvent("queued", job.execution_id, f"{job.execution_id[:8]} queued: all "
                                   f"{self.cfg.dashboard.run_threads} run threads are busy"))

    def _thread_body(self, job: _Job, body) -> None:
        if job.control.killed:
            return
        try:
            outcome = asyncio.run(self._job_main(job, body))
        except ActionRefused as exc:
            self.on_event(RunEvent("error", job.execution_id, str(exc)))
            return
        except Exception as exc:  # a run's failure never takes the dashboard down
            log.exception("run %s failed in the dashboard", job.execution_id)
            self.on_event(RunEvent("error", job.execution_id, f"{job.execution_id[:8]}: {type(exc).__name__}: {exc}"))
            return
        if outcome is None:
            return
        short = job.execution_id[:8]
        kind = outcome.status.lower()
        if outcome.status == "COMPLETED":
            out = outcome.output or {}
            msg = f"{short} COMPLETED: {out.get('total_reads', 0):,} reads, {out.get('variants_called', 0):,} variants"
        elif outcome.status == "KILLED":
            msg = f"{short} stopped as by a crash; resume it with r"
        else:
            msg = f"{short} ended {outcome.status}" + (f": {outcome.error}" if outcome.error else "")
        self.on_event(RunEvent(kind, job.execution_id, msg, outcome.output))

    async def _job_main(self, job: _Job, body) -> Outcome | None:
        storage = make_storage(self.url)
        await storage.open()
        try:
            def on_started(execution_id: str, owner: Owner) -> None:
                with self._lock:
                    job.incarnation = owner.incarnation
                    if job.control.killed:
                        self._dead.add(owner.incarnation)
                job.started.set()
                verb = {"launch": "started", "resume": "resumed", "recover": "recovered"}[job.kind]
                self.on_event(RunEvent("started", execution_id, f"{execution_id[:8]} {verb}"))

            hooks: dict[str, Any] = {"on_started": on_started}
            if self.after_commit is not None:
                hook = self.after_commit
                hooks["after_commit"] = lambda step_id, index: hook(job.execution_id, step_id, index)
            ex = self.make_executor(storage, job.control, **hooks)
            return await body(ex, storage)
        finally:
            await storage.close()
