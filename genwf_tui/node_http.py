"""A worker node's small HTTP endpoint: ``/healthz`` (JSON) and ``/metrics`` (Prometheus text).

Served from a daemon thread so a busy event loop never delays a scrape. The exposition
format comes from ``prometheus_client``; every metric lives in this node's own registry.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import disable_created_metrics

disable_created_metrics()  # no *_created series: a node's scrape stays small and readable

STATUSES = ("PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT")


class NodeMetrics:
    """What a worker node exposes on ``/metrics``."""

    def __init__(self, node_id: str, incarnation: str):
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        labels = {"node_id": node_id, "incarnation": incarnation}
        info = Gauge("genwf_node_info", "This worker node (value is always 1).", list(labels), registry=r)
        info.labels(**labels).set(1)
        self.runs = Gauge("genwf_runs", "Executions in the database by stored status.", ["status"], registry=r)
        for s in STATUSES:
            self.runs.labels(s).set(0)
        self.running_here = Gauge("genwf_node_running_executions", "Executions this node is running now.", registry=r)
        self.finished = Counter("genwf_node_runs_finished", "Runs this node stopped driving, by outcome.",
                                ["outcome"], registry=r)
        self.claims = Counter("genwf_node_claims", "Runs this node took, by kind (claimed PENDING, recovered).",
                              ["kind"], registry=r)
        self.chunks = Counter("genwf_chunks_done", "Chunks checkpointed by this node.", ["step"], registry=r)
        self.checkpoint_latency = Histogram(
            "genwf_checkpoint_latency_seconds", "Time to commit one chunk checkpoint (fence + payload + progress).",
            registry=r, buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        self.compute_ms = Counter("genwf_compute_milliseconds", "Compute time of chunks checkpointed by this node.",
                                  registry=r)
        self.coordinate_ms = Counter("genwf_coordinate_milliseconds",
                                     "Coordination time of chunks checkpointed by this node.", registry=r)
        self.granularity = Gauge("genwf_granularity_ratio",
                                 "compute / coordinate over the chunks this node checkpointed.", registry=r)
        self.last_run_granularity = Gauge("genwf_last_run_granularity_ratio",
                                          "Granularity ratio of the last run this node completed.", registry=r)
        self._compute = self._coord = 0.0
        self._lock = threading.Lock()

    def chunk_committed(self, step_id: str, compute_ms: float, coordinate_ms: float, latency_s: float) -> None:
        self.chunks.labels(step_id).inc()
        self.checkpoint_latency.observe(latency_s)
        self.compute_ms.inc(max(compute_ms, 0.0))
        self.coordinate_ms.inc(max(coordinate_ms, 0.0))
        with self._lock:
            self._compute += max(compute_ms, 0.0)
            self._coord += max(coordinate_ms, 0.0)
            if self._coord > 0:
                self.granularity.set(self._compute / self._coord)

    def set_counts(self, counts: dict[str, int]) -> None:
        for s in set(STATUSES) | set(counts):
            self.runs.labels(s).set(counts.get(s, 0))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def parse_listen(address: str) -> tuple[str, int] | None:
    """``host:port`` (``[v6]:port``) -> (host, port); empty/``off``/``none`` -> None (disabled)."""
    text = (address or "").strip()
    if text.lower() in ("", "off", "none", "disabled"):
        return None
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not (0 <= int(port) <= 65535):
        raise ValueError(f"expected HOST:PORT, got {address!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


class NodeHTTPServer:
    """``/healthz`` and ``/metrics`` on a background thread."""

    def __init__(self, host: str, port: int, metrics: NodeMetrics, health: Callable[[], tuple[bool, dict[str, Any]]]):
        metrics_ref, health_ref = metrics, health

        class Handler(BaseHTTPRequestHandler):
            server_version = "genwf-worker"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, CONTENT_TYPE_LATEST, metrics_ref.exposition())
                elif path in ("/healthz", "/health"):
                    ok, body = health_ref()
                    self._send(200 if ok else 503, "application/json", json.dumps(body, sort_keys=True).encode() + b"\n")
                else:
                    self._send(404, "text/plain; charset=utf-8", b"not found: try /healthz or /metrics\n")

            def _send(self, code: int, ctype: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:  # quiet: scrapes are not worth a log line
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="genwf-node-http", daemon=True)
        self.started_at = time.time()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"

    def start(self) -> "NodeHTTPServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
