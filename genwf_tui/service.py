"""Glue shared by the fronts (CLI, dashboard, worker): executors and recovery built from Config."""

from __future__ import annotations

from typing import Callable

from . import pipeline
from .config import Config
from .engine import ExecutionControl, RecoveryPolicy, RecoveryService, RetryPolicy, WorkflowExecutor
from .storage import Storage
from .storage.records import Owner


def retry_policy(cfg: Config) -> RetryPolicy:
    r = cfg.retry
    return RetryPolicy(r.max_attempts, r.initial_backoff_secs, r.backoff_multiplier, r.max_backoff_secs, r.jitter)


def make_executor(storage: Storage, cfg: Config, *, control: ExecutionControl | None = None,
                  after_commit: Callable[[str, int], None] | None = None,
                  on_progress: Callable[[str, str, int, int], None] | None = None,
                  on_started: Callable[[str, Owner], None] | None = None) -> WorkflowExecutor:
    """An executor of the genomic workflow with this configuration."""
    return WorkflowExecutor(
        storage, pipeline.workflow(retry_policy(cfg)), node_id=cfg.node_id,
        target_ratio=cfg.target_granularity_ratio, heartbeat_interval_secs=cfg.recovery.heartbeat_interval_secs,
        control=control, after_commit=after_commit, on_progress=on_progress, on_started=on_started,
        lease_secs=cfg.recovery.stale_threshold_secs, compute_threads=cfg.pipeline.compute_threads,
    )


def recovery_policy(cfg: Config, *, include_pending: bool = True) -> RecoveryPolicy:
    r = cfg.recovery
    return RecoveryPolicy(r.stale_threshold_secs, r.progress_timeout_secs, r.max_recoveries, include_pending)


def make_recovery(storage: Storage, cfg: Config, executor_factory: Callable[[], WorkflowExecutor] | None = None,
                  *, include_pending: bool = True) -> RecoveryService:
    """A recovery service whose resumed runs use ``executor_factory`` (default: plain executors)."""
    factory = executor_factory or (lambda: make_executor(storage, cfg))
    return RecoveryService(storage, factory, recovery_policy(cfg, include_pending=include_pending), node_id=cfg.node_id,
                           definition=pipeline.workflow().definition)
