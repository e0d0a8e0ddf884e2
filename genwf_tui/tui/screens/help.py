"""Every key of the dashboard, generated from the bindings (one source of truth)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

EXTRA_KEYS = (
    ("↑ ↓ PgUp PgDn Home End", "move the selection in the runs table"),
    ("click a column header", "sort by that column (again: reverse)"),
    ("ctrl+p", "command palette: every action by name"),
    ("tab / shift+tab", "move focus (table, detail)"),
    ("escape", "close this help, a form or a question; clear the filter box"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = bindings

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box", classes="modal-box"):
            yield Label("genwf-tui — keys", classes="title")
            table: DataTable = DataTable(cursor_type="none", id="help-keys")
            yield table
            yield Label("Interrupted = RUNNING, but its owner is gone, stopped by this dashboard, or its "
                        "heartbeat is older than recovery.stale_threshold_secs. Kill stops a run as a crash "
                        "would; resume continues it from its last checkpoint with identical results.",
                        id="help-notes")
            yield Label("escape closes", classes="hint")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Key", "Action")
        for key, desc in [*self.keys, *EXTRA_KEYS]:
            table.add_row(key, desc)

    def action_close(self) -> None:
        self.app.pop_screen()
