"""Who this process is: its incarnation id and the executions it is running right now.

Each run gets its own incarnation (``<process>-<n>``), so a dashboard running several runs
in threads, or a restarted node reusing its node id, never mistakes a dead run for a live one.
"""

from __future__ import annotations

import itertools
import os
import threading
import uuid

from ..storage.records import Owner
from .liveness import HOST

PROCESS_INCARNATION = uuid.uuid4().hex[:12]
_counter = itertools.count(1)
_lock = threading.Lock()
_live: set[str] = set()


def new_owner(node_id: str) -> Owner:
    """A fresh owner identity for one run started by this process."""
    return Owner(node_id=node_id, incarnation=f"{PROCESS_INCARNATION}-{next(_counter)}", pid=os.getpid(), host=HOST)


def mark_live(incarnation: str) -> None:
    with _lock:
        _live.add(incarnation)


def mark_gone(incarnation: str) -> None:
    with _lock:
        _live.discard(incarnation)


def live_incarnations() -> frozenset[str]:
    with _lock:
        return frozenset(_live)
