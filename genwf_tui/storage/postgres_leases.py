"""Chunk leases on PostgreSQL (READ COMMITTED).

Why each claim and commit is safe under concurrency:
- ``claim_chunk`` upserts the lease row (``ON CONFLICT DO UPDATE ... WHERE expired``: the
  row lock serialises claimers and the condition is re-checked on the newest row), *then*,
  in a later statement of the same transaction (a fresh snapshot), checks that the chunk has
  no checkpoint. A committer drops its lease and inserts the checkpoint in one transaction,
  so a claimer either waits for it on the lease row and then sees the checkpoint, or it
  finds the lease unexpired and gets nothing.
- Commits delete the lease by its token and unexpired before writing anything; a lease
  re-claimed by another node has another token, so the delete matches nothing.
"""

from __future__ import annotations

import uuid
from typing import Sequence

import asyncpg

from .records import ChunkLease, ChunkWrite, HelpableChunk, LeaseLost, Owner

NOW = "clock_timestamp()"
_KEY = "execution_id = $1 AND step_id = $2 AND chunk_index = $3::int"
# Deletes the lease if still held; parameters $1..$4 are execution_id, step_id, chunk_index, token.
DROP_LEASE = f"DELETE FROM chunk_leases WHERE {_KEY} AND token = $4 AND expires_at > {NOW} RETURNING 1"
# Checkpoint + step progress (SQL increments). $1 execution, $2 node, $3 step, $4 index, $5 payload,
# $6 items, $7 compute_ms, $8 coordinate_ms, $9 incarnation, $10 attempt.
_INSERT_CHECKPOINT = (
    "WITH c AS (INSERT INTO chunk_checkpoints (execution_id, step_id, chunk_index, payload, items, compute_ms, "
    "coordinate_ms, node_id, incarnation, attempt, committed_at) "
    f"VALUES ($1, $3, $4::int, $5::bytea, $6::bigint, $7::float8, $8::float8, $2, $9::text, $10::int, {NOW}) "
    "RETURNING 1), "
    "s AS (UPDATE step_executions SET chunks_done = chunks_done + 1, items_done = items_done + $6::bigint, "
    f"compute_ms = compute_ms + $7::float8, coordinate_ms = coordinate_ms + $8::float8, updated_at = {NOW} "
    "WHERE execution_id = $1 AND step_id = $3 AND EXISTS (SELECT 1 FROM c)) "
    "SELECT 1 FROM c"
)


def _key(lease: ChunkLease) -> tuple[str, str, int]:
    return lease.execution_id, lease.step_id, lease.chunk_index


class PostgresLeases:
    """The lease half of :class:`~genwf_tui.storage.postgres.PostgresStorage`."""

    pool: asyncpg.Pool

    async def claim_chunk(self, execution_id: str, step_id: str, chunk_index: int, owner: Owner,
                          lease_secs: float) -> ChunkLease | None:
        token = uuid.uuid4().hex
        async with self.pool.acquire() as conn:
            tr = conn.transaction()
            await tr.start()
            try:
                got = await conn.fetchval(
                    "INSERT INTO chunk_leases (execution_id, step_id, chunk_index, node_id, incarnation, owner_pid, "
                    f"owner_host, token, expires_at) VALUES ($1, $2, $3::int, $4, $5, $6::int, $7, $8, "
                    f"{NOW} + make_interval(secs => $9::float8)) "
                    "ON CONFLICT (execution_id, step_id, chunk_index) DO UPDATE SET node_id = EXCLUDED.node_id, "
                    "incarnation = EXCLUDED.incarnation, owner_pid = EXCLUDED.owner_pid, "
                    "owner_host = EXCLUDED.owner_host, token = EXCLUDED.token, expires_at = EXCLUDED.expires_at "
                    f"WHERE chunk_leases.expires_at <= {NOW} RETURNING token",
                    execution_id, step_id, chunk_index, owner.node_id, owner.incarnation, owner.pid, owner.host,
                    token, float(lease_secs),
                )
                if got is None or await conn.fetchval(
                        f"SELECT 1 FROM chunk_checkpoints WHERE {_KEY}", execution_id, step_id, chunk_index):
                    await tr.rollback()
                    return None
            except BaseException:
                await tr.rollback()
                raise
            await tr.commit()
        return ChunkLease(execution_id, step_id, chunk_index, owner.node_id, owner.incarnation, token,
                          owner.pid, owner.host)

    async def renew_chunk_lease(self, lease: ChunkLease, lease_secs: float) -> bool:
        return await self.pool.fetchval(
            f"UPDATE chunk_leases SET expires_at = {NOW} + make_interval(secs => $5::float8) "
            f"WHERE {_KEY} AND token = $4 AND expires_at > {NOW} RETURNING 1",
            *_key(lease), lease.token, float(lease_secs),
        ) is not None

    async def release_chunk_lease(self, lease: ChunkLease) -> None:
        await self.pool.execute(f"DELETE FROM chunk_leases WHERE {_KEY} AND token = $4", *_key(lease), lease.token)

    async def commit_leased_chunk(self, lease: ChunkLease, chunk: ChunkWrite) -> None:
        async with self.pool.acquire() as conn:
            async with conn.transaction():  # an exception rolls everything back
                if await conn.fetchval(DROP_LEASE, *_key(lease), lease.token) is None:
                    raise LeaseLost(f"{lease.execution_id} {lease.step_id}#{lease.chunk_index}")
                # FOR SHARE: the owner cannot end the run between this check and our commit.
                status = await conn.fetchval(
                    "SELECT status FROM workflow_executions WHERE execution_id = $1 FOR SHARE", lease.execution_id)
                if status not in ("RUNNING", "PENDING"):
                    raise LeaseLost(f"{lease.execution_id} is {status or 'gone'}")
                await insert_checkpoint(conn, lease.execution_id, lease.node_id, chunk)

    async def find_helpable_chunks(self, definition_id: str, definition_version: int, step_ids: Sequence[str],
                                   limit: int = 8, exclude: Sequence[str] = ()) -> list[HelpableChunk]:
        if not step_ids:
            return []
        rows = await self.pool.fetch(
            "SELECT e.execution_id, s.step_id, g.i, e.input_json FROM workflow_executions e "
            "JOIN step_executions s ON s.execution_id = e.execution_id AND s.step_id = e.current_step_id "
            "CROSS JOIN LATERAL generate_series(s.chunks_total - 1, 0, -1) AS g(i) "
            "WHERE e.status = 'RUNNING' AND e.definition_id = $1 AND e.definition_version = $2 "
            "AND s.status = 'RUNNING' AND s.chunks_total > 0 AND s.chunks_done < s.chunks_total "
            "AND s.step_id = ANY($3::text[]) AND (e.metadata_json::jsonb ->> 'distributed') = 'true' "
            "AND NOT (e.execution_id = ANY($5::text[])) "
            "AND NOT EXISTS (SELECT 1 FROM chunk_checkpoints k WHERE k.execution_id = e.execution_id "
            "  AND k.step_id = s.step_id AND k.chunk_index = g.i) "
            "AND NOT EXISTS (SELECT 1 FROM chunk_leases l WHERE l.execution_id = e.execution_id "
            f"  AND l.step_id = s.step_id AND l.chunk_index = g.i AND l.expires_at > {NOW}) "
            "ORDER BY e.created_at, e.execution_id, g.i DESC LIMIT $4",
            definition_id, definition_version, list(step_ids), int(limit), list(exclude),
        )
        return [HelpableChunk(*r) for r in rows]

    async def get_chunk_leases(self, execution_id: str) -> list[ChunkLease]:
        rows = await self.pool.fetch(
            "SELECT execution_id, step_id, chunk_index, node_id, incarnation, token, owner_pid, owner_host, "
            f"EXTRACT(EPOCH FROM (expires_at - {NOW}))::float8 FROM chunk_leases WHERE execution_id = $1 "
            "ORDER BY step_id, chunk_index",
            execution_id,
        )
        return [ChunkLease(*r) for r in rows]


async def insert_checkpoint(conn: asyncpg.Connection, execution_id: str, node_id: str, chunk: ChunkWrite) -> None:
    await conn.fetchval(
        _INSERT_CHECKPOINT, execution_id, node_id, chunk.step_id, chunk.chunk_index, chunk.payload, chunk.items,
        chunk.compute_ms, chunk.coordinate_ms, chunk.incarnation, chunk.attempt,
    )
