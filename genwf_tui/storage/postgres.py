"""PostgreSQL backend (asyncpg, one connection pool per storage).

Same tables and semantics as the SQLite backend. Every write that has more than one part
is a single SQL statement built from data-modifying CTEs: the fence check (``UPDATE
workflow_executions ... WHERE execution_id = $1 AND node_id = $2 AND version = $3``) and the
writes that depend on it run atomically in one round trip, and a fence that matches no row
makes every dependent part a no-op. Times come from the server's ``clock_timestamp()``;
ages are computed by the server.

The DSN (with its password) lives only in this object's private attribute; every message
shows ``host:port`` and the database name, never the password.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any, Sequence
from urllib.parse import unquote, urlsplit

import asyncpg

from .base import Storage
from .columns import chunk_columns, execution_columns, step_columns
from .postgres_leases import DROP_LEASE, PostgresLeases
from .records import (
    ChunkLease,
    ChunkRecord,
    ChunkWrite,
    EventRecord,
    ExecutionRecord,
    Fence,
    LeaseLost,
    NewExecution,
    OwnershipLost,
    Owner,
    StepRecord,
    StorageError,
)
from .url import pg_host_and_db, redact

NOW = "clock_timestamp()"
CONNECT_TIMEOUT_S = 10.0
MIGRATION_LOCK_KEY = 0x67656E7766  # "genwf": serialises concurrent openers migrating one database


def _epoch(col: str) -> str:
    return f"EXTRACT(EPOCH FROM {col})::float8"


def _age(col: str) -> str:
    return f"EXTRACT(EPOCH FROM ({NOW} - {col}))::float8"


_EXEC_COLS = execution_columns(_epoch, _age)
_STEP_COLS = step_columns(_epoch)
_CHUNK_COLS = chunk_columns(_epoch)


def _fence_cte(sets: str = "", returning: str = "cancel_requested") -> str:
    """``f``: the fenced owner row update. Parameters $1..$3 are execution_id, node_id, version."""
    return (
        f"f AS (UPDATE workflow_executions SET version = version + 1, updated_at = {NOW}{sets} "
        f"WHERE execution_id = $1 AND node_id = $2 AND version = $3 RETURNING {returning})"
    )


# The owner's chunk commit: fence + checkpoint + progress in one statement (one round trip),
# together or not at all. $1..$3 fence; $4 step, $5 index, $6 payload, $7 items, $8 compute_ms,
# $9 coordinate_ms, $10 incarnation, $11 attempt.
_COMMIT_CHUNK = (
    f"WITH {_fence_cte(f', current_step_id = $4, last_heartbeat = {NOW}, last_progress_at = {NOW}')}, "
    "c AS (INSERT INTO chunk_checkpoints (execution_id, step_id, chunk_index, payload, items, compute_ms, "
    "coordinate_ms, node_id, incarnation, attempt, committed_at) "
    f"SELECT $1, $4, $5::int, $6::bytea, $7::bigint, $8::float8, $9::float8, $2, $10::text, $11::int, {NOW} "
    "FROM f RETURNING 1), "
    "s AS (UPDATE step_executions SET chunks_done = chunks_done + 1, items_done = items_done + $7::bigint, "
    f"compute_ms = compute_ms + $8::float8, coordinate_ms = coordinate_ms + $9::float8, updated_at = {NOW} "
    "WHERE execution_id = $1 AND step_id = $4 AND EXISTS (SELECT 1 FROM c)) "
    "SELECT cancel_requested FROM f"
)

_RELEASE_SETS = ", status = 'PENDING', node_id = NULL, owner_incarnation = NULL, owner_pid = NULL, owner_host = NULL"


def _exec_record(row: asyncpg.Record) -> ExecutionRecord:
    r = list(row)
    r[14] = bool(r[14])
    return ExecutionRecord(*r)


def _migrations() -> list[tuple[int, str, str]]:
    from .sqlite import _migrations as read  # one reader of the packaged .sql files

    return read("postgres")


def _reason(exc: BaseException) -> str:
    """A short, password-free reason for a connection failure."""
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return "password authentication failed"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return "the database does not exist"
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return "the server refused this user (no such role, or not allowed by pg_hba.conf)"
    if isinstance(exc, asyncpg.InsufficientPrivilegeError):
        return "this user may not connect to (or create tables in) the database"
    if isinstance(exc, asyncpg.TooManyConnectionsError):
        return "the server has too many connections"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running and listening on that port?)"
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return f"no answer within {CONNECT_TIMEOUT_S:g}s"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    if isinstance(exc, asyncpg.PostgresError):
        return f"{type(exc).__name__}: {getattr(exc, 'message', '') or exc}"
    if isinstance(exc, (asyncpg.ClientConfigurationError, ValueError, TypeError)):
        return "malformed URL"
    return type(exc).__name__


class PostgresStorage(PostgresLeases, Storage):
    """A PostgreSQL database behind the storage protocol, shared by any number of nodes."""

    kind = "postgres"

    def __init__(self, dsn: str, *, read_only: bool = False, min_pool: int = 1, max_pool: int = 10):
        self.__dsn = dsn  # private: never logged, never shown, never stored
        self.read_only = read_only
        self.display_url = redact(dsn)
        self.min_pool, self.max_pool = min_pool, max_pool  # max_pool may be raised before open()
        self._pool: asyncpg.Pool | None = None
        try:
            self._where, self._db = pg_host_and_db(dsn)
        except ValueError:
            self._where, self._db = "?", "?"
        try:
            pw = urlsplit(dsn).password
        except ValueError:
            pw = None
        self.__secrets = tuple(s for s in {pw, unquote(pw)} if s) if pw else ()

    def __repr__(self) -> str:
        return f"PostgresStorage({self.display_url!r}, read_only={self.read_only})"

    # -- plumbing ------------------------------------------------------------------
    def _safe(self, text: str) -> str:
        text = redact(text)
        for secret in self.__secrets:
            text = text.replace(secret, "***")
        return text

    def _error(self, what: str, exc: BaseException | str) -> StorageError:
        reason = exc if isinstance(exc, str) else _reason(exc)
        return StorageError(self._safe(f"{what} PostgreSQL at {self._where}, database {self._db!r}: {reason}"))

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StorageError("storage is not open")
        return self._pool

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await self.pool.fetch(sql, *args)

    async def _fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        return await self.pool.fetchrow(sql, *args)

    async def _fetchval(self, sql: str, *args: Any) -> Any:
        return await self.pool.fetchval(sql, *args)

    # -- lifecycle -----------------------------------------------------------------
    async def open(self) -> None:
        if self._pool is not None:
            return
        settings = {"application_name": "genwf", "timezone": "UTC"}
        if self.read_only:
            settings["default_transaction_read_only"] = "on"
        try:
            self._pool = await asyncpg.create_pool(
                self.__dsn, min_size=self.min_pool, max_size=self.max_pool, timeout=CONNECT_TIMEOUT_S,
                command_timeout=120, server_settings=settings,
            )
        except Exception as exc:  # noqa: BLE001 - every failure becomes one safe line
            raise self._error("cannot connect to", exc) from None
        try:
            if self.read_only:
                if not await self._fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
                    raise self._error("no genwf schema in", "open it once without read-only to create it")
            else:
                await self._migrate()
        except StorageError:
            await self.close()
            raise
        except Exception as exc:  # noqa: BLE001
            await self.close()
            raise self._error("cannot set up the schema in", exc) from None

    async def _migrate(self) -> None:
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                # Concurrent openers queue here; the first applies, the others then find nothing to do.
                await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                    f"applied_at TIMESTAMPTZ NOT NULL DEFAULT {NOW})"
                )
                done = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}
                for version, name, script in _migrations():
                    if version in done:
                        continue
                    await conn.execute(script)  # no arguments: simple protocol, several statements
                    await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), timeout=10)
            except Exception:  # noqa: BLE001 - closing must not mask the real error
                pool.terminate()

    async def now(self) -> float:
        return float(await self._fetchval(f"SELECT {_epoch(NOW)}"))

    async def schema_version(self) -> int:
        return int(await self._fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))

    # -- definitions -----------------------------------------------------------------
    async def save_definition(self, definition_id: str, version: int, name: str, definition_json: str) -> None:
        await self.pool.execute(
            "INSERT INTO workflow_definitions (id, version, name, definition_json) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (id, version) DO NOTHING",
            definition_id, version, name, definition_json,
        )

    async def get_definition_json(self, definition_id: str, version: int) -> str | None:
        return await self._fetchval(
            "SELECT definition_json FROM workflow_definitions WHERE id = $1 AND version = $2", definition_id, version
        )

    # -- executions ------------------------------------------------------------------
    async def create_execution(self, new: NewExecution, owner: Owner | None) -> Fence | None:
        meta = json.dumps(new.metadata)
        try:
            async with self.pool.acquire() as conn:
                async with conn.transaction():
                    if owner is None:
                        await conn.execute(
                            "INSERT INTO workflow_executions (execution_id, definition_id, definition_version, status, "
                            "input_json, metadata_json, version, created_at, updated_at) "
                            f"VALUES ($1, $2, $3, 'PENDING', $4, $5, 0, {NOW}, {NOW})",
                            new.execution_id, new.definition_id, new.definition_version, new.input_json, meta,
                        )
                    else:
                        await conn.execute(
                            "INSERT INTO workflow_executions (execution_id, definition_id, definition_version, status, "
                            "input_json, metadata_json, version, node_id, owner_incarnation, owner_pid, owner_host, "
                            "last_heartbeat, last_progress_at, created_at, started_at, updated_at) "
                            f"VALUES ($1, $2, $3, 'RUNNING', $4, $5, 1, $6, $7, $8, $9, {NOW}, {NOW}, {NOW}, {NOW}, {NOW})",
                            new.execution_id, new.definition_id, new.definition_version, new.input_json, meta,
                            owner.node_id, owner.incarnation, owner.pid, owner.host,
                        )
                    await conn.execute(
                        "INSERT INTO step_executions (step_execution_id, execution_id, step_id, step_index, status) "
                        "SELECT $1 || ':' || s, $1, s, (i - 1)::int, 'PENDING' FROM unnest($2::text[]) WITH ORDINALITY AS t(s, i)",
                        new.execution_id, list(new.steps),
                    )
                    await conn.execute(
                        f"INSERT INTO execution_events (execution_id, at, kind, node_id, detail) VALUES ($1, {NOW}, $2, $3, $4)",
                        new.execution_id, "created" if owner is None else "started", owner.node_id if owner else None,
                        "" if owner is None else f"pid {owner.pid} on {owner.host}",
                    )
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise StorageError(f"cannot create execution {new.execution_id}: {exc}") from None
        return Fence(new.execution_id, owner.node_id, 1) if owner else None

    async def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        row = await self._fetchrow(f"SELECT {_EXEC_COLS} FROM workflow_executions WHERE execution_id = $1", execution_id)
        return _exec_record(row) if row else None

    async def resolve_execution_id(self, prefix: str) -> list[str]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = await self._fetch(
            "SELECT execution_id FROM workflow_executions WHERE execution_id ILIKE $1 ESCAPE '\\' "
            "ORDER BY execution_id LIMIT 5",
            escaped + "%",
        )
        return [r[0] for r in rows]

    async def list_executions(self, *, limit: int = 100, statuses: Sequence[str] | None = None,
                              changed_since: float | None = None, search: str | None = None) -> list[ExecutionRecord]:
        where: list[str] = []
        params: list[Any] = []

        def p(value: Any) -> str:
            params.append(value)
            return f"${len(params)}"

        if statuses:
            where.append(f"status = ANY({p(list(statuses))}::text[])")
        if changed_since is not None:
            where.append(f"updated_at >= to_timestamp({p(float(changed_since))}::float8)")
        if search:
            pat = p(f"%{search}%")
            where.append(f"(execution_id ILIKE {pat} OR node_id ILIKE {pat} OR status ILIKE {pat})")
        sql = f"SELECT {_EXEC_COLS} FROM workflow_executions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY created_at DESC, execution_id DESC LIMIT {p(int(limit))}"
        return [_exec_record(r) for r in await self._fetch(sql, *params)]

    async def count_by_status(self) -> dict[str, int]:
        rows = await self._fetch("SELECT status, count(*) FROM workflow_executions GROUP BY status")
        return {s: int(n) for s, n in rows}

    async def max_updated_at(self) -> float | None:
        return await self._fetchval(f"SELECT {_epoch('MAX(updated_at)')} FROM workflow_executions")

    async def get_steps(self, execution_id: str) -> list[StepRecord]:
        rows = await self._fetch(
            f"SELECT {_STEP_COLS} FROM step_executions WHERE execution_id = $1 ORDER BY step_index", execution_id
        )
        return [StepRecord(*r) for r in rows]

    async def get_chunks(self, execution_id: str, step_id: str | None = None) -> list[ChunkRecord]:
        sql = f"SELECT {_CHUNK_COLS} FROM chunk_checkpoints WHERE execution_id = $1"
        params: list[Any] = [execution_id]
        if step_id is not None:
            sql += " AND step_id = $2"
            params.append(step_id)
        sql += " ORDER BY committed_at, step_id, chunk_index"
        return [ChunkRecord(*r) for r in await self._fetch(sql, *params)]

    async def get_chunk_payloads(self, execution_id: str, step_id: str,
                                 indexes: Sequence[int] | None = None) -> dict[int, bytes]:
        sql = "SELECT chunk_index, payload FROM chunk_checkpoints WHERE execution_id = $1 AND step_id = $2"
        params: list[Any] = [execution_id, step_id]
        if indexes is not None:
            sql += " AND chunk_index = ANY($3::int[])"
            params.append([int(i) for i in indexes])
        return {i: bytes(pl) for i, pl in await self._fetch(sql, *params)}

    async def get_events(self, execution_id: str) -> list[EventRecord]:
        rows = await self._fetch(
            f"SELECT id, execution_id, {_epoch('at')}, kind, node_id, detail FROM execution_events "
            "WHERE execution_id = $1 ORDER BY id", execution_id
        )
        return [EventRecord(*r) for r in rows]

    # -- claims ---------------------------------------------------------------------
    _CLAIM_SETS = (
        "status = 'RUNNING', version = version + 1, node_id = $3, owner_incarnation = $4, owner_pid = $5::int, "
        f"owner_host = $6, last_heartbeat = {NOW}, last_progress_at = {NOW}, updated_at = {NOW}, "
        f"started_at = COALESCE(started_at, {NOW})"
    )

    async def claim(self, execution_id: str, expected_version: int, owner: Owner, *, event: str, recovery: bool,
                    detail: str = "") -> Fence | None:
        version = await self._fetchval(
            # o: the previous owner, as of the version we expect; its chunk leases go with the run.
            "WITH o AS (SELECT owner_incarnation FROM workflow_executions WHERE execution_id = $1 AND version = $2), "
            f"u AS (UPDATE workflow_executions SET {self._CLAIM_SETS}, recovery_count = recovery_count + $7::int "
            "WHERE execution_id = $1 AND version = $2 AND status IN ('PENDING', 'RUNNING') RETURNING execution_id, version), "
            "e AS (INSERT INTO execution_events (execution_id, at, kind, node_id, detail) "
            f"SELECT execution_id, {NOW}, $8::text, $3, $9::text FROM u), "
            "d AS (DELETE FROM chunk_leases WHERE execution_id = $1 AND incarnation = (SELECT owner_incarnation FROM o) "
            "AND EXISTS (SELECT 1 FROM u)) "
            "SELECT version FROM u",
            execution_id, expected_version, owner.node_id, owner.incarnation, owner.pid, owner.host,
            1 if recovery else 0, event, detail,
        )
        return Fence(execution_id, owner.node_id, int(version)) if version is not None else None

    async def claim_next_pending(self, owner: Owner, definition_id: str, definition_version: int, *,
                                 event: str = "claimed", detail: str = "") -> Fence | None:
        """Take the oldest PENDING run of this workflow, skipping rows other claimers hold
        (``FOR UPDATE SKIP LOCKED``): N workers take N different runs without colliding.
        PostgreSQL only (not part of the protocol); elsewhere use list + :meth:`claim`."""
        row = await self._fetchrow(
            f"WITH u AS (UPDATE workflow_executions SET {self._CLAIM_SETS} WHERE execution_id = ("
            "  SELECT execution_id FROM workflow_executions WHERE status = 'PENDING' AND definition_id = $1 "
            "  AND definition_version = $2 ORDER BY created_at, execution_id LIMIT 1 FOR UPDATE SKIP LOCKED) "
            "AND status = 'PENDING' RETURNING execution_id, version), "
            "e AS (INSERT INTO execution_events (execution_id, at, kind, node_id, detail) "
            f"SELECT execution_id, {NOW}, $7::text, $3, $8::text FROM u) "
            "SELECT execution_id, version FROM u",
            definition_id, definition_version, owner.node_id, owner.incarnation, owner.pid, owner.host, event, detail,
        )
        return Fence(row[0], owner.node_id, int(row[1])) if row else None

    async def fail_unowned(self, execution_id: str, expected_version: int, error: str) -> bool:
        row = await self._fetchrow(
            f"WITH u AS (UPDATE workflow_executions SET status = 'FAILED', error = $3, version = version + 1, "
            f"completed_at = {NOW}, updated_at = {NOW} WHERE execution_id = $1 AND version = $2 "
            "AND status IN ('PENDING', 'RUNNING') RETURNING execution_id), "
            "e AS (INSERT INTO execution_events (execution_id, at, kind, node_id, detail) "
            f"SELECT execution_id, {NOW}, 'failed', NULL, $3 FROM u) "
            "SELECT 1 FROM u",
            execution_id, expected_version, error,
        )
        return row is not None

    async def request_cancel(self, execution_id: str) -> str | None:
        return await self._fetchval(
            "WITH u AS (UPDATE workflow_executions SET "
            "status = CASE status WHEN 'PENDING' THEN 'CANCELLED' ELSE status END, "
            f"completed_at = CASE status WHEN 'PENDING' THEN {NOW} ELSE completed_at END, "
            "version = CASE status WHEN 'PENDING' THEN version + 1 ELSE version END, "
            f"cancel_requested = TRUE, updated_at = {NOW} "
            "WHERE execution_id = $1 AND status IN ('PENDING', 'RUNNING') RETURNING execution_id, status), "
            "e AS (INSERT INTO execution_events (execution_id, at, kind, node_id, detail) "
            f"SELECT execution_id, {NOW}, 'cancel_requested', NULL, '' FROM u) "
            "SELECT status FROM u",
            execution_id,
        )

    async def append_event(self, execution_id: str, kind: str, node_id: str | None, detail: str = "") -> None:
        await self.pool.execute(
            f"INSERT INTO execution_events (execution_id, at, kind, node_id, detail) VALUES ($1, {NOW}, $2, $3, $4)",
            execution_id, kind, node_id, detail,
        )

    # -- fenced writes -----------------------------------------------------------------
    async def _fenced(self, fence: Fence, sql: str, *args: Any) -> Any:
        """Run one statement whose ``f`` CTE is the fence; its result row is ``f``'s (no row: lost)."""
        row = await self._fetchrow(sql, fence.execution_id, fence.node_id, fence.version, *args)
        if row is None:
            raise OwnershipLost(fence.execution_id)
        fence.version += 1
        return row[0]

    async def heartbeat(self, fence: Fence) -> bool:
        return bool(await self._fenced(
            fence, f"WITH {_fence_cte(f', last_heartbeat = {NOW}')} SELECT cancel_requested FROM f"))

    async def start_step(self, fence: Fence, step_id: str, chunks_total: int, attempt: int) -> None:
        await self._fenced(
            fence,
            f"WITH {_fence_cte(f', current_step_id = $4, last_heartbeat = {NOW}', 'execution_id')}, "
            "s AS (UPDATE step_executions SET status = 'RUNNING', chunks_total = $5::int, "
            f"attempt = GREATEST(attempt, $6::int), started_at = COALESCE(started_at, {NOW}), updated_at = {NOW} "
            "WHERE execution_id = $1 AND step_id = $4 AND EXISTS (SELECT 1 FROM f)) "
            "SELECT 1 FROM f",
            step_id, chunks_total, attempt,
        )

    async def commit_chunk(self, fence: Fence, chunk: ChunkWrite, lease: ChunkLease | None = None) -> bool:
        if lease is not None:
            return await self._commit_leased_owned(fence, chunk, lease)
        # One statement, one round trip: fence + checkpoint + progress commit together or not at all.
        return bool(await self._fenced(
            fence,
            _COMMIT_CHUNK,
            chunk.step_id, chunk.chunk_index, chunk.payload, chunk.items, chunk.compute_ms, chunk.coordinate_ms,
            chunk.incarnation, chunk.attempt,
        ))

    async def _commit_leased_owned(self, fence: Fence, chunk: ChunkWrite, lease: ChunkLease) -> bool:
        """The owner's commit of a leased chunk: lease drop + the fenced commit, one transaction."""
        async with self.pool.acquire() as conn:
            async with conn.transaction():  # an exception rolls everything back
                fenced = (fence.execution_id, fence.node_id, fence.version)
                if await conn.fetchval(DROP_LEASE, lease.execution_id, lease.step_id, lease.chunk_index,
                                       lease.token) is None:
                    alive = await conn.fetchval("SELECT 1 FROM workflow_executions WHERE execution_id = $1 "
                                                "AND node_id = $2 AND version = $3", *fenced)
                    raise (LeaseLost if alive else OwnershipLost)(fence.execution_id)
                row = await conn.fetchrow(
                    _COMMIT_CHUNK, *fenced, chunk.step_id, chunk.chunk_index, chunk.payload, chunk.items,
                    chunk.compute_ms, chunk.coordinate_ms, chunk.incarnation, chunk.attempt)
                if row is None:
                    raise OwnershipLost(fence.execution_id)
        fence.version += 1
        return bool(row[0])

    async def record_attempt(self, fence: Fence, step_id: str, attempt: int, error: str) -> None:
        await self._fenced(
            fence,
            f"WITH {_fence_cte(f', last_heartbeat = {NOW}', 'execution_id')}, "
            f"s AS (UPDATE step_executions SET attempt = GREATEST(attempt, $5::int), error = $6, updated_at = {NOW} "
            "WHERE execution_id = $1 AND step_id = $4 AND EXISTS (SELECT 1 FROM f)) "
            "SELECT 1 FROM f",
            step_id, attempt, error,
        )

    async def finish_step(self, fence: Fence, step_id: str, status: str, coordinate_ms: float,
                          error: str | None = None, metadata_json: str | None = None) -> None:
        await self._fenced(
            fence,
            f"WITH {_fence_cte(f', last_heartbeat = {NOW}, last_progress_at = {NOW}', 'execution_id')}, "
            "s AS (UPDATE step_executions SET status = $5, coordinate_ms = coordinate_ms + $6::float8, error = COALESCE($7, error), "
            f"metadata_json = COALESCE($8, metadata_json), completed_at = {NOW}, updated_at = {NOW} "
            "WHERE execution_id = $1 AND step_id = $4 AND EXISTS (SELECT 1 FROM f)) "
            "SELECT 1 FROM f",
            step_id, status, coordinate_ms, error, metadata_json,
        )

    async def finish_execution(self, fence: Fence, status: str, output_json: str | None = None,
                               error: str | None = None) -> None:
        await self._fenced(
            fence,
            f"WITH {_fence_cte(f', status = $4, output_json = $5, error = $6, completed_at = {NOW}, current_step_id = NULL', 'execution_id')}, "
            "e AS (INSERT INTO execution_events (execution_id, at, kind, node_id, detail) "
            f"SELECT execution_id, {NOW}, lower($4), $2, COALESCE($6, '') FROM f) "
            "SELECT 1 FROM f",
            status, output_json, error,
        )

    async def release(self, fence: Fence, reason: str) -> None:
        await self._fenced(
            fence,
            # o: this owner's incarnation (read before f clears it); its chunk leases go with the run.
            "WITH o AS (SELECT owner_incarnation FROM workflow_executions WHERE execution_id = $1 AND node_id = $2 "
            f"AND version = $3), {_fence_cte(_RELEASE_SETS, 'execution_id')}, "
            "e AS (INSERT INTO execution_events (execution_id, at, kind, node_id, detail) "
            f"SELECT execution_id, {NOW}, 'released', $2, $4::text FROM f), "
            "d AS (DELETE FROM chunk_leases WHERE execution_id = $1 AND incarnation = (SELECT owner_incarnation FROM o) "
            "AND EXISTS (SELECT 1 FROM f)) "
            "SELECT 1 FROM f",
            reason,
        )
