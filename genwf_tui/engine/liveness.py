"""Is a RUNNING execution interrupted? One judgement shared by recovery, CLI and dashboard."""

from __future__ import annotations

import os
import socket
from typing import Collection

from ..storage.records import ExecutionRecord

HOST = socket.gethostname()


def pid_alive(pid: int | None) -> bool:
    """True if a process with ``pid`` exists here and is not a zombie."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def interrupted_reason(
    rec: ExecutionRecord,
    *,
    stale_threshold_secs: float,
    progress_timeout_secs: float | None = None,
    host: str = HOST,
    my_pid: int | None = None,
    live_incarnations: Collection[str] | None = None,
    dead_incarnations: Collection[str] = (),
) -> str | None:
    """Why ``rec`` counts as interrupted, or None if it is not (or is not RUNNING).

    Interrupted: the owner stopped it knowingly (``dead_incarnations``), its owner process
    is gone from this host, it is owned by this very process under an incarnation that no
    longer runs, or its heartbeat/progress is older than the thresholds (database clock).
    """
    if rec.status != "RUNNING":
        return None
    if rec.owner_incarnation and rec.owner_incarnation in dead_incarnations:
        return "killed from this process"
    my_pid = os.getpid() if my_pid is None else my_pid
    if live_incarnations is None:
        from .owner import live_incarnations as current

        live_incarnations = current()
    if rec.owner_host == host and rec.owner_pid:
        if rec.owner_pid == my_pid:
            if rec.owner_incarnation not in live_incarnations:
                return "its run in this process is gone"
        elif not pid_alive(rec.owner_pid):
            return f"owner process {rec.owner_pid} is gone"
    if rec.heartbeat_age is None or rec.heartbeat_age > stale_threshold_secs:
        age = "never" if rec.heartbeat_age is None else f"{rec.heartbeat_age:.0f}s ago"
        return f"last heartbeat {age} (threshold {stale_threshold_secs:g}s)"
    if progress_timeout_secs is not None and rec.progress_age is not None and rec.progress_age > progress_timeout_secs:
        return f"no progress for {rec.progress_age:.0f}s (timeout {progress_timeout_secs:g}s)"
    return None
