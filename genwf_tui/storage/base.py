"""The one async storage protocol both backends implement (and pass the same contract tests).

Rules every backend keeps:
- Fenced writes (those taking a :class:`Fence`) match ``execution_id``, ``node_id`` and
  ``version`` in the same statement and bump ``version``; no match raises
  :class:`OwnershipLost` and writes nothing. On success they update ``fence.version``.
- Claims are a compare-and-swap on ``version``: of N concurrent claimers exactly one wins.
- Times are the database's clock; ages (``heartbeat_age``...) are computed by the database.
- Chunk leases (distributed runs): at most one unexpired lease per chunk, none once the
  chunk is checkpointed; a leased commit writes the checkpoint, the step progress and
  drops the lease in one transaction, or writes nothing. Claiming an execution (or
  releasing it) revokes the leases of its previous owner incarnation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

from .records import (
    ChunkLease,
    ChunkRecord,
    ChunkWrite,
    EventRecord,
    ExecutionRecord,
    Fence,
    HelpableChunk,
    NewExecution,
    Owner,
    StepRecord,
)


class Storage(ABC):
    """Durable state of definitions, executions, steps, chunk checkpoints and events."""

    kind: str = "?"
    display_url: str = "?"

    # -- lifecycle -------------------------------------------------------------------
    @abstractmethod
    async def open(self) -> None:
        """Connect and apply pending migrations; raises StorageError with a safe message."""

    @abstractmethod
    async def close(self) -> None: ...

    async def __aenter__(self) -> "Storage":
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @abstractmethod
    async def now(self) -> float:
        """The database's clock, as Unix seconds."""

    @abstractmethod
    async def schema_version(self) -> int: ...

    # -- definitions -----------------------------------------------------------------
    @abstractmethod
    async def save_definition(self, definition_id: str, version: int, name: str, definition_json: str) -> None:
        """Insert once; saving the same (id, version) again is a no-op."""

    @abstractmethod
    async def get_definition_json(self, definition_id: str, version: int) -> str | None: ...

    # -- executions ------------------------------------------------------------------
    @abstractmethod
    async def create_execution(self, new: NewExecution, owner: Owner | None) -> Fence | None:
        """Record an execution and its step rows. With an owner it starts RUNNING, owned
        (returns the fence); without, it waits PENDING for a node (returns None)."""

    @abstractmethod
    async def get_execution(self, execution_id: str) -> ExecutionRecord | None: ...

    @abstractmethod
    async def resolve_execution_id(self, prefix: str) -> list[str]:
        """Full ids starting with ``prefix`` (at most a few), for short ids typed by people."""

    @abstractmethod
    async def list_executions(
        self,
        *,
        limit: int = 100,
        statuses: Sequence[str] | None = None,
        changed_since: float | None = None,
        search: str | None = None,
    ) -> list[ExecutionRecord]:
        """Newest first (by created_at). ``changed_since`` keeps rows updated at or after it."""

    @abstractmethod
    async def count_by_status(self) -> dict[str, int]: ...

    @abstractmethod
    async def max_updated_at(self) -> float | None:
        """The change watermark: the newest ``updated_at`` of any execution."""

    @abstractmethod
    async def get_steps(self, execution_id: str) -> list[StepRecord]: ...

    @abstractmethod
    async def get_chunks(self, execution_id: str, step_id: str | None = None) -> list[ChunkRecord]:
        """Chunk rows without payloads, ordered by step then index."""

    @abstractmethod
    async def get_chunk_payloads(self, execution_id: str, step_id: str, indexes: Sequence[int] | None = None) -> dict[int, bytes]: ...

    @abstractmethod
    async def get_events(self, execution_id: str) -> list[EventRecord]: ...

    # -- claims (compare-and-swap on version) ---------------------------------------
    @abstractmethod
    async def claim(self, execution_id: str, expected_version: int, owner: Owner, *, event: str, recovery: bool, detail: str = "") -> Fence | None:
        """Take ownership if ``version`` is still ``expected_version``; sets RUNNING.
        ``recovery`` counts it in ``recovery_count``. Records ``event``. None if lost."""

    @abstractmethod
    async def fail_unowned(self, execution_id: str, expected_version: int, error: str) -> bool:
        """CAS to FAILED without owning it (crash-loop guard)."""

    @abstractmethod
    async def request_cancel(self, execution_id: str) -> str | None:
        """Ask the owner to cancel; a PENDING run becomes CANCELLED at once. Returns the new status."""

    @abstractmethod
    async def append_event(self, execution_id: str, kind: str, node_id: str | None, detail: str = "") -> None: ...

    # -- fenced writes by the owner -------------------------------------------------
    @abstractmethod
    async def heartbeat(self, fence: Fence) -> bool:
        """Prove liveness; returns ``cancel_requested``."""

    @abstractmethod
    async def start_step(self, fence: Fence, step_id: str, chunks_total: int, attempt: int) -> None: ...

    @abstractmethod
    async def commit_chunk(self, fence: Fence, chunk: ChunkWrite, lease: ChunkLease | None = None) -> bool:
        """Checkpoint + progress + timings in one transaction; returns ``cancel_requested``.
        With ``lease`` it must still be held (else :class:`LeaseLost`, nothing written and
        the fence unchanged) and is dropped in the same transaction."""

    @abstractmethod
    async def record_attempt(self, fence: Fence, step_id: str, attempt: int, error: str) -> None: ...

    @abstractmethod
    async def finish_step(self, fence: Fence, step_id: str, status: str, coordinate_ms: float, error: str | None = None, metadata_json: str | None = None) -> None:
        """Close a step; ``coordinate_ms`` adds the step's trailing coordination."""

    @abstractmethod
    async def finish_execution(self, fence: Fence, status: str, output_json: str | None = None, error: str | None = None) -> None: ...

    @abstractmethod
    async def release(self, fence: Fence, reason: str) -> None:
        """Give the run back (PENDING, no owner) so any node can take it at once."""

    # -- chunk leases (distributed runs; no execution fence) --------------------------------
    @abstractmethod
    async def claim_chunk(self, execution_id: str, step_id: str, chunk_index: int, owner: Owner,
                          lease_secs: float) -> ChunkLease | None:
        """Lease one chunk for ``lease_secs`` (database clock). Atomic: None if the chunk is
        checkpointed or anyone holds an unexpired lease on it; of N concurrent claimers one wins."""

    @abstractmethod
    async def renew_chunk_lease(self, lease: ChunkLease, lease_secs: float) -> bool:
        """Push an unexpired lease's expiry to now + ``lease_secs``; False if it is no longer held."""

    @abstractmethod
    async def release_chunk_lease(self, lease: ChunkLease) -> None:
        """Drop the lease (if still this one) so any node can take the chunk at once."""

    @abstractmethod
    async def commit_leased_chunk(self, lease: ChunkLease, chunk: ChunkWrite) -> None:
        """A helper's commit: checkpoint (``node_id`` from the lease) + step progress (SQL
        increments) + lease drop, in one transaction. Raises :class:`LeaseLost` and writes
        nothing if the lease is no longer held or the execution has ended. Never touches the
        execution row, so it never races the owner's fence."""

    @abstractmethod
    async def find_helpable_chunks(self, definition_id: str, definition_version: int, step_ids: Sequence[str],
                                   limit: int = 8, exclude: Sequence[str] = ()) -> list[HelpableChunk]:
        """Chunks of RUNNING executions of this workflow whose metadata has ``distributed: true``
        (none of ``exclude``), of their current step if it is RUNNING and in ``step_ids``, neither
        checkpointed nor under an unexpired lease. Oldest execution first, then highest chunk
        index first (the owner works upwards from 0, so helpers rarely collide with it)."""

    @abstractmethod
    async def get_chunk_leases(self, execution_id: str) -> list[ChunkLease]:
        """Current lease rows (expired ones too: ``expires_in`` <= 0), ordered by step, index."""
