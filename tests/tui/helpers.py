"""Helpers for dashboard tests: real SQLite files, real runs (in-process and `genwf` subprocesses)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from genwf_tui.config import Config
from genwf_tui.monitor.snapshot import comparable_output
from genwf_tui.storage import make_storage

READS, CHUNK = 3000, 500


def dash_config(**dashboard) -> Config:
    cfg = Config()
    cfg.node.id = "node-test"
    cfg.dashboard.poll_interval_secs = dashboard.get("poll", 0.1)
    cfg.dashboard.max_rows = dashboard.get("max_rows", 200)
    cfg.dashboard.run_threads = dashboard.get("run_threads", 4)
    cfg.recovery.heartbeat_interval_secs = 0.2
    cfg.pipeline.chunk_size = CHUNK
    return cfg


def prepare_db(path: Path) -> str:
    async def go() -> None:
        s = make_storage(str(path))
        await s.open()
        await s.close()

    t = threading.Thread(target=asyncio.run, args=(go(),))  # also callable from a running loop
    t.start()
    t.join()
    return str(path)


async def read_db(url: str, fn):
    s = make_storage(url, read_only=True)
    await s.open()
    try:
        return await fn(s)
    finally:
        await s.close()


def genwf_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENOMIC_PIPELINE__")}
    env.pop("APP_CONFIG_PATH", None)
    env["PYTHONUNBUFFERED"] = "1"
    env["GENOMIC_PIPELINE__RECOVERY__HEARTBEAT_INTERVAL_SECS"] = "0.2"
    env["GENOMIC_PIPELINE__NODE__ID"] = "node-cli"
    return env


def genwf(url: str, *args: str, cwd: Path) -> subprocess.Popen:
    """A separate `genwf` process writing to the same database."""
    return subprocess.Popen([sys.executable, "-m", "genwf_tui.cli", *args, "--storage", url], cwd=cwd,
                            env=genwf_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def crashed_runs(url: str, n: int, cwd: Path, reads: int = READS, crash_at: str = "qc:1") -> None:
    """n runs killed by SIGKILL after a checkpoint (real crashes), in parallel."""
    procs = []
    for i in range(n):
        d = cwd / f"crash{i}"
        d.mkdir(exist_ok=True)
        procs.append(genwf(url, str(reads), "--chunk-size", str(CHUNK), "--crash-at", crash_at, cwd=d))
    for p in procs:
        p.wait(60)
        assert p.returncode == -9, p.stdout.read().decode()


def completed_runs(url: str, n: int, cwd: Path, reads: int = READS) -> None:
    procs = []
    for i in range(n):
        d = cwd / f"ok{i}"
        d.mkdir(exist_ok=True)
        procs.append(genwf(url, str(reads), "--chunk-size", str(CHUNK), cwd=d))
    for p in procs:
        p.wait(60)
        assert p.returncode == 0, p.stdout.read().decode()


class Gate:
    """An after_commit hook that holds a run's thread at one checkpoint until released."""

    def __init__(self, step: str, chunk: int, armed: bool = True):
        self.step, self.chunk, self.armed = step, chunk, armed
        self.reached = threading.Event()
        self.release = threading.Event()
        self.execution_id: str | None = None

    def __call__(self, execution_id: str, step_id: str, index: int) -> None:
        if self.armed and step_id == self.step and index == self.chunk and not self.reached.is_set():
            self.execution_id = execution_id
            self.reached.set()
            self.release.wait(30)


class Slow:
    """An after_commit hook that makes every checkpoint a little slower (to watch progress)."""

    def __init__(self, secs: float):
        self.secs = secs

    def __call__(self, execution_id: str, step_id: str, index: int) -> None:
        time.sleep(self.secs)


async def wait_until(pilot, predicate, timeout: float = 20.0, step: float = 0.05, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        await pilot.pause(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def row(app, execution_id: str):
    snap = app.latest
    if snap is None:
        return None
    return next((r for r in snap.rows if r.execution_id == execution_id), None)


def same_results(a: dict | str, b: dict | str) -> bool:
    a = json.loads(a) if isinstance(a, str) else a
    b = json.loads(b) if isinstance(b, str) else b
    return comparable_output(a) == comparable_output(b)


def table(app):
    from genwf_tui.tui.widgets import RunsTable

    return app.main_screen.query_one(RunsTable)


async def press_fast(app, key: str, char: str | None, until, timeout: float = 5.0) -> float:
    """Post one key straight to the app and time how long until ``until()`` holds (Pilot.press
    also waits for the process to go idle, which never happens while runs compute)."""
    import asyncio

    from textual import events

    t0 = time.perf_counter()
    app.post_message(events.Key(key, char))
    while not until():
        if time.perf_counter() - t0 > timeout:
            raise AssertionError(f"key {key!r} not answered in {timeout}s")
        await asyncio.sleep(0.002)
    return time.perf_counter() - t0
