"""The dashboard: counts, the runs table, the selected run's detail, the freshness line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from ...monitor.runs import ActionRefused, LaunchError, LaunchRequest
from ...monitor.snapshot import Snapshot
from ..widgets import CountsBar, DetailPane, RunsTable, StatusLine
from ..widgets.runs_table import COLUMNS, SORT_NAMES
from .confirm import ConfirmScreen
from .help import HelpScreen
from .launch import LaunchScreen

if TYPE_CHECKING:
    from ..app import GenwfApp

MIN_WIDTH, MIN_HEIGHT = 80, 24

# (key, action, short description for the footer, long description for help and the palette)
ACTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("n", "launch", "New", "launch a new run (form: reads, seed, chunk size)"),
    ("k", "kill", "Kill", "kill the selected run at once, as a crash would (confirmed)"),
    ("c", "cancel_run", "Cancel", "cancel the selected run gracefully: it ends CANCELLED (confirmed)"),
    ("r", "resume", "Resume", "resume the selected interrupted or waiting run from its checkpoints"),
    ("a", "recover_all", "Recover all", "auto-recover every interrupted (and waiting) run"),
    ("slash", "filter", "Filter", "filter by status words (running, interrupted...), id or node"),
    ("s", "cycle_sort", "Sort", "sort by the next column"),
    ("S", "reverse_sort", "Reverse", "reverse the sort order"),
    ("question_mark", "help", "Help", "show every key"),
    ("q", "quit", "Quit", "quit (the dashboard's own runs stop as by a crash; resume them later)"),
)
KEY_NAMES = {"slash": "/", "question_mark": "?"}


class MainScreen(Screen):
    BINDINGS = [Binding(key, action, short, show=key not in ("S",)) for key, action, short, _ in ACTIONS] + [
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.latest: Snapshot | None = None
        self._pending_select: str | None = None
        self._was_ok = True
        self._help: HelpScreen | None = None
        self._ready = False

    @property
    def gapp(self) -> "GenwfApp":
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        cfg = self.gapp.cfg
        yield Static(f"The terminal is too small: genwf-tui needs at least {MIN_WIDTH}×{MIN_HEIGHT}.",
                     id="too-small")
        yield CountsBar("genwf-tui", id="counts")
        yield Input(placeholder="filter: status words (running, interrupted, failed…), id or node — enter to apply",
                    id="filter")
        with Vertical(id="main"):
            yield RunsTable(id="runs")
            yield DetailPane(cfg.target_granularity_ratio, id="detail")
        yield StatusLine(max(2.0, 4 * cfg.dashboard.poll_interval_secs), id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(RunsTable).focus()
        self._update_sort_text()
        self.set_interval(1.0, self._tick)
        self._check_size()
        self._ready = True
        if self.gapp.latest is not None:  # a snapshot that came before the widgets did
            self.apply_snapshot(self.gapp.latest)

    # -- size ----------------------------------------------------------------------------------
    def on_resize(self) -> None:
        self._check_size()

    def _check_size(self) -> None:
        w, h = self.app.size
        self.set_class(w < MIN_WIDTH or h < MIN_HEIGHT, "-too-small")
        self.set_class(w >= 140, "-wide")

    # -- data in -------------------------------------------------------------------------------
    def apply_snapshot(self, snap: Snapshot) -> None:
        if not self._ready:
            return  # on_mount applies the latest one
        self.latest = snap
        status = self.query_one(StatusLine)
        if not snap.ok:
            if self._was_ok:
                self.notify(snap.error or "database not answering", title="Database", severity="warning")
            self._was_ok = False
            status.show(snap)
            return
        if not self._was_ok:
            self.notify("the database answers again", title="Database")
        self._was_ok = True
        table = self.query_one(RunsTable)
        table.apply_rows(snap.rows)
        if self._pending_select and table.select(self._pending_select):
            self._pending_select = None
        self.query_one(CountsBar).show(snap, self.gapp.title_text)
        status.show(snap)
        detail = snap.detail if snap.detail is not None and snap.detail.row.execution_id == table.selected_id else None
        if detail is not None or table.selected_id is None:
            self.query_one(DetailPane).show(detail)

    def _tick(self) -> None:
        self.query_one(StatusLine).show()
        self.query_one(RunsTable).tick()

    def on_runs_table_selection_changed(self, event: RunsTable.SelectionChanged) -> None:
        self.gapp.poller.set_selected(event.execution_id)

    # -- actions -------------------------------------------------------------------------------
    def _selected(self, verb: str):
        row = self.query_one(RunsTable).selected_row
        if row is None:
            self.notify(f"select a run to {verb} first", severity="warning")
        return row

    def action_launch(self) -> None:
        p = self.gapp.cfg.pipeline
        defaults = {"reads": self.gapp.default_reads, "seed": p.seed, "chunk_size": min(p.chunk_size, 50_000)}

        def submit(req: LaunchRequest) -> None:  # raises LaunchError: shown in the form, nothing started
            try:
                execution_id = self.gapp.manager.launch(req.reads, req.seed, req.chunk_size)
            except ActionRefused as exc:
                raise LaunchError({"input": str(exc)}) from None
            self._pending_select = execution_id
            self.notify(f"launched {execution_id[:8]}: {req.reads:,} reads, seed {req.seed}, "
                        f"chunks of {req.chunk_size:,}", title="Launch")
            self.gapp.poller.poke()

        self.app.push_screen(LaunchScreen(defaults, submit))

    def action_kill(self) -> None:
        row = self._selected("kill")
        if row is None:
            return
        if row.stored_status != "RUNNING" or row.interrupted:
            self.notify(f"{row.short_id} is {row.status}: there is nothing running to kill", severity="warning")
            return
        own = self.gapp.manager.owns(row.execution_id)
        where = "in this dashboard" if own else f"in process {row.owner_pid} on {row.owner_host}"
        question = (f"Kill run {row.short_id} ({where})?\nIt stops at once, as in a crash: nothing more is "
                    f"written; it shows as interrupted and can be resumed with r.")

        def done(yes: bool | None) -> None:
            if not yes:
                return
            try:
                msg = self.gapp.manager.kill(row.execution_id, owner_pid=row.owner_pid, owner_host=row.owner_host)
            except (ActionRefused, OSError) as exc:
                self.notify(str(exc), title="Kill", severity="error")
                return
            self.notify(msg, title="Kill", severity="warning")
            self.gapp.poller.poke()

        self.app.push_screen(ConfirmScreen(question, "Kill"), done)

    def action_cancel_run(self) -> None:
        row = self._selected("cancel")
        if row is None:
            return
        if row.status not in ("RUNNING", "PENDING"):
            self.notify(f"{row.short_id} is {row.status}: nothing to cancel"
                        + (" (resume it or leave it)" if row.interrupted else ""), severity="warning")
            return

        def done(yes: bool | None) -> None:
            if not yes:
                return
            try:
                msg = self.gapp.manager.cancel(row.execution_id)
            except ActionRefused as exc:
                self.notify(str(exc), title="Cancel", severity="error")
                return
            self.notify(msg, title="Cancel")
            self.gapp.poller.poke()

        self.app.push_screen(ConfirmScreen(f"Cancel run {row.short_id}?\nIt stops after its current chunk and "
                                           f"ends CANCELLED (it cannot be resumed).", "Cancel run"), done)

    def action_resume(self) -> None:
        row = self._selected("resume")
        if row is None:
            return
        if not row.resumable:
            self.notify(f"{row.short_id} is {row.status}: only an interrupted or waiting run can be resumed",
                        severity="warning")
            return
        try:
            self.gapp.manager.resume(row.execution_id)
        except ActionRefused as exc:
            self.notify(str(exc), title="Resume", severity="error")
            return
        self.notify(f"resuming {row.short_id} from its last checkpoint", title="Resume")

    def action_recover_all(self) -> None:
        try:
            self.gapp.manager.recover_all()
        except ActionRefused as exc:
            self.notify(str(exc), title="Recover", severity="error")
            return
        self.notify("looking for interrupted runs…", title="Recover")

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-shown")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.gapp.poller.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.gapp.poller.set_filter(event.value)
            if not event.value.strip():
                event.input.remove_class("-shown")
            self.query_one(RunsTable).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_focus or box.value:
            box.value = ""
            self.gapp.poller.set_filter("")
            box.remove_class("-shown")
            self.query_one(RunsTable).focus()

    def action_cycle_sort(self) -> None:
        table = self.query_one(RunsTable)
        keys = [k for k, _ in COLUMNS]
        table.set_sort(keys[(keys.index(table.sort_column) + 1) % len(keys)])
        self._update_sort_text()

    def action_reverse_sort(self) -> None:
        table = self.query_one(RunsTable)
        table.set_sort(table.sort_column, not table.sort_reverse)
        self._update_sort_text()

    def on_data_table_header_selected(self) -> None:
        self.call_after_refresh(self._update_sort_text)

    def _update_sort_text(self) -> None:
        table = self.query_one(RunsTable)
        status = self.query_one(StatusLine)
        status.sort_text = f"{SORT_NAMES[table.sort_column]} {'↓' if table.sort_reverse else '↑'}"
        status.show()

    def action_help(self) -> None:
        if self._help is None:  # built once: showing it again costs no compose
            self._help = HelpScreen([(KEY_NAMES.get(k, k), desc) for k, _, _, desc in ACTIONS])
        self.app.push_screen(self._help)

    async def action_quit(self) -> None:
        await self.app.action_quit()
