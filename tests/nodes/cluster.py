"""Helpers for multi-process node tests: real `genwf worker` processes on one shared database."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from genwf_tui.storage import make_storage

from ..conftest import genwf_cmd

TIMING_KEYS = ("metrics", "step_metrics", "throughput_reads_per_sec", "execution_id")


def normalized(output: dict | None) -> dict:
    """A run's results minus timing fields and its id: what must equal a single-node run's."""
    assert output is not None
    return {k: v for k, v in output.items() if k not in TIMING_KEYS}


def db(url: str, fn: Callable[[Any], Any]) -> Any:
    """Run ``await fn(storage)`` on a fresh connection to ``url``."""

    async def go():
        s = make_storage(url)
        await s.open()
        try:
            return await fn(s)
        finally:
            await s.close()

    return asyncio.run(go())


def wait_for(what: str, predicate: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


@dataclass
class WorkerProc:
    node_id: str
    proc: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def incarnation(self) -> str:
        m = wait_for(f"{self.node_id} to start", lambda: re.search(r"incarnation (\w+)", self.text()), 30)
        return m.group(1)

    def signal(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM and wait: the graceful drain. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


@dataclass
class Cluster:
    url: str
    workdir: Path
    env: dict[str, str]
    workers: list[WorkerProc] = field(default_factory=list)

    def start(self, node_id: str, *, concurrency: int = 2, env: dict[str, str] | None = None) -> WorkerProc:
        log = self.workdir / f"worker-{node_id}-{len(self.workers)}.log"
        full_env = {**self.env, **(env or {})}
        fh = open(log, "w")
        proc = subprocess.Popen(
            genwf_cmd("worker", "--storage", self.url, "--node-id", node_id, "--concurrency", str(concurrency),
                      "--listen", "127.0.0.1:0"),
            cwd=self.workdir, env=full_env, stdout=fh, stderr=subprocess.STDOUT,
        )
        fh.close()
        w = WorkerProc(node_id, proc, log)
        self.workers.append(w)
        return w

    def shutdown(self) -> None:
        for w in self.workers:
            if w.proc.poll() is None:
                try:
                    os.kill(w.proc.pid, signal.SIGCONT)
                    w.proc.kill()
                except ProcessLookupError:
                    pass
                w.proc.wait(timeout=10)

    # -- database views ---------------------------------------------------------------------
    def submit(self, reads: int, *, chunk_size: int, seeds: list[int]) -> list[str]:
        """Record one PENDING run per seed (in-process, as `genwf submit` does)."""
        from genwf_tui import pipeline
        from genwf_tui.config import ConfigBootstrap
        from genwf_tui.service import make_executor

        async def go(s):
            ids = []
            for seed in seeds:
                cfg = ConfigBootstrap(environ={}, cwd=self.workdir).load(
                    {"pipeline.chunk_size": chunk_size, "pipeline.seed": seed, "storage.url": self.url})
                ids.append(await make_executor(s, cfg).submit(pipeline.make_input(cfg, reads)))
            return ids

        return db(self.url, go)

    def executions(self) -> dict[str, Any]:
        return {r.execution_id: r for r in db(self.url, lambda s: s.list_executions(limit=10_000))}

    def statuses(self) -> dict[str, str]:
        return {eid: r.status for eid, r in self.executions().items()}

    def running_with_progress(self, pid: int) -> list[str]:
        """Runs owned by process ``pid`` that have checkpointed at least one chunk."""

        async def go(s):
            out = []
            for r in await s.list_executions(limit=10_000, statuses=["RUNNING"]):
                if r.owner_pid == pid and any(st.chunks_done > 0 for st in await s.get_steps(r.execution_id)):
                    out.append(r.execution_id)
            return out

        return db(self.url, go)

    def all_done(self, ids: list[str]) -> bool:
        st = self.statuses()
        bad = {eid: st.get(eid) for eid in ids if st.get(eid) in ("FAILED", "CANCELLED", "TIMED_OUT")}
        assert not bad, f"runs ended badly: {bad}\n" + self.logs()
        return all(st.get(eid) == "COMPLETED" for eid in ids)

    def logs(self) -> str:
        return "\n".join(f"--- {w.node_id} (pid {w.pid}) ---\n{w.text()[-4000:]}" for w in self.workers)

    def check_exactly_once(self, ids: list[str], reference: dict[int, dict]) -> dict[str, list]:
        """Every run COMPLETED once, every chunk checkpointed once, results equal to single-node runs.
        Returns each run's events for further checks."""

        async def go(s):
            out = {}
            for eid in ids:
                rec = await s.get_execution(eid)
                assert rec.status == "COMPLETED", (eid, rec.status, rec.error)
                events = await s.get_events(eid)
                assert [e.kind for e in events].count("completed") == 1, [e.kind for e in events]
                chunks = await s.get_chunks(eid)
                for st in await s.get_steps(eid):
                    assert st.status == "COMPLETED"
                    mine = [c.chunk_index for c in chunks if c.step_id == st.step_id]
                    assert sorted(mine) == list(range(st.chunks_total)), (eid, st.step_id, mine)
                    assert st.chunks_done == st.chunks_total, (eid, st.step_id, st.chunks_done, st.chunks_total)
                seed = rec.input["seed"]
                assert normalized(rec.output) == reference[seed], f"{eid} (seed {seed}) differs from a single-node run"
                out[eid] = events
            return out

        return db(self.url, go)


def single_node_results(workdir: Path, env: dict[str, str], reads: int, chunk_size: int, seeds: list[int]) -> dict[int, dict]:
    """Reference results: one uninterrupted `genwf READS` per seed, each on its own SQLite file."""
    procs = {}
    for seed in seeds:
        d = workdir / f"ref-{reads}-{chunk_size}-{seed}"
        d.mkdir(parents=True, exist_ok=True)
        procs[seed] = (d, subprocess.Popen(
            genwf_cmd(str(reads), "--chunk-size", str(chunk_size), "--seed", str(seed), "--storage", str(d / "ref.db")),
            cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    out = {}
    for seed, (d, p) in procs.items():
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        out[seed] = normalized(json.loads((d / "pipeline_results.json").read_text()))
    return out
