"""One worker process: its HTTP endpoint, --exit-when-idle, SIGINT drain, bad listen address."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import urllib.request

from ..conftest import genwf_cmd
from .cluster import Cluster, db, wait_for


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_healthz_metrics_and_sigint_drain(tmp_path, node_env):
    url = str(tmp_path / "w.db")
    cluster = Cluster(url, tmp_path, node_env)
    try:
        ids = cluster.submit(60_000, chunk_size=1_000, seeds=[1, 2, 3])
        w = cluster.start("h1", concurrency=2)
        m = wait_for("the endpoint", lambda: re.search(r"listening on http://(\S+) ", w.text()), 30)
        base = f"http://{m.group(1)}"
        wait_for("two runs with progress", lambda: len(cluster.running_with_progress(w.pid)) == 2, 60, 0.05)
        code, body = get(base + "/healthz")
        health = json.loads(body)
        assert code == 200 and health["status"] == "ok" and health["node_id"] == "h1" and len(health["running"]) == 2
        code, text = get(base + "/metrics")
        assert code == 200
        for name in ("genwf_runs{status=\"RUNNING\"}", "genwf_chunks_done_total", "genwf_checkpoint_latency_seconds_bucket",
                     "genwf_granularity_ratio", "genwf_node_running_executions 2.0"):
            assert name in text, name
        assert get(base + "/nope")[0] == 404

        w.signal(signal.SIGINT)  # Ctrl-C drains like SIGTERM
        assert w.proc.wait(timeout=60) == 0, w.text()
        assert "draining" in w.text() and w.text().count("released") == 2
        statuses = cluster.statuses()
        assert sorted(statuses[i] for i in ids) == ["PENDING"] * 3  # released at once, nothing left owned
        recs = cluster.executions()
        assert all(recs[i].node_id is None for i in ids)
    finally:
        cluster.shutdown()


def test_exit_when_idle_finishes_everything(tmp_path, node_env):
    url = str(tmp_path / "w.db")
    cluster = Cluster(url, tmp_path, node_env)
    ids = cluster.submit(4_000, chunk_size=1_000, seeds=[1, 2, 3])
    proc = subprocess.run(genwf_cmd("worker", "--storage", url, "--exit-when-idle", "--listen", "off"),
                          cwd=tmp_path, env=node_env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "idle: nothing left to run" in proc.stdout
    assert set(cluster.statuses().values()) == {"COMPLETED"}
    node = "node-"  # generated from the host name when none is configured
    assert all(r.node_id.startswith(node) for r in cluster.executions().values())
    assert len(db(url, lambda s: s.list_executions(statuses=["COMPLETED"]))) == len(ids)


def test_listen_address_in_use_is_a_usage_error(tmp_path, node_env):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(genwf_cmd("worker", "--storage", str(tmp_path / "w.db"), "--listen", f"127.0.0.1:{port}"),
                              cwd=tmp_path, env=node_env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "node.listen_address" in lines[0] and "--listen" in lines[0], proc.stderr
