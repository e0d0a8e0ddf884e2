"""Plain records the storage layer hands up. No behaviour, no database handles."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..vocab import STATUSES, TERMINAL  # noqa: F401  (re-exported)
from .errors import LeaseLost, OwnershipLost, StorageError  # noqa: F401  (re-exported)


@dataclass(frozen=True)
class Owner:
    """Who runs an execution: the node, this process's incarnation, its pid and host."""

    node_id: str
    incarnation: str
    pid: int
    host: str


@dataclass
class Fence:
    """The ownership token every write by a running execution carries (DESIGN rule 2)."""

    execution_id: str
    node_id: str
    version: int


@dataclass(frozen=True)
class ExecutionRecord:
    execution_id: str
    definition_id: str
    definition_version: int
    status: str
    current_step_id: str | None
    input_json: str
    output_json: str | None
    error: str | None
    node_id: str | None
    version: int
    owner_incarnation: str | None
    owner_pid: int | None
    owner_host: str | None
    recovery_count: int
    cancel_requested: bool
    metadata_json: str
    created_at: float
    started_at: float | None
    completed_at: float | None
    updated_at: float
    last_heartbeat: float | None
    last_progress_at: float | None
    # ages measured by the database's clock at read time (None when never set)
    heartbeat_age: float | None = None
    progress_age: float | None = None

    @property
    def input(self) -> dict[str, Any]:
        return json.loads(self.input_json)

    @property
    def output(self) -> dict[str, Any] | None:
        return json.loads(self.output_json) if self.output_json else None

    @property
    def metadata(self) -> dict[str, Any]:
        return json.loads(self.metadata_json or "{}")


@dataclass(frozen=True)
class StepRecord:
    execution_id: str
    step_id: str
    step_index: int
    status: str
    attempt: int
    error: str | None
    chunks_total: int | None
    chunks_done: int
    items_done: int
    compute_ms: float
    coordinate_ms: float
    started_at: float | None
    completed_at: float | None
    metadata_json: str = "{}"


@dataclass(frozen=True)
class ChunkRecord:
    step_id: str
    chunk_index: int
    items: int
    compute_ms: float
    coordinate_ms: float
    node_id: str
    incarnation: str
    attempt: int
    committed_at: float
    payload: bytes | None = None


@dataclass(frozen=True)
class ChunkWrite:
    """One finished chunk, committed with the progress in a single transaction."""

    step_id: str
    chunk_index: int
    payload: bytes
    items: int
    compute_ms: float
    coordinate_ms: float
    attempt: int
    incarnation: str


@dataclass(frozen=True)
class EventRecord:
    id: int
    execution_id: str
    at: float
    kind: str
    node_id: str | None
    detail: str | None


@dataclass(frozen=True)
class NewExecution:
    execution_id: str
    definition_id: str
    definition_version: int
    input_json: str
    steps: tuple[str, ...]
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChunkLease:
    """The right to compute and checkpoint one chunk of a distributed run, until it expires.
    ``token`` is fresh per claim: a lease that expired and was re-claimed is a different lease.
    ``expires_in`` (seconds, database clock) is filled only by :meth:`Storage.get_chunk_leases`."""

    execution_id: str
    step_id: str
    chunk_index: int
    node_id: str
    incarnation: str
    token: str
    owner_pid: int | None = None
    owner_host: str | None = None
    expires_in: float | None = None


@dataclass(frozen=True)
class HelpableChunk:
    """A chunk of a running distributed execution that no node has checkpointed or leases."""

    execution_id: str
    step_id: str
    chunk_index: int
    input_json: str
