"""Detail of the selected run: steps with progress bars, granularity table, throughput plot, history."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Container, Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Label, ProgressBar, Static

from ...monitor.plot import throughput_plot
from ...monitor.snapshot import RunDetail, StepView, fmt_ms, fmt_ratio, granularity_rows
from .theme import STEP_VARIABLE, status_style, theme_color

RATING_VARIABLE = {"EXCELLENT": "success", "ACCEPTABLE": "warning", "POOR": "error"}


class StepRow(Horizontal):
    """One step: name, progress bar (chunks done / total), status, attempts, last error."""

    def __init__(self, step: StepView) -> None:
        super().__init__(classes="step-row", id=f"step-{step.step_id}")
        self.step_id = step.step_id
        self._first = step

    def compose(self) -> ComposeResult:
        yield Label(self._first.label, classes="step-label")
        yield ProgressBar(total=100, show_eta=False, show_percentage=False, classes="step-bar")
        yield Label("", classes="step-info")

    def on_mount(self) -> None:
        self.show(self._first)

    def show(self, step: StepView) -> None:
        bar = self.query_one(ProgressBar)
        total = step.chunks_total or 0
        if total:
            bar.update(total=total, progress=min(step.chunks_done, total))
        else:
            bar.update(total=1, progress=1 if step.status == "COMPLETED" else 0)
        info = Text()
        info.append(f"{step.chunks_done}/{total or '?'} ", style="bold")
        info.append(step.status, style=status_style(self.app, step.status))
        if step.attempt > 1:
            info.append(f"  attempt {step.attempt}")
        if step.error:
            info.append(f"  {step.error[:60]}", style=theme_color(self.app, "error", "red"))
        if step == getattr(self, "_shown", None):
            return
        self._shown = step
        self.query_one(".step-info", Label).update(info, layout=False)


class StepsPanel(Vertical):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._ids: tuple[str, ...] = ()

    def show(self, steps: tuple[StepView, ...]) -> None:
        if steps == getattr(self, "_steps", None):
            return
        self._steps = steps
        ids = tuple(s.step_id for s in steps)
        if ids != self._ids:
            self._ids = ids
            self.remove_children()
            self.mount_all([StepRow(s) for s in steps])
            return
        for s in steps:
            for row in self.query(StepRow):
                if row.step_id == s.step_id and row.is_mounted:
                    row.show(s)


class GranularityTable(DataTable):
    """Compute, coordination, total, ratio, efficiency and rating per step and for the run."""

    COLS = (("step", "Step"), ("compute", "Compute ms"), ("coord", "Coord ms"), ("total", "Total ms"),
            ("ratio", "Ratio"), ("eff", "Effic."), ("rating", "Rating"))

    def __init__(self, target: float, **kwargs) -> None:
        super().__init__(cursor_type="none", zebra_stripes=False, **kwargs)
        self.target = target
        self._keys: tuple[str, ...] = ()

    def on_mount(self) -> None:
        for key, label in self.COLS:
            self.add_column(label, key=key)

    def show(self, steps: tuple[StepView, ...]) -> None:
        if steps == getattr(self, "_steps", None):
            return
        self._steps = steps
        rows = granularity_rows(steps, self.target)
        keys = tuple(r.label for r in rows)
        with self.app.batch_update():
            if keys != self._keys:
                self.clear()
                self._keys = keys
            for r in rows:
                color = theme_color(self.app, RATING_VARIABLE.get(r.rating, "foreground"), "white")
                cells = [Text(r.label, style="bold" if r.label == "Run" else ""),
                         Text(fmt_ms(r.compute_ms), justify="right"), Text(fmt_ms(r.coordinate_ms), justify="right"),
                         Text(fmt_ms(r.total_ms), justify="right"), Text(fmt_ratio(r.ratio), justify="right"),
                         Text(f"{r.efficiency:.1f}%", justify="right"), Text(r.rating, style=f"bold {color}")]
                if r.label in self.rows:
                    for (col, _), cell in zip(self.COLS, cells):
                        self.update_cell(r.label, col, cell)
                else:
                    self.add_row(*cells, key=r.label)


class ThroughputPlot(Static):
    """Reads/s of each finished chunk over time, with axes; columns coloured by step."""

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self._detail: RunDetail | None = None
        self._last_key: tuple | None = None

    def show(self, detail: RunDetail | None) -> None:
        self._detail = detail
        self._redraw()

    def on_resize(self) -> None:
        self._redraw(force=True)

    def _redraw(self, force: bool = False) -> None:
        detail = self._detail
        width = max(self.size.width, 20)
        height = max(self.size.height, 5)
        chunks = detail.chunks if detail else ()
        key = (len(chunks), chunks[-1] if chunks else None, width, height)
        if key == self._last_key and not force:
            return
        self._last_key = key
        plot = throughput_plot(chunks, width, height)
        order = [s.step_id for s in detail.steps] if detail else []
        colors = {sid: theme_color(self.app, STEP_VARIABLE.get(i, "primary"), "cyan") for i, sid in enumerate(order)}
        out = Text(no_wrap=True, overflow="crop")
        axis_style = theme_color(self.app, "text-muted", "grey50")
        for n, line in enumerate(plot.lines):
            if n:
                out.append("\n")
            head, body = line[:plot.plot_left], line[plot.plot_left:]
            out.append(head, style=axis_style)
            if n < len(plot.lines) - 2:
                for i, ch in enumerate(body):
                    tag = plot.col_tags[i] if i < len(plot.col_tags) else None
                    out.append(ch, style=colors.get(tag, "") if tag else "")
            else:
                out.append(body, style=axis_style)
        self.update(out, layout=False)


class HistoryTable(DataTable):
    """Recovery history: creations, claims, node changes, releases, kills seen, ends."""

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="none", **kwargs)
        self._shown: tuple = ()

    def on_mount(self) -> None:
        self.add_column("At (UTC)", key="at")
        self.add_column("Event", key="kind")
        self.add_column("Node", key="node")
        self.add_column("Detail", key="detail")

    def show(self, detail: RunDetail | None) -> None:
        events = detail.events if detail else ()
        if events == self._shown:
            return
        with self.app.batch_update():
            if self._shown != events[: len(self._shown)]:
                self.clear()
                self._shown = ()
            for i, e in enumerate(events[len(self._shown):], start=len(self._shown)):
                self.add_row(time.strftime("%H:%M:%S", time.gmtime(e.at)), e.kind, e.node_id or "-", e.detail[:70],
                             key=str(i))
            self._shown = events


class DetailPane(VerticalScroll):
    """Everything about the selected run; reads only what the snapshot carries."""

    def __init__(self, target: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.target = target
        self.detail: RunDetail | None = None

    def compose(self) -> ComposeResult:
        yield Static("Select a run to see its steps, metrics and history.", id="detail-title")
        with Container(id="detail-body"):
            yield from self._columns()

    def _columns(self) -> ComposeResult:
        with Vertical(id="detail-left"):
            yield Label("Steps", classes="section")
            yield StepsPanel(id="steps")
            yield Label(f"Granularity (target ratio {self.target:g})", classes="section")
            yield GranularityTable(self.target, id="granularity")
        with Vertical(id="detail-right"):
            yield Label("Throughput: reads/s per finished chunk", classes="section")
            yield ThroughputPlot(id="plot")
            yield Label("Recovery history", classes="section")
            yield HistoryTable(id="history")

    def show(self, detail: RunDetail | None) -> None:
        self.detail = detail
        title = self.query_one("#detail-title", Static)
        if detail is None:
            title.update("Select a run to see its steps, metrics and history.")
            self.query_one(StepsPanel).show(())
            self.query_one(GranularityTable).show(())
        else:
            r = detail.row
            t = Text()
            t.append(f"Run {r.execution_id}  ", style="bold")
            t.append(r.status, style=status_style(self.app, r.status))
            if r.why:
                t.append(f" ({r.why})")
            t.append(f"\nnode {r.node_id or '-'}")
            if r.owner_pid:
                t.append(f" · pid {r.owner_pid} on {r.owner_host}")
            if r.recovery_count:
                t.append(f" · recovered {r.recovery_count}×")
            t.append(f" · {detail.input_summary}")
            if detail.results:
                t.append("\n" + " · ".join(f"{k} {v}" for k, v in detail.results), style="bold")
            if r.error:
                t.append(f"\nerror: {r.error[:200]}", style=theme_color(self.app, "error", "red"))
            if t != getattr(title, "_last", None):
                title._last = t
                title.update(t, layout=False)
            self.query_one(StepsPanel).show(detail.steps)
            self.query_one(GranularityTable).show(detail.steps)
        self.query_one(ThroughputPlot).show(detail)
        self.query_one(HistoryTable).show(detail)
