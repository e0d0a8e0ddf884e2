"""A small workflow of trivial steps for engine tests (no genomics)."""

from __future__ import annotations

import json
import threading
from collections import Counter

from genwf_tui.engine import ChunkOutput, RetryPolicy, StepDefinition, Workflow, WorkflowDefinition


class Calls:
    """Counts handler calls (chunk computations) across threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counter: Counter = Counter()

    def hit(self, key):
        with self.lock:
            self.counter[key] += 1


class Square:
    def __init__(self, calls: Calls, fail: dict | None = None, gate: threading.Event | None = None):
        self.calls, self.fail, self.gate = calls, dict(fail or {}), gate

    def plan(self, ctx):
        return ctx.input["chunks"]

    def run_chunk(self, ctx, index, inputs):
        self.calls.hit(("sq", index))
        if self.gate is not None and index == ctx.input.get("gate_at"):
            self.gate.wait(10)
        if self.fail.get(index, 0) > 0:
            self.fail[index] -= 1
            raise RuntimeError(f"injected failure at {index}")
        return ChunkOutput(json.dumps(index * index).encode(), 10)


class PlusOne:
    def __init__(self, calls: Calls):
        self.calls = calls

    def plan(self, ctx):
        return ctx.input["chunks"]

    def run_chunk(self, ctx, index, inputs):
        self.calls.hit(("plus", index))
        return ChunkOutput(json.dumps(json.loads(inputs["sq"]) + 1).encode(), 10)


class Total:
    def plan(self, ctx):
        return 1

    def run_chunk(self, ctx, index, inputs):
        return ChunkOutput(json.dumps(sum(json.loads(v) for v in inputs["plus"].values())).encode(), 1)


def finalize(ctx, payloads):
    return {"total": json.loads(payloads["sum"][0]), "total_reads": 10 * ctx.input["chunks"]}


def toy_workflow(calls: Calls | None = None, fail: dict | None = None, max_attempts: int = 3,
                 gate: threading.Event | None = None, distributable: bool = False) -> Workflow:
    calls = calls or Calls()
    retry = RetryPolicy(max_attempts=max_attempts, initial_backoff_secs=0.001, max_backoff_secs=0.01)
    d = WorkflowDefinition("toy", "Toy", 1, (
        StepDefinition("sq", "Square", retry=retry, distributable=distributable),
        StepDefinition("plus", "Plus one", inputs={"sq": "same"}, retry=retry, distributable=distributable),
        StepDefinition("sum", "Sum", inputs={"plus": "all"}, retry=retry),
    ))
    return Workflow(d, {"sq": Square(calls, fail, gate), "plus": PlusOne(calls), "sum": Total()}, finalize)


def expected_total(chunks: int) -> int:
    return sum(i * i + 1 for i in range(chunks))
