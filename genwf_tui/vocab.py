"""The project's shared words: run statuses and short ids. Imports nothing of ours, so every
layer (storage, engine, fronts) may use it."""

from __future__ import annotations

from enum import StrEnum

SHORT_ID_LEN = 8


class Status(StrEnum):
    """Stored execution/step statuses (DESIGN: Statuses). A StrEnum, so it compares equal
    to the strings stored in the database."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"


STATUSES: tuple[str, ...] = tuple(s.value for s in Status)
TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.TIMED_OUT})
# Derived, never stored: a RUNNING run nobody is driving (DESIGN: Statuses).
INTERRUPTED = "INTERRUPTED"


def short_id(execution_id: str) -> str:
    """The id as shown to people: its first eight characters."""
    return execution_id[:SHORT_ID_LEN]
