"""Messages that carry facts from the dashboard's threads to the UI (immutable payloads only)."""

from __future__ import annotations

from textual.message import Message

from ..monitor.runs import RunEvent
from ..monitor.snapshot import Snapshot


class SnapshotReady(Message):
    """The poller read the database (or failed to): the whole view, as one immutable value."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class RunEventPosted(Message):
    """A fact about one of the dashboard's runs (started, completed, killed, an error...)."""

    def __init__(self, event: RunEvent) -> None:
        super().__init__()
        self.event = event
