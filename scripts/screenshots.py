"""Regenerate the dashboard's SVG screenshots in screenshots/ from a real database of real runs.

    .venv/bin/python scripts/screenshots.py [--out screenshots]

A temporary database gets real runs: two finished `genwf` runs, one `genwf` run killed by
SIGKILL mid-alignment (interrupted), and one run launched from the dashboard and held in
progress; then the real app (App.run_test, fixed size) is driven and saved:
runs.svg (table with a run in progress and an interrupted run), detail.svg (granularity
table and throughput plot of a finished run), launch.svg (the launch form), help.svg.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genwf_tui.config import Config  # noqa: E402
from genwf_tui.storage import make_storage  # noqa: E402
from genwf_tui.tui.app import GenwfApp  # noqa: E402
from genwf_tui.tui.screens import HelpScreen, LaunchScreen  # noqa: E402
from genwf_tui.tui.widgets import RunsTable  # noqa: E402

SIZE = (150, 46)


def genwf(db: str, cwd: str, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENOMIC_PIPELINE__")}
    env.pop("APP_CONFIG_PATH", None)
    env["GENOMIC_PIPELINE__NODE__ID"] = "node-cli"
    return subprocess.Popen([sys.executable, "-m", "genwf_tui.cli", *args, "--storage", db], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Hold:
    """Holds the dashboard's run at one checkpoint so the screenshot shows it in progress."""

    def __init__(self) -> None:
        self.reached, self.release = threading.Event(), threading.Event()

    def __call__(self, execution_id: str, step_id: str, index: int) -> None:
        if step_id == "align" and index == 7 and not self.reached.is_set():
            self.reached.set()
            self.release.wait(60)


async def wait(pilot, test, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if test():
            return
        await pilot.pause(0.1)
    raise SystemExit("screenshots: timed out waiting for the app")


async def shoot(db: str, out: Path) -> None:
    cfg = Config()
    cfg.node.id = "node-dashboard"
    cfg.dashboard.poll_interval_secs = 0.2
    hold = Hold()
    app = GenwfApp(db, cfg, after_commit=hold, default_reads=200_000)
    async with app.run_test(size=SIZE) as pilot:
        await wait(pilot, lambda: app.latest is not None and len(app.latest.rows) == 3)
        eid = app.manager.launch(200_000, 11, 10_000)
        app.select_run(eid)
        await wait(pilot, hold.reached.is_set)
        await wait(pilot, lambda: any(r.execution_id == eid and r.chunks_done >= 27 for r in app.latest.rows))
        await pilot.pause(0.6)
        app.save_screenshot("runs.svg", str(out))
        table = app.main_screen.query_one(RunsTable)
        done = max((r for r in app.latest.rows if r.status == "COMPLETED"), key=lambda r: r.chunks_total)
        table.select(done.execution_id)
        await wait(pilot, lambda: app.latest.detail is not None and app.latest.detail.row.execution_id == done.execution_id)
        await pilot.pause(0.6)
        app.save_screenshot("detail.svg", str(out))
        await pilot.press("n")
        await wait(pilot, lambda: isinstance(app.screen, LaunchScreen))
        await pilot.pause(0.3)
        app.save_screenshot("launch.svg", str(out))
        await pilot.press("escape")
        await pilot.press("question_mark")
        await wait(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause(0.3)
        app.save_screenshot("help.svg", str(out))
        await pilot.press("escape")
        hold.release.set()
        await pilot.press("q")


def main() -> None:
    ap = argparse.ArgumentParser(description="Regenerate the dashboard's SVG screenshots.")
    ap.add_argument("--out", default=str(ROOT / "screenshots"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="genwf-shots-")
    try:
        db = os.path.join(tmp, "workflow.db")

        async def create() -> None:
            s = make_storage(db)
            await s.open()
            await s.close()

        asyncio.run(create())
        runs = []
        for i, argv in enumerate((("200000", "--chunk-size", "5000", "--seed", "3"),
                                  ("50000", "--chunk-size", "5000", "--seed", "4"),
                                  ("100000", "--chunk-size", "5000", "--seed", "5", "--crash-at", "align:6"))):
            d = os.path.join(tmp, f"run{i}")
            os.mkdir(d)
            runs.append(genwf(db, d, *argv))
        for p in runs:
            p.wait(300)
        asyncio.run(shoot(db, out))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for name in ("runs.svg", "detail.svg", "launch.svg", "help.svg"):
        print(out / name)


if __name__ == "__main__":
    main()
