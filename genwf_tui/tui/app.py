"""`genwf-tui` (and `python -m genwf_tui`): the live dashboard.

The app owns two things that are not Textual: a :class:`Poller` (one thread, read-only
storage) and a :class:`RunManager` (a bounded pool of run threads). Both speak to the UI
only by posting messages that carry immutable values; neither touches a widget.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from typing import Any, Callable, NoReturn, Sequence

from textual.app import App
from textual.css.query import NoMatches

from ..config import Config, ConfigBootstrap, ConfigError
from ..monitor.poller import Poller
from ..monitor.runs import RunEvent, RunManager
from ..monitor.snapshot import Snapshot
from ..storage import StorageError, make_storage, parse_storage_url
from .commands import DashboardCommands
from .messages import RunEventPosted, SnapshotReady
from .screens.main import MainScreen


class GenwfApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "genwf-tui"
    COMMANDS = App.COMMANDS | {DashboardCommands}
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        url: str,
        cfg: Config,
        *,
        demo: bool = False,
        after_commit: Callable[[str, str, int], None] | None = None,
        executor_factory: Callable[..., Any] | None = None,
        input_factory: Callable[[int, int, int], dict] | None = None,
        default_reads: int = 100_000,
        title: str | None = None,
    ):
        super().__init__()
        self.url = url
        self.cfg = cfg
        self.default_reads = default_reads
        self.title_text = title or f"genwf-tui · {parse_storage_url(url).display}"
        self.latest: Snapshot | None = None
        self.outputs: dict[str, dict] = {}  # results of the dashboard's runs that completed
        self.demo = None
        self._external_after_commit = after_commit
        if demo:
            from .demo import DemoScenario

            self.demo = DemoScenario(self)
        self.manager = RunManager(url, cfg, on_event=self._post_event, executor_factory=executor_factory,
                                  input_factory=input_factory, after_commit=self._after_commit)
        self.poller = Poller(url, cfg, self._post_snapshot, dead_incarnations=self.manager.dead_incarnations)
        self.main_screen: MainScreen | None = None
        self._closed = False

    # -- threads -> UI: messages only ------------------------------------------------------
    def _post_snapshot(self, snapshot: Snapshot) -> None:
        self.post_message(SnapshotReady(snapshot))

    def _post_event(self, event: RunEvent) -> None:
        self.post_message(RunEventPosted(event))

    def _after_commit(self, execution_id: str, step_id: str, index: int) -> None:  # a run's own thread
        if self.demo is not None:
            self.demo.after_commit(execution_id, step_id, index)
        if self._external_after_commit is not None:
            self._external_after_commit(execution_id, step_id, index)

    # -- lifecycle -------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.main_screen = MainScreen()
        self.push_screen(self.main_screen)
        self.poller.start()
        if self.demo is not None:
            self.run_worker(self.demo.play(), name="demo", group="demo", exit_on_error=False)

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        snap = message.snapshot
        if self.latest is not None and snap.seq <= self.latest.seq:
            return
        if self.poller.last is not None and self.poller.last.seq > snap.seq:
            return  # a newer one is on its way: skip this one
        self.latest = snap
        if self._closed or self._exit_renderables or not self.is_running:
            return
        if self.main_screen is not None and self.main_screen.is_mounted:
            try:
                self.main_screen.apply_snapshot(snap)
            except NoMatches:  # the screen is being torn down (app exiting)
                pass

    def on_run_event_posted(self, message: RunEventPosted) -> None:
        e = message.event
        if e.kind == "completed" and e.execution_id and e.output:
            self.outputs[e.execution_id] = dict(e.output)
        if e.kind != "started":
            self.notify(e.message, title=e.kind.capitalize(), severity=e.severity)  # type: ignore[arg-type]
        self.poller.poke()

    def select_run(self, execution_id: str) -> None:
        if self.main_screen is not None:
            from .widgets import RunsTable

            table = self.main_screen.query_one(RunsTable)
            if not table.select(execution_id):
                self.main_screen._pending_select = execution_id

    def shutdown_background(self) -> None:
        """Stop the dashboard's runs (as a crash would) and the poller; never hangs."""
        if self._closed:
            return
        self._closed = True
        self.manager.shutdown(timeout=3.0)
        self.poller.stop(timeout=2.0)

    async def action_quit(self) -> None:
        self.shutdown_background()
        self.exit()

    def on_unmount(self) -> None:
        self.shutdown_background()


# -- command line ------------------------------------------------------------------------------
class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="genwf-tui", description="Live dashboard of genwf runs: launch, kill, resume from the keyboard.")
    p.add_argument("--storage", metavar="URL", help="SQLite file or postgresql://... (default: config, workflow.db)")
    p.add_argument("--demo", action="store_true", help="play a short scenario on a fresh temporary database")
    p.add_argument("--node-id", help="this node's id for runs started here (config genomic_pipeline.node.id)")
    return p


async def _prepare(url: str) -> None:
    """Open once read-write: creates the file and applies migrations, or fails clearly."""
    storage = make_storage(url)
    await storage.open()
    await storage.close()


def _fail(message: str) -> NoReturn:
    print(f"genwf-tui: error: {message}", file=sys.stderr)
    sys.exit(2)


def main(argv: Sequence[str] | None = None) -> None:
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        _fail(str(exc))
    overrides: dict[str, Any] = {}
    flags: dict[str, str] = {}
    if args.storage is not None:
        overrides["storage.url"], flags["storage.url"] = args.storage, "--storage"
    if args.node_id is not None:
        overrides["node.id"], flags["node.id"] = args.node_id, "--node-id"
    try:
        cfg = ConfigBootstrap().load(overrides, flags)
    except ConfigError as exc:
        _fail(str(exc))
    tmp = None
    if args.demo:
        tmp = tempfile.mkdtemp(prefix="genwf-demo-")
        cfg.storage.url = os.path.join(tmp, "demo.db")
        cfg.recovery.heartbeat_interval_secs = min(cfg.recovery.heartbeat_interval_secs, 0.5)
    url = cfg.storage.url
    try:
        if parse_storage_url(url).kind == "memory":
            _fail("--storage :memory: cannot be watched (the dashboard reads it from its own thread); use a file")
        asyncio.run(_prepare(url))
    except (StorageError, ValueError) as exc:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        _fail(str(exc))
    try:
        app = GenwfApp(url, cfg, demo=args.demo, default_reads=20_000 if args.demo else 100_000,
                       title=("genwf-tui DEMO" if args.demo else None))
        app.run()
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
