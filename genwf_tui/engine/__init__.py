"""The durable engine: knows steps, chunks, checkpoints and owners — nothing of genomics."""

from .executor import ClaimLost, ExecutionControl, Outcome, WorkflowExecutor
from .metrics import CoordinationComputeTracker, Metrics, rating
from .model import ChunkOutput, RetryPolicy, StepContext, StepDefinition, Workflow, WorkflowDefinition
from .recovery import RecoveryPolicy, RecoveryReport, RecoveryService

__all__ = [
    "ChunkOutput", "ClaimLost", "CoordinationComputeTracker", "ExecutionControl", "Metrics", "Outcome",
    "RecoveryPolicy", "RecoveryReport", "RecoveryService", "RetryPolicy", "StepContext", "StepDefinition",
    "Workflow", "WorkflowDefinition", "WorkflowExecutor", "rating",
]
