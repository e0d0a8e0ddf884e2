"""Helpers for tests that run real `genwf` processes against a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

from ..conftest import genwf_cmd

TIMING_KEYS = {"metrics", "step_metrics", "throughput_reads_per_sec", "execution_id"}


def genwf(args, cwd, env, timeout=180, check=None) -> subprocess.CompletedProcess:
    p = subprocess.run(genwf_cmd(*args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check is not None:
        assert p.returncode == check, f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    return p


def comparable(results: dict) -> dict:
    """pipeline_results.json minus timing fields (and the id, which differs per run)."""
    return {k: v for k, v in results.items() if k not in TIMING_KEYS}


def read_results(cwd: Path) -> dict:
    return json.loads((cwd / "pipeline_results.json").read_text())


def chunk_rows(db: Path, execution_id: str) -> list[tuple]:
    with sqlite3.connect(db) as c:
        return c.execute(
            "SELECT step_id, chunk_index, incarnation, committed_at FROM chunk_checkpoints WHERE execution_id = ? "
            "ORDER BY step_id, chunk_index", (execution_id,)).fetchall()


def execution(db: Path, execution_id: str) -> dict:
    with sqlite3.connect(db) as c:
        c.row_factory = sqlite3.Row
        return dict(c.execute("SELECT * FROM workflow_executions WHERE execution_id = ?", (execution_id,)).fetchone())


def steps(db: Path, execution_id: str) -> dict[str, dict]:
    with sqlite3.connect(db) as c:
        c.row_factory = sqlite3.Row
        return {r["step_id"]: dict(r) for r in c.execute(
            "SELECT * FROM step_executions WHERE execution_id = ?", (execution_id,))}


def assert_each_chunk_once(db: Path, execution_id: str) -> None:
    """Every step has exactly chunks_total checkpoint rows, one per index."""
    rows = chunk_rows(db, execution_id)
    for step_id, s in steps(db, execution_id).items():
        idx = sorted(i for st, i, *_ in rows if st == step_id)
        assert idx == list(range(s["chunks_total"])), (step_id, idx, s["chunks_total"])
        assert s["chunks_done"] == s["chunks_total"]
