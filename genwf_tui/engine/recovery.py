"""RecoveryService: find interrupted (and waiting) executions, claim each by CAS, resume it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from ..storage.base import Storage
from ..storage.records import ExecutionRecord
from .executor import ClaimLost, Outcome, WorkflowExecutor
from .liveness import interrupted_reason
from .model import WorkflowDefinition
from .owner import mark_gone, mark_live, new_owner

log = logging.getLogger(__name__)


@dataclass
class RecoveryReport:
    total_found: int = 0
    claimed: int = 0
    transferred: int = 0  # claimed from another node id
    recovered: int = 0  # resumed and COMPLETED
    failed: int = 0  # resumed and FAILED, or given up (crash loop)
    lost_races: int = 0  # another recoverer won the claim
    outcomes: list[Outcome] = field(default_factory=list)
    found: list[tuple[str, str]] = field(default_factory=list)  # (execution_id, why)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("total_found", "claimed", "transferred", "recovered", "failed", "lost_races")}


@dataclass(frozen=True)
class RecoveryPolicy:
    stale_threshold_secs: float = 300.0
    progress_timeout_secs: float | None = 3600.0
    max_recoveries: int = 3
    include_pending: bool = True


class RecoveryService:
    """Recovers what crashed: same node restarted, node id changed, dead node, PENDING runs."""

    def __init__(self, storage: Storage, executor_factory: Callable[[], WorkflowExecutor], policy: RecoveryPolicy,
                 *, node_id: str, definition: WorkflowDefinition):
        self.storage = storage
        self.make_executor = executor_factory
        self.policy = policy
        self.node_id = node_id
        self.definition = (definition.id, definition.version)  # other workflows sharing the database are not ours

    async def find_interrupted(self) -> list[tuple[ExecutionRecord, str]]:
        """Executions to take now, with why: interrupted RUNNING ones, and PENDING if asked."""
        statuses = ["RUNNING", "PENDING"] if self.policy.include_pending else ["RUNNING"]
        found = []
        for rec in await self.storage.list_executions(limit=10_000, statuses=statuses):
            if (rec.definition_id, rec.definition_version) != self.definition:
                continue
            if rec.status == "PENDING":
                found.append((rec, "waiting for a node"))
                continue
            why = interrupted_reason(rec, stale_threshold_secs=self.policy.stale_threshold_secs,
                                     progress_timeout_secs=self.policy.progress_timeout_secs)
            if why:
                found.append((rec, why))
        found.sort(key=lambda pair: pair[0].created_at)
        return found

    async def recover_on_startup(self, *, execute: bool = True) -> RecoveryReport:
        """Claim every interrupted execution (exactly one claimer wins each) and resume it."""
        report = RecoveryReport()
        candidates = await self.find_interrupted()
        report.total_found = len(candidates)
        for rec, why in candidates:
            report.found.append((rec.execution_id, why))
            outcome = await self.recover_one(rec, why, report, execute=execute)
            if outcome is not None:
                report.outcomes.append(outcome)
        return report

    async def recover_one(self, rec: ExecutionRecord, why: str, report: RecoveryReport | None = None,
                          *, execute: bool = True) -> Outcome | None:
        report = report or RecoveryReport()
        crashed = rec.status == "RUNNING"
        if crashed and rec.recovery_count >= self.policy.max_recoveries:
            error = (f"crashed {rec.recovery_count + 1} times (max_recoveries={self.policy.max_recoveries}); "
                     f"not resuming it again — start a new run")
            if await self.storage.fail_unowned(rec.execution_id, rec.version, error):
                report.failed += 1
                log.error("execution %s: %s", rec.execution_id, error)
            else:
                report.lost_races += 1
            return None
        executor = self.make_executor()
        owner = new_owner(self.node_id)
        event = "recovered" if crashed else "claimed"
        detail = f"{why}; from node {rec.node_id or '-'} to {owner.node_id} (pid {owner.pid} on {owner.host})"
        # Live before the claim lands: a recoverer in this same process must never see our
        # fresh claim as "its run in this process is gone" and claim it again.
        mark_live(owner.incarnation)
        fence = await self.storage.claim(rec.execution_id, rec.version, owner, event=event, recovery=crashed, detail=detail)
        if fence is None:
            mark_gone(owner.incarnation)
            report.lost_races += 1
            return None
        report.claimed += 1
        if rec.node_id and rec.node_id != self.node_id:
            report.transferred += 1
        if not execute:
            mark_gone(owner.incarnation)
            return None
        try:
            outcome = await executor.execute_from_state(rec.execution_id, fence=fence, owner=owner)
        except ClaimLost:
            report.lost_races += 1
            return None
        if outcome.status == "COMPLETED":
            report.recovered += 1
        elif outcome.status == "FAILED":
            report.failed += 1
        return outcome
