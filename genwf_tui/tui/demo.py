"""`genwf-tui --demo`: a short scripted scenario on a fresh temporary database.

Two identical runs start; one crashes mid-alignment (killed as by SIGKILL: nothing more is
written), shows as interrupted, is resumed from its checkpoints, and ends with exactly the
results of the run that was never interrupted. Every key works meanwhile, so a presenter
can also drive it by hand (the scenario skips a step the presenter already did).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Callable

from ..monitor.snapshot import RunRow, comparable_output

if TYPE_CHECKING:
    from .app import GenwfApp

DEMO_READS = 200_000
DEMO_CHUNK = 10_000
DEMO_SEED = 7
CRASH_STEP, CRASH_CHUNK = "align", 6


class DemoScenario:
    def __init__(self, app: "GenwfApp", reads: int = DEMO_READS, chunk_size: int = DEMO_CHUNK,
                 seed: int = DEMO_SEED, pause: float = 3.0):
        self.app = app
        self.reads, self.chunk_size, self.seed, self.pause = reads, chunk_size, seed, pause
        self.reference: str | None = None
        self.victim: str | None = None
        self.crashed_at: tuple[str, int] | None = None
        self.verdict: bool | None = None

    # called by the RunManager from the victim's own thread after each checkpoint
    def after_commit(self, execution_id: str, step_id: str, index: int) -> None:
        if execution_id == self.victim and self.crashed_at is None and step_id == CRASH_STEP and index >= CRASH_CHUNK:
            self.crashed_at = (step_id, index)
            self.app.manager.kill(execution_id)

    def _row(self, execution_id: str | None) -> RunRow | None:
        snap = self.app.latest
        if snap is None or execution_id is None:
            return None
        return next((r for r in snap.rows if r.execution_id == execution_id), None)

    async def _until(self, test: Callable[[], bool], timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if test():
                return True
            await asyncio.sleep(0.1)
        return False

    def say(self, text: str, severity: str = "information", timeout: float = 6.0) -> None:
        self.app.notify(text, title="Demo", severity=severity, timeout=timeout)

    async def play(self) -> None:
        app, m = self.app, self.app.manager
        self.say(f"Two identical runs: {self.reads:,} reads, seed {self.seed}, chunks of {self.chunk_size:,}. "
                 f"One will crash mid-alignment.", timeout=8)
        self.reference = m.launch(self.reads, self.seed, self.chunk_size)
        await asyncio.sleep(0.5)
        self.victim = m.launch(self.reads, self.seed, self.chunk_size)
        app.select_run(self.victim)
        if not await self._until(lambda: self.crashed_at is not None
                                 or getattr(self._row(self.victim), "interrupted", False), 300):
            self.say("the run did not reach the alignment in time", "error")
            return
        where = f" at {self.crashed_at[0]} chunk {self.crashed_at[1]}" if self.crashed_at else ""
        self.say(f"Crash! {self.victim[:8]} was killed{where}: it stops at once and writes nothing more.",
                 "warning", timeout=8)
        await self._until(lambda: getattr(self._row(self.victim), "interrupted", False), 30)
        app.select_run(self.victim)
        self.say(f"{self.victim[:8]} shows INTERRUPTED: its checkpoints are safe in the database. "
                 f"Resuming it in {self.pause:.0f} s (or press r).", timeout=8)
        await asyncio.sleep(self.pause)
        row = self._row(self.victim)
        if row is not None and row.resumable and not m.owns(self.victim):
            m.resume(self.victim)
            self.say(f"Resuming {self.victim[:8]} from its last checkpoint.")
        done = await self._until(lambda: all(app.outputs.get(x) for x in (self.reference, self.victim)), 600)
        if not done:
            self.say("the runs did not both complete", "error")
            return
        a, b = (comparable_output(app.outputs[x]) for x in (self.reference, self.victim))
        self.verdict = a == b
        if self.verdict:
            self.say(f"Identical results: {a.get('total_reads', 0):,} reads, {a.get('variants_called', 0):,} variants, "
                     f"VCF sha256 {str(a.get('vcf_sha256', ''))[:12]}… — the crash cost nothing but time.",
                     timeout=20)
        else:
            diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            self.say(f"Results differ in: {', '.join(diff)}", "error", timeout=20)
