"""The column lists both backends select, in the order the records' fields take them.

Only the time expressions differ by dialect: each backend passes its own ``epoch`` (a time
column as Unix seconds) and ``age`` (seconds since a time column, by the database clock).
"""

from __future__ import annotations

from typing import Callable

Sql = Callable[[str], str]


def execution_columns(epoch: Sql, age: Sql) -> str:
    """Columns of an ExecutionRecord."""
    return (
        "execution_id, definition_id, definition_version, status, current_step_id, input_json, "
        "output_json, error, node_id, version, owner_incarnation, owner_pid, owner_host, "
        "recovery_count, cancel_requested, metadata_json, "
        f"{epoch('created_at')}, {epoch('started_at')}, {epoch('completed_at')}, {epoch('updated_at')}, "
        f"{epoch('last_heartbeat')}, {epoch('last_progress_at')}, {age('last_heartbeat')}, {age('last_progress_at')}"
    )


def step_columns(epoch: Sql) -> str:
    """Columns of a StepRecord."""
    return (
        "execution_id, step_id, step_index, status, attempt, error, chunks_total, chunks_done, items_done, "
        f"compute_ms, coordinate_ms, {epoch('started_at')}, {epoch('completed_at')}, metadata_json"
    )


def chunk_columns(epoch: Sql) -> str:
    """Columns of a ChunkRecord (without the payload)."""
    return f"step_id, chunk_index, items, compute_ms, coordinate_ms, node_id, incarnation, attempt, {epoch('committed_at')}"
