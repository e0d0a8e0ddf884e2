"""Workflow definitions: typed steps, retry policy, and the handler protocol steps implement."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Literal, Mapping, Protocol, Sequence

DependencyMode = Literal["same", "all"]


@dataclass(frozen=True)
class RetryPolicy:
    """How a failing chunk is retried: exponential backoff with jitter, capped."""

    max_attempts: int = 3
    initial_backoff_secs: float = 0.05
    backoff_multiplier: float = 2.0
    max_backoff_secs: float = 2.0
    jitter: float = 0.1

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = min(self.max_backoff_secs, self.initial_backoff_secs * self.backoff_multiplier ** max(0, attempt - 1))
        spread = base * self.jitter
        return max(0.0, base + (rng or random).uniform(-spread, spread))


@dataclass(frozen=True)
class StepDefinition:
    """One durable step. ``inputs`` maps an earlier step id to which of its chunk outputs
    each chunk needs: ``"same"`` (the chunk with the same index) or ``"all"``.

    ``distributable``: in a run submitted for distribution, other nodes may compute this
    step's chunks (each under a lease) while the owner computes the rest. Only for steps
    whose chunks are independent of one another and whose handler is deterministic.
    """

    id: str
    name: str
    inputs: Mapping[str, DependencyMode] = field(default_factory=dict)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    unit: str = "reads"
    distributable: bool = False


@dataclass(frozen=True)
class WorkflowDefinition:
    id: str
    name: str
    version: int
    steps: tuple[StepDefinition, ...]

    def to_json(self) -> str:
        return json.dumps(
            {"id": self.id, "name": self.name, "version": self.version,
             "steps": [{**asdict(s), "inputs": dict(s.inputs)} for s in self.steps]},
            sort_keys=True,
        )

    def step(self, step_id: str) -> StepDefinition:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)


@dataclass
class StepContext:
    """What a handler sees: the run's input and a per-process cache (e.g. a reference index)."""

    execution_id: str
    input: Mapping[str, Any]
    cache: dict[str, Any]


@dataclass(frozen=True)
class ChunkOutput:
    payload: bytes
    items: int


class StepHandler(Protocol):
    """Pure work for one step. Runs in a compute thread; everything it spends is *compute*."""

    def plan(self, ctx: StepContext) -> int:
        """Number of chunks (deterministic for the run's input)."""

    def run_chunk(self, ctx: StepContext, index: int, inputs: Mapping[str, Any]) -> ChunkOutput:
        """Compute chunk ``index``; ``inputs`` holds the declared earlier outputs (bytes, or
        ``{index: bytes}`` for ``"all"``)."""


Finalizer = Callable[[StepContext, Mapping[str, Sequence[bytes]]], dict]


@dataclass(frozen=True)
class Workflow:
    """A definition bound to its handlers and to the function that builds the run's results."""

    definition: WorkflowDefinition
    handlers: Mapping[str, StepHandler]
    finalize: Finalizer
    validate_input: Callable[[Mapping[str, Any]], None] = lambda _input: None
