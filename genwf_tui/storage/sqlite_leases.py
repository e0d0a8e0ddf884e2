"""Chunk leases on SQLite: every write is one ``BEGIN IMMEDIATE`` transaction, so the
checks (checkpoint exists? lease still ours and unexpired?) and the writes that depend on
them cannot interleave with another process's.

Times are the database's: ``expires_at`` is the same text form as every other time column,
so it compares (and sorts) as text.
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any, Awaitable, Callable, Sequence, TypeVar

from .records import ChunkLease, ChunkWrite, HelpableChunk, LeaseLost, Owner

T = TypeVar("T")
NOW = "strftime('%Y-%m-%d %H:%M:%f','now')"
_KEY = "execution_id = ? AND step_id = ? AND chunk_index = ?"


def _later(param: str = "?") -> str:
    """The database time ``param`` seconds from now, in the stored text form."""
    return f"strftime('%Y-%m-%d %H:%M:%f', julianday('now') + {param} / 86400.0)"


def _key(lease: ChunkLease) -> tuple[str, str, int]:
    return lease.execution_id, lease.step_id, lease.chunk_index


def insert_checkpoint(db: sqlite3.Connection, execution_id: str, node_id: str, chunk: ChunkWrite) -> None:
    """The checkpoint row plus the step's progress (SQL increments: helpers commit concurrently)."""
    db.execute(
        "INSERT INTO chunk_checkpoints (execution_id, step_id, chunk_index, payload, items, compute_ms, "
        f"coordinate_ms, node_id, incarnation, attempt, committed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {NOW})",
        (execution_id, chunk.step_id, chunk.chunk_index, chunk.payload, chunk.items, chunk.compute_ms,
         chunk.coordinate_ms, node_id, chunk.incarnation, chunk.attempt),
    )
    db.execute(
        "UPDATE step_executions SET chunks_done = chunks_done + 1, items_done = items_done + ?, "
        f"compute_ms = compute_ms + ?, coordinate_ms = coordinate_ms + ?, updated_at = {NOW} "
        "WHERE execution_id = ? AND step_id = ?",
        (chunk.items, chunk.compute_ms, chunk.coordinate_ms, execution_id, chunk.step_id),
    )


def drop_lease(db: sqlite3.Connection, lease: ChunkLease) -> None:
    """Delete the lease if it is still this one and unexpired; else raise LeaseLost."""
    row = db.execute(
        f"DELETE FROM chunk_leases WHERE {_KEY} AND token = ? AND expires_at > {NOW} RETURNING 1",
        (*_key(lease), lease.token),
    ).fetchone()
    if row is None:
        raise LeaseLost(f"{lease.execution_id} {lease.step_id}#{lease.chunk_index}")


def revoke_leases(db: sqlite3.Connection, execution_id: str, incarnation: str | None) -> None:
    """A claim or release ends the previous owner's run: its chunk leases go with it."""
    if incarnation:
        db.execute("DELETE FROM chunk_leases WHERE execution_id = ? AND incarnation = ?", (execution_id, incarnation))


class SqliteLeases:
    """The lease half of :class:`~genwf_tui.storage.sqlite.SqliteStorage`."""

    _write: Callable[[Callable[[sqlite3.Connection], Any]], Awaitable[Any]]
    _fetch: Callable[..., Awaitable[list[Any]]]

    async def claim_chunk(self, execution_id: str, step_id: str, chunk_index: int, owner: Owner,
                          lease_secs: float) -> ChunkLease | None:
        token = uuid.uuid4().hex
        key = (execution_id, step_id, chunk_index)

        def tx(db: sqlite3.Connection) -> bool:
            if db.execute(f"SELECT 1 FROM chunk_checkpoints WHERE {_KEY}", key).fetchone():
                return False
            row = db.execute(
                "INSERT INTO chunk_leases (execution_id, step_id, chunk_index, node_id, incarnation, owner_pid, "
                f"owner_host, token, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, {_later()}) "
                "ON CONFLICT (execution_id, step_id, chunk_index) DO UPDATE SET node_id = excluded.node_id, "
                "incarnation = excluded.incarnation, owner_pid = excluded.owner_pid, owner_host = excluded.owner_host, "
                f"token = excluded.token, expires_at = excluded.expires_at WHERE chunk_leases.expires_at <= {NOW} "
                "RETURNING token",
                (*key, owner.node_id, owner.incarnation, owner.pid, owner.host, token, float(lease_secs)),
            ).fetchone()
            return row is not None

        if not await self._write(tx):
            return None
        return ChunkLease(execution_id, step_id, chunk_index, owner.node_id, owner.incarnation, token,
                          owner.pid, owner.host)

    async def renew_chunk_lease(self, lease: ChunkLease, lease_secs: float) -> bool:
        def tx(db: sqlite3.Connection) -> bool:
            return db.execute(
                f"UPDATE chunk_leases SET expires_at = {_later()} WHERE {_KEY} AND token = ? AND expires_at > {NOW} "
                "RETURNING 1",
                (float(lease_secs), *_key(lease), lease.token),
            ).fetchone() is not None

        return await self._write(tx)

    async def release_chunk_lease(self, lease: ChunkLease) -> None:
        await self._write(lambda db: db.execute(
            f"DELETE FROM chunk_leases WHERE {_KEY} AND token = ?", (*_key(lease), lease.token)))

    async def commit_leased_chunk(self, lease: ChunkLease, chunk: ChunkWrite) -> None:
        def tx(db: sqlite3.Connection) -> None:
            drop_lease(db, lease)
            row = db.execute("SELECT status FROM workflow_executions WHERE execution_id = ?",
                             (lease.execution_id,)).fetchone()
            if row is None or row[0] not in ("RUNNING", "PENDING"):  # ended meanwhile: write nothing
                raise LeaseLost(f"{lease.execution_id} is {row[0] if row else 'gone'}")
            insert_checkpoint(db, lease.execution_id, lease.node_id, chunk)

        await self._write(tx)

    async def find_helpable_chunks(self, definition_id: str, definition_version: int, step_ids: Sequence[str],
                                   limit: int = 8, exclude: Sequence[str] = ()) -> list[HelpableChunk]:
        if not step_ids:
            return []
        marks = ",".join("?" * len(step_ids))
        skip = ",".join("?" * len(exclude))
        rows = await self._fetch(
            "WITH RECURSIVE cand AS ("
            "  SELECT e.execution_id, s.step_id, s.chunks_total AS total, e.input_json, e.created_at "
            "  FROM workflow_executions e JOIN step_executions s "
            "    ON s.execution_id = e.execution_id AND s.step_id = e.current_step_id "
            "  WHERE e.status = 'RUNNING' AND e.definition_id = ? AND e.definition_version = ? "
            "   AND s.status = 'RUNNING' AND s.chunks_total > 0 AND s.chunks_done < s.chunks_total "
            f"   AND s.step_id IN ({marks}) AND json_extract(e.metadata_json, '$.distributed') = 1 "
            f"   AND e.execution_id NOT IN ({skip})), "
            "g (execution_id, step_id, i) AS ("
            "  SELECT execution_id, step_id, total - 1 FROM cand "
            "  UNION ALL SELECT execution_id, step_id, i - 1 FROM g WHERE i > 0) "
            "SELECT g.execution_id, g.step_id, g.i, c.input_json FROM g JOIN cand c USING (execution_id, step_id) "
            "WHERE NOT EXISTS (SELECT 1 FROM chunk_checkpoints k WHERE k.execution_id = g.execution_id "
            "  AND k.step_id = g.step_id AND k.chunk_index = g.i) "
            "AND NOT EXISTS (SELECT 1 FROM chunk_leases l WHERE l.execution_id = g.execution_id "
            f"  AND l.step_id = g.step_id AND l.chunk_index = g.i AND l.expires_at > {NOW}) "
            "ORDER BY c.created_at, g.execution_id, g.i DESC LIMIT ?",
            (definition_id, definition_version, *step_ids, *exclude, int(limit)),
        )
        return [HelpableChunk(*r) for r in rows]

    async def get_chunk_leases(self, execution_id: str) -> list[ChunkLease]:
        rows = await self._fetch(
            "SELECT execution_id, step_id, chunk_index, node_id, incarnation, token, owner_pid, owner_host, "
            "(julianday(expires_at) - julianday('now')) * 86400.0 FROM chunk_leases WHERE execution_id = ? "
            "ORDER BY step_id, chunk_index",
            (execution_id,),
        )
        return [ChunkLease(*r) for r in rows]
