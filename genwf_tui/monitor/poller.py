"""The dashboard's one reader: a dedicated thread with its own event loop and read-only storage.

Each poll (never two at once: one loop, one thread) asks the database only for what changed
since the ``updated_at`` watermark (with a small overlap, so a transaction that committed
late with an earlier timestamp is not missed), merges it into a bounded window of
``dashboard.max_rows`` rows matching the filter, re-judges liveness of RUNNING rows (the
engine's :func:`interrupted_reason`, plus incarnations the dashboard itself killed), reads the
detail of the selected run when it changed, and hands one immutable :class:`Snapshot` to
``on_snapshot``. A poll that fails, times out or finds the file gone yields a snapshot with
``ok=False`` and the last known data; the poller reconnects and goes on. It never raises.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import sqlite3
import threading
import time
from typing import Callable, Collection

from ..config import Config
from ..engine.liveness import interrupted_reason
from ..storage import Storage, StorageError, make_storage, parse_storage_url
from ..storage.records import ExecutionRecord
from .snapshot import (
    FilterSpec,
    RunDetail,
    RunRow,
    Snapshot,
    StepView,
    build_row,
    chunk_points,
    event_views,
    merge_window,
    parse_filter,
    results_summary,
    step_view,
)

log = logging.getLogger(__name__)

OVERLAP_SECS = 2.0  # re-read rows changed this long before the watermark
FULL_RESYNC_SECS = 30.0  # a full window read now and then heals anything a delta missed
COUNTS_EVERY_SECS = 1.0  # counts by status: after a change, at most this often
READ_BUSY_TIMEOUT_MS = 250  # a locked database answers "busy" quickly instead of after 60 s


class DatabaseUnavailable(Exception):
    """The database cannot be read right now (gone, locked, not answering)."""


def describe_error(exc: BaseException) -> str:
    """One short line for the status bar."""
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "database not answering (poll timed out)"
    if isinstance(exc, sqlite3.OperationalError):
        msg = str(exc)
        if "locked" in msg or "busy" in msg:
            return "database is locked by another connection"
        return f"database error: {msg}"
    if isinstance(exc, (DatabaseUnavailable, StorageError)):
        return str(exc)
    return f"database not answering: {type(exc).__name__}: {exc}"


def _transient(exc: BaseException) -> bool:
    """Locked or slow: keep the connection (it answers again once the lock is gone)."""
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return True
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


class Poller:
    """Polls ``url`` every ``dashboard.poll_interval_secs`` on its own thread; see module doc."""

    def __init__(
        self,
        url: str,
        cfg: Config,
        on_snapshot: Callable[[Snapshot], None],
        *,
        dead_incarnations: Callable[[], Collection[str]] = frozenset,
        interval: float | None = None,
        timeout: float | None = None,
    ):
        self.url = url
        self.cfg = cfg
        self.on_snapshot = on_snapshot
        self.dead_incarnations = dead_incarnations
        self.interval = interval if interval is not None else cfg.dashboard.poll_interval_secs
        self.timeout = timeout if timeout is not None else max(2.0, 4 * self.interval)
        self.limit = cfg.dashboard.max_rows
        parsed = parse_storage_url(url)
        self._sqlite_path = parsed.target if parsed.kind == "sqlite" else None
        self._lock = threading.Lock()
        self._spec = FilterSpec()
        self._selected: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        # poll state (touched by the poller thread only)
        self._storage: Storage | None = None
        self._file_id: tuple[int, int] | None = None
        self._recs: dict[str, tuple[ExecutionRecord, float]] = {}  # id -> (record, monotonic read time)
        self._steps: dict[str, tuple[StepView, ...]] = {}
        self._window: dict[str, RunRow] = {}
        self._watermark: float | None = None
        self._last_full = 0.0
        self._need_full = True
        self._counts: tuple[tuple[str, int], ...] = ()
        self._counts_at = 0.0
        self._counts_dirty = True
        self._detail: RunDetail | None = None
        self._detail_key: tuple | None = None
        self._defs: dict[tuple[str, int], dict[str, tuple[str, str]]] = {}
        self._seq = 0
        self._last_ok_at = 0.0
        self._applied_spec = FilterSpec()
        self.last: Snapshot | None = None
        self.polls = 0

    # -- control (any thread) ---------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._thread_main, name="genwf-dashboard-poller", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        self.poke()
        if self._thread is not None:
            self._thread.join(timeout)

    def poke(self) -> None:
        """Poll now (e.g. after an action) instead of at the next tick."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # loop already closed
                pass

    def set_filter(self, text: str) -> FilterSpec:
        spec = parse_filter(text)
        with self._lock:
            self._spec = spec
        self.poke()
        return spec

    def set_selected(self, execution_id: str | None) -> None:
        with self._lock:
            changed = self._selected != execution_id
            self._selected = execution_id
        if changed:
            self.poke()

    # -- the thread ---------------------------------------------------------------------------
    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException:  # never let the thread die silently
            log.exception("dashboard poller stopped")

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        try:
            while not self._stop.is_set():
                self._wake.clear()
                snap = await self.poll_once()
                try:
                    self.on_snapshot(snap)
                except Exception:  # the receiver's problem must not stop the polls
                    log.exception("snapshot receiver failed")
                if self._stop.is_set():
                    break
                try:
                    await asyncio.wait_for(self._wake.wait(), self.interval)
                except asyncio.TimeoutError:
                    pass
        finally:
            await self._disconnect()

    async def poll_once(self) -> Snapshot:
        """One poll; public so tests and benchmarks can drive it on their own loop."""
        t0 = time.perf_counter()
        self.polls += 1
        with self._lock:
            spec, selected = self._spec, self._selected
        try:
            await self._ensure_connected()
            snap = await asyncio.wait_for(self._poll(spec, selected), self.timeout)
        except Exception as exc:
            if not _transient(exc):
                await self._disconnect()
            self._seq += 1
            prev = self.last
            self.last = Snapshot(
                seq=self._seq, taken_at=self._last_ok_at, ok=False,
                rows=prev.rows if prev else (), counts=prev.counts if prev else (),
                detail=prev.detail if prev else None, selected=selected, error=describe_error(exc),
                filter_text=spec.text, poll_ms=(time.perf_counter() - t0) * 1000.0,
            )
            return self.last
        self.last = dataclasses.replace(snap, poll_ms=(time.perf_counter() - t0) * 1000.0)
        return self.last

    async def close(self) -> None:
        await self._disconnect()

    # -- connection --------------------------------------------------------------------------
    def _stat(self) -> tuple[int, int] | None:
        if self._sqlite_path is None:
            return None
        try:
            st = os.stat(self._sqlite_path)
        except FileNotFoundError:
            raise DatabaseUnavailable(f"database file {self._sqlite_path} is gone") from None
        return (st.st_dev, st.st_ino)

    async def _ensure_connected(self) -> None:
        file_id = self._stat()
        if self._storage is not None and file_id != self._file_id:
            await self._disconnect()  # the file was replaced: read the new one
        if self._storage is None:
            storage = make_storage(self.url, read_only=True, busy_timeout_secs=READ_BUSY_TIMEOUT_MS / 1000.0)
            try:
                await asyncio.wait_for(storage.open(), self.timeout)
            except BaseException:
                await self._close_quietly(storage)
                raise
            self._storage, self._file_id = storage, file_id
            self._need_full = True
            self._detail_key = None

    async def _disconnect(self) -> None:
        storage, self._storage = self._storage, None
        if storage is not None:
            await self._close_quietly(storage)

    @staticmethod
    async def _close_quietly(storage: Storage) -> None:
        try:
            await asyncio.wait_for(storage.close(), 2.0)
        except BaseException:
            pass

    # -- one poll -----------------------------------------------------------------------------
    async def _poll(self, spec: FilterSpec, selected: str | None) -> Snapshot:
        storage = self._storage
        assert storage is not None
        mono = time.monotonic()
        if spec != self._applied_spec:
            self._need_full = True
        watermark = await storage.max_updated_at()
        full = self._need_full or self._watermark is None or mono - self._last_full > FULL_RESYNC_SECS
        upserts: list[RunRow] = []
        removals: list[str] = []
        changed_any = False
        if full:
            recs = await storage.list_executions(limit=self.limit, statuses=spec.storage_statuses(), search=spec.search)
            await self._absorb(storage, recs, mono)
            rows = [self._row(r.execution_id, mono) for r in recs]
            window = {r.execution_id: r for r in rows if spec.matches(r)}
            self._last_full = mono
            self._need_full = False
            self._applied_spec = spec
            changed_any = True
        else:
            since = (self._watermark or 0.0) - OVERLAP_SECS
            recs = await storage.list_executions(limit=self.limit, changed_since=since)
            if len(recs) >= self.limit:  # too many changes for a delta: read the window again
                self._need_full = True
                return await self._poll(spec, selected)
            fresh = await self._absorb(storage, recs, mono)
            changed_any = bool(fresh)
            for rec in recs:
                row = self._row(rec.execution_id, mono)
                if spec.matches(row):
                    upserts.append(row)
                else:
                    removals.append(rec.execution_id)
            was_full = len(self._window) >= self.limit
            # liveness changes with time alone: re-judge every RUNNING row already shown
            window = {k: (self._row(k, mono) if v.stored_status == "RUNNING" else v) for k, v in self._window.items()}
            window = {k: v for k, v in window.items() if spec.matches(v)}
            window = merge_window(window, upserts, removals, self.limit)
            if was_full and len(window) < self.limit:
                self._need_full = True  # rows left the window: older ones may move in
        if watermark is not None:
            self._watermark = watermark if self._watermark is None else max(self._watermark, watermark)
        self._window = window
        self._counts_dirty = self._counts_dirty or changed_any
        if full or (self._counts_dirty and mono - self._counts_at >= COUNTS_EVERY_SECS) \
                or mono - self._counts_at > 10 * COUNTS_EVERY_SECS:
            counts = await storage.count_by_status()
            self._counts = tuple(sorted(counts.items()))
            self._counts_at = mono
            self._counts_dirty = False
        detail = await self._read_detail(storage, selected, mono)
        self._prune(selected)
        self._seq += 1
        self._last_ok_at = time.time()
        rows = tuple(sorted(window.values(), key=lambda r: (r.created_at, r.execution_id), reverse=True))
        return Snapshot(seq=self._seq, taken_at=self._last_ok_at, ok=True, rows=rows, counts=self._counts,
                        detail=detail, selected=selected, filter_text=spec.text,
                        window_full=len(rows) >= self.limit)

    async def _absorb(self, storage: Storage, recs: list[ExecutionRecord], mono: float) -> list[str]:
        """Cache records; read steps of those that changed. Returns the ids that changed."""
        fresh = []
        for rec in recs:
            old = self._recs.get(rec.execution_id)
            if old is None or (old[0].version, old[0].updated_at, old[0].status) != (rec.version, rec.updated_at, rec.status) \
                    or rec.execution_id not in self._steps:
                labels = await self._labels(storage, rec)
                steps = await storage.get_steps(rec.execution_id)
                self._steps[rec.execution_id] = tuple(
                    step_view(s, *labels.get(s.step_id, (s.step_id, "reads"))) for s in steps)
                fresh.append(rec.execution_id)
            self._recs[rec.execution_id] = (rec, mono)
        return fresh

    async def _labels(self, storage: Storage, rec: ExecutionRecord) -> dict[str, tuple[str, str]]:
        key = (rec.definition_id, rec.definition_version)
        if key not in self._defs:
            labels: dict[str, tuple[str, str]] = {}
            try:
                text = await storage.get_definition_json(*key)
                for s in json.loads(text or "{}").get("steps", []):
                    labels[s["id"]] = (s.get("name") or s["id"], s.get("unit") or "reads")
            except (ValueError, KeyError, TypeError):
                pass
            self._defs[key] = labels
        return self._defs[key]

    def _row(self, execution_id: str, mono: float) -> RunRow:
        rec, read_at = self._recs[execution_id]
        why = None
        if rec.status == "RUNNING":
            aged = rec
            elapsed = mono - read_at
            if elapsed > 0:
                aged = dataclasses.replace(
                    rec,
                    heartbeat_age=None if rec.heartbeat_age is None else rec.heartbeat_age + elapsed,
                    progress_age=None if rec.progress_age is None else rec.progress_age + elapsed,
                )
            why = interrupted_reason(aged, stale_threshold_secs=self.cfg.recovery.stale_threshold_secs,
                                     progress_timeout_secs=self.cfg.recovery.progress_timeout_secs,
                                     dead_incarnations=self.dead_incarnations())
        return build_row(rec, self._steps.get(execution_id, ()), why, time.time())

    async def _read_detail(self, storage: Storage, selected: str | None, mono: float) -> RunDetail | None:
        if selected is None:
            self._detail, self._detail_key = None, None
            return None
        rec = await storage.get_execution(selected)
        if rec is None:
            self._detail, self._detail_key = None, None
            return None
        key = (selected, rec.version, rec.updated_at, rec.status)
        self._recs[selected] = (rec, mono)
        if key != self._detail_key or self._detail is None or selected not in self._steps:
            labels = await self._labels(storage, rec)
            steps = await storage.get_steps(selected)
            views = tuple(step_view(s, *labels.get(s.step_id, (s.step_id, "reads"))) for s in steps)
            self._steps[selected] = views
            units = {k: v[1] for k, v in labels.items()}
            chunks = chunk_points(await storage.get_chunks(selected), units)
            events = event_views(await storage.get_events(selected))
            inp = rec.input
            summary = (f"{inp.get('reads', 0):,} reads · chunk {inp.get('chunk_size', 0):,} · "
                       f"seed {inp.get('seed', '-')} · {inp.get('source', '?')}")
            row = self._row(selected, mono)
            self._detail = RunDetail(row, views, chunks, events, summary, results_summary(rec.output),
                                     rec.started_at, rec.completed_at)
            self._detail_key = key
        else:
            self._detail = dataclasses.replace(self._detail, row=self._row(selected, mono))
        if selected in self._window:
            self._window[selected] = self._detail.row
        return self._detail

    def _prune(self, selected: str | None) -> None:
        keep = set(self._window)
        if selected:
            keep.add(selected)
        for cache in (self._recs, self._steps):
            for k in [k for k in cache if k not in keep]:
                del cache[k]
