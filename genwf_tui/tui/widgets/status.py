"""The counts-by-status header and the freshness line ("updated Ns ago", warnings)."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

from ...monitor.snapshot import Snapshot
from ...storage.records import STATUSES
from .theme import status_style, theme_color


class CountsBar(Static):
    """Counts by status over the whole database, with the interrupted ones in view."""

    def show(self, snapshot: Snapshot, title: str) -> None:
        counts = snapshot.counts_map
        interrupted = sum(1 for r in snapshot.rows if r.interrupted)
        t = Text()
        t.append(f"{title}  ", style="bold")
        total = sum(counts.values())
        t.append(f"{total:,} runs", style="bold")
        for status in STATUSES:
            n = counts.get(status, 0)
            if not n and status not in ("RUNNING", "COMPLETED"):
                continue
            t.append("  ")
            t.append(f"{status.lower().replace('_', ' ')} {n:,}", style=status_style(self.app, status))
            if status == "RUNNING" and interrupted:
                t.append(" (")
                t.append(f"{interrupted} interrupted", style=status_style(self.app, "INTERRUPTED"))
                t.append(")")
        if t != getattr(self, "_last", None):
            self._last = t
            self.update(t, layout=False)


class StatusLine(Static):
    """"updated 1s ago · 200 rows · filter · sort" — a warning when the database stops answering."""

    def __init__(self, stale_after: float, **kwargs) -> None:
        super().__init__("connecting…", **kwargs)
        self.stale_after = stale_after
        self.snapshot: Snapshot | None = None
        self.sort_text = ""

    def show(self, snapshot: Snapshot | None = None, now: float | None = None) -> None:
        if snapshot is not None:
            self.snapshot = snapshot
        snap = self.snapshot
        now = time.time() if now is None else now
        t = Text()
        if snap is None:
            t.append("connecting to the database…")
            self.set_class(False, "-stale")
            self.update(t, layout=False)
            return
        age = now - snap.taken_at if snap.taken_at else None
        stale = (not snap.ok) or (age is not None and age > self.stale_after)
        self.set_class(stale, "-stale")
        if age is None:
            t.append("never updated", style="bold")
        else:
            t.append(f"updated {age:.0f}s ago", style="bold")
        if stale:
            t.append("  ⚠ " + (snap.error or "database not answering"),
                     style=f"bold {theme_color(self.app, 'warning', 'yellow')}")
        t.append(f"  · {len(snap.rows)} rows" + (" (window full)" if snap.window_full else ""))
        if snap.filter_text:
            t.append(f"  · filter: {snap.filter_text}")
        if self.sort_text:
            t.append(f"  · sort: {self.sort_text}")
        t.append(f"  · poll {snap.poll_ms:.0f} ms")
        if t != getattr(self, "_last", None):
            self._last = t
            self.update(t, layout=False)
