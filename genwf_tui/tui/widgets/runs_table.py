"""The runs table: updated in place by row key, selection kept through updates, sorts and filters."""

from __future__ import annotations

import time
from typing import Mapping, Sequence

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from ...monitor.snapshot import (
    RunRow,
    diff_rows,
    fmt_age,
    fmt_progress,
    fmt_rate,
    fmt_ratio,
    sort_rows,
)
from ...pipeline import STEP_LABELS
from .theme import status_style

# (key, label) of each column; the key is also the sort key in monitor.snapshot.SORT_KEYS
COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "ID"), ("status", "Status"), ("node", "Node"), ("reads", "Reads"), ("progress", "Chunks"),
    ("step", "Step"), ("ratio", "Ratio"), ("throughput", "Reads/s"), ("age", "Age"),
)
SORT_NAMES = dict(COLUMNS)
# Cells that change width as a run goes on (RUNNING -> INTERRUPTED, COMPLETED; the step name)
# get the width of their longest value up front, so nothing is cut and columns never jump.
WIDTHS = {"status": len("INTERRUPTED"), "step": len("Variant calling"), "node": 18}


class IdText(Text):
    """The ID cell: shows the short id, knows the full one (rows sort by it)."""

    def __init__(self, execution_id: str) -> None:
        super().__init__(execution_id[:8])
        self.execution_id = execution_id


class RunsTable(DataTable):
    """Every execution in the window. The selection follows the run, not the line."""

    class SelectionChanged(Message):
        def __init__(self, execution_id: str | None) -> None:
            super().__init__()
            self.execution_id = execution_id

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.rows_by_id: dict[str, RunRow] = {}
        self.selected_id: str | None = None
        self._wanted: str | None = None  # the run the user chose: re-selected when a filter brings it back
        self._fallback: str | None = None  # selected by us while the wanted one is out of view
        self.sort_column = "age"
        self.sort_reverse = True
        self._order: list[str] = []

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key, width=WIDTHS.get(key))

    # -- cells ---------------------------------------------------------------------------
    def cells(self, row: RunRow, now: float) -> list:
        step = STEP_LABELS.get(row.current_step or "", row.current_step or "-")
        return [
            IdText(row.execution_id),
            Text(row.status, style=status_style(self.app, row.status)),
            (row.node_id or "-")[:18],
            Text(f"{row.reads:,}" if row.reads else "-", justify="right"),
            Text(fmt_progress(row), justify="right"),
            step if row.stored_status == "RUNNING" else "-",
            Text(fmt_ratio(row.ratio), justify="right"),
            Text(fmt_rate(row.throughput), justify="right"),
            Text(fmt_age(now - row.created_at), justify="right"),
        ]

    # -- updates -------------------------------------------------------------------------
    def apply_rows(self, rows: Sequence[RunRow], now: float | None = None) -> None:
        """Bring the table to ``rows`` (in place: add, update changed cells, remove), keep the
        selected run selected, keep the sort."""
        now = time.time() if now is None else now
        diff = diff_rows(self.rows_by_id, rows)
        if diff.empty and [r.execution_id for r in sort_rows(rows, self.sort_column, self.sort_reverse)] == self._order:
            return
        with self.app.batch_update():
            for key in diff.removed:
                self.remove_row(key)
                self.rows_by_id.pop(key, None)
            for row in diff.changed:
                old = self.rows_by_id[row.execution_id]
                new_cells, old_cells = self.cells(row, now), self.cells(old, now)
                for (col, _), new, prev in zip(COLUMNS, new_cells, old_cells):
                    if col == "age" or str(new) != str(prev) or getattr(new, "style", None) != getattr(prev, "style", None):
                        self.update_cell(row.execution_id, col, new)
                self.rows_by_id[row.execution_id] = row
            for row in diff.added:
                self.add_row(*self.cells(row, now), key=row.execution_id)
                self.rows_by_id[row.execution_id] = row
            self._resort()

    def tick(self, now: float | None = None) -> None:
        """Refresh the ages (once a second)."""
        now = time.time() if now is None else now
        with self.app.batch_update():
            for key, row in self.rows_by_id.items():
                self.update_cell(key, "age", Text(fmt_age(now - row.created_at), justify="right"))

    def set_sort(self, column: str, reverse: bool | None = None) -> None:
        if reverse is None:
            reverse = not self.sort_reverse if column == self.sort_column else column in ("age", "throughput",
                                                                                          "ratio", "reads", "progress")
        self.sort_column, self.sort_reverse = column, reverse
        with self.app.batch_update():
            self._resort(force=True)

    def _resort(self, force: bool = False) -> None:
        order = [r.execution_id for r in sort_rows(self.rows_by_id.values(), self.sort_column, self.sort_reverse)]
        if force or order != self._order:
            rank = {k: i for i, k in enumerate(order)}
            self.sort(key=lambda values: rank[values[0].execution_id])
            self._order = order
        self._restore_selection()

    def _restore_selection(self) -> None:
        if not self.rows_by_id:
            if self.selected_id is not None:
                self.selected_id = None  # _wanted stays: a later filter may bring it back
                self.post_message(self.SelectionChanged(None))
            return
        if self._wanted in self.rows_by_id and self.selected_id != self._wanted:
            self._fallback = None
            self._select(self._wanted)
        if self.selected_id in self.rows_by_id:
            index = self.get_row_index(self.selected_id)
            if self.cursor_row != index:
                self.move_cursor(row=index, scroll=True)
        else:  # the selected run left the view: select what is under the cursor now
            index = min(max(self.cursor_row, 0), self.row_count - 1)
            key = self._order[index] if index < len(self._order) else None
            if index != self.cursor_row:
                self.move_cursor(row=index)
            self._fallback = key
            self._select(key)

    def select(self, execution_id: str) -> bool:
        """Select ``execution_id`` if shown."""
        self._wanted = execution_id
        if execution_id not in self.rows_by_id:
            return False
        self._select(execution_id)
        self.move_cursor(row=self.get_row_index(execution_id))
        return True

    def _select(self, key: str | None) -> None:
        if key != self.selected_id:
            self.selected_id = key
            self.post_message(self.SelectionChanged(key))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        key = event.row_key.value if event.row_key is not None else None
        if key is None or key not in self.rows_by_id or event.cursor_row != self.cursor_row:
            return  # stale: the rows moved since it was posted
        if self.get_row_index(key) != self.cursor_row:
            return
        if key != self._fallback:
            self._wanted = key  # the user's choice
        self._select(key)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        self.set_sort(str(event.column_key.value))

    @property
    def selected_row(self) -> RunRow | None:
        return self.rows_by_id.get(self.selected_id) if self.selected_id else None

    def rows_map(self) -> Mapping[str, RunRow]:
        return dict(self.rows_by_id)
