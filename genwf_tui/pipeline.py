"""The genomic workflow: QC -> Alignment -> Variant calling, as durable chunked steps.

Binds the pure functions of :mod:`genwf_tui.genomics` to the engine. Each chunk handler
rebuilds its reads from the run's input (synthetic: from the seed; files: re-read and
checksum-verified), so nothing but compact outputs is ever checkpointed.
"""

from __future__ import annotations

import hashlib
import math
import threading
from typing import Any, Mapping, Sequence

from . import genomics as g
from .config import Config
from .engine.model import ChunkOutput, RetryPolicy, StepContext, StepDefinition, Workflow, WorkflowDefinition

WORKFLOW_ID = "genomic-pipeline"
WORKFLOW_VERSION = 1
QC, ALIGN, CALL = "qc", "align", "call"
STEP_LABELS = {QC: "QC", ALIGN: "Alignment", CALL: "Variant calling"}

class _BuildOnce:
    """A small per-process cache whose entries are built once, even when several threads
    (dashboard runs, compute lanes) ask for the same one at the same time."""

    def __init__(self, limit: int):
        self._items: dict[str, Any] = {}
        self._building: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self.limit = limit

    def get(self, key: str, build) -> Any:
        with self._lock:
            if key in self._items:
                return self._items[key]
            gate = self._building.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            value = build()
            self.put(key, value)
            return value

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._building.pop(key, None)
            while len(self._items) > self.limit:
                self._items.pop(next(iter(self._items)))

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


# Data sets and reference indexes are costly to build and identical for every run with the
# same input, so threads share them.
_datasets = _BuildOnce(limit=8)
_indexes = _BuildOnce(limit=4)


def make_input(cfg: Config, reads: int | None = None, *, reads_path: str | None = None,
               reference_path: str | None = None) -> dict[str, Any]:
    """The run's input object (stored in ``input_json``) from configuration and flags."""
    p = cfg.pipeline
    run: dict[str, Any] = {
        "chunk_size": p.chunk_size,
        "region_bp": p.region_bp,
        "qc": {"min_mean_phred": p.min_mean_phred, "max_n_fraction": p.max_n_fraction, "min_length": p.min_length},
        "calling": {"min_qual": cfg.calling.min_qual, "min_depth": cfg.calling.min_depth},
    }
    if reads_path or reference_path:
        if not (reads_path and reference_path):
            raise g.InputError("--reads and --reference go together")
        ds = g.file_dataset(reads_path, reference_path)
        run.update(source="files", reads_path=reads_path, reference_path=reference_path,
                   fingerprint=ds.fingerprint, reads=ds.n_reads)
        _datasets.put(_dataset_key(run), ds)  # validated once; the steps reuse it
    else:
        run.update(source="synthetic", reads=int(reads or 0), seed=p.seed, read_len=p.read_len,
                   genome_bp=p.genome_bp or None)
    validate_input(run)
    return run


def validate_input(run: Mapping[str, Any]) -> None:
    n = run.get("reads")
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise g.InputError(f"reads: must be a positive whole number, got {n!r}")
    if not isinstance(run.get("chunk_size"), int) or run["chunk_size"] <= 0:
        raise g.InputError(f"chunk_size: must be a positive whole number, got {run.get('chunk_size')!r}")


def check_inputs(run: Mapping[str, Any]) -> None:
    """Before resuming: the run's input files must still be those it started with."""
    if run.get("source") == "files":
        _datasets.clear()  # re-read and re-hash: the files may have changed since
        dataset(run)


def _dataset_key(run: Mapping[str, Any]) -> str:
    if run["source"] == "files":
        return f"files:{run['reads_path']}:{run['reference_path']}:{run['fingerprint']}"
    return f"syn:{run['seed']}:{run['reads']}:{run['read_len']}:{run.get('genome_bp')}"


def dataset(run: Mapping[str, Any]):
    """The run's data set (cached per process); file inputs are checked against the fingerprint."""

    def build():
        if run["source"] == "files":
            ds = g.file_dataset(run["reads_path"], run["reference_path"])
            if ds.fingerprint != run["fingerprint"]:
                raise g.InputError(
                    f"{run['reads_path']}: input changed since the run started (checksum differs); start a new run"
                )
            return ds
        return g.synthetic_dataset(run["seed"], run["reads"], read_len=run["read_len"], genome_bp=run.get("genome_bp"))

    return _datasets.get(_dataset_key(run), build)


def _index(reference) -> Any:
    return _indexes.get(reference.checksum, lambda: g.build_index(reference))


READ_AHEAD = 4  # batches a file stream may read past the one asked for (one per lane is enough)


def _batch(ctx: StepContext, step: str, index: int):
    """Read batch ``index``. Synthetic reads are generated directly (random access is free).
    Files are read as one stream per step kept in the context: compute lanes ask for nearby
    chunks slightly out of order, so batches read ahead wait in a small stash; a far jump
    (chunks taken by other nodes, a retry) restarts the stream there instead."""
    run = ctx.input
    ds = dataset(run)
    if run["source"] != "files":
        return next(ds.batches(run["chunk_size"], first_chunk=index))
    with ctx.cache.setdefault(f"stream-lock:{step}", threading.Lock()):
        state = ctx.cache.setdefault(f"stream:{step}", {"next": None, "it": None, "stash": {}})
        if index in state["stash"]:
            return state["stash"].pop(index)
        if state["next"] is None or index < state["next"] or index > state["next"] + READ_AHEAD:
            state["it"] = ds.batches(run["chunk_size"], first_chunk=index)
            state["next"], state["stash"] = index, {}
        while state["next"] < index:  # read ahead for the lane that asked first
            state["stash"][state["next"]] = next(state["it"])
            state["next"] += 1
        state["next"] += 1
        return next(state["it"])


def _qc_params(run: Mapping[str, Any]) -> "g.QCParams":
    return g.QCParams(**run["qc"])


class QCStep:
    def plan(self, ctx: StepContext) -> int:
        return math.ceil(ctx.input["reads"] / ctx.input["chunk_size"])

    def run_chunk(self, ctx: StepContext, index: int, inputs: Mapping[str, Any]) -> ChunkOutput:
        batch = _batch(ctx, QC, index)
        result = g.qc_batch(batch, _qc_params(ctx.input))
        return ChunkOutput(result.to_bytes(), len(batch.length))


class AlignStep:
    plan = QCStep.plan

    def run_chunk(self, ctx: StepContext, index: int, inputs: Mapping[str, Any]) -> ChunkOutput:
        batch = _batch(ctx, ALIGN, index)
        qc = g.QCChunk.from_bytes(inputs[QC])
        result = g.align_batch(_index(dataset(ctx.input).reference), batch, qc)
        return ChunkOutput(result.to_bytes(), len(batch.length))


def _call_params(run: Mapping[str, Any]) -> "g.CallParams":
    # Runs recorded before [calling] existed carry no such key: they used the defaults.
    c = run.get("calling") or {}
    defaults = g.CallParams()
    return g.CallParams(min_qual=float(c.get("min_qual", defaults.min_qual)),
                        min_depth=int(c.get("min_depth", defaults.min_depth)))


class CallStep:
    def plan(self, ctx: StepContext) -> int:
        return len(self._regions(ctx))

    @staticmethod
    def _regions(ctx: StepContext) -> list:
        if "regions" not in ctx.cache:
            ctx.cache["regions"] = g.plan_regions(dataset(ctx.input).reference, ctx.input["region_bp"])
        return ctx.cache["regions"]

    def run_chunk(self, ctx: StepContext, index: int, inputs: Mapping[str, Any]) -> ChunkOutput:
        caller = ctx.cache.get("caller")
        if caller is None:
            aligns = [g.AlignChunk.from_bytes(inputs[ALIGN][i]) for i in sorted(inputs[ALIGN])]
            caller = g.build_caller(dataset(ctx.input).reference, aligns, _call_params(ctx.input))
            ctx.cache["caller"] = caller
        region = self._regions(ctx)[index]
        result = g.call_region(caller, region)
        return ChunkOutput(result.to_bytes(), int(region.end - region.start))


def finalize(ctx: StepContext, payloads: Mapping[str, Sequence[bytes]]) -> dict:
    """The run's genomic results (timings are added by the engine)."""
    qc = [g.QCChunk.from_bytes(b) for b in payloads[QC]]
    aligns = [g.AlignChunk.from_bytes(b) for b in payloads[ALIGN]]
    calls = [g.CallChunk.from_bytes(b) for b in payloads[CALL]]
    results = dict(g.summarize(qc, aligns, calls))
    vcf = g.vcf_text(dataset(ctx.input).reference, calls)
    results["vcf_sha256"] = hashlib.sha256(vcf.encode()).hexdigest()
    results["source"] = ctx.input["source"]
    return results


def vcf_for(run: Mapping[str, Any], call_payloads: Sequence[bytes]) -> str:
    """The VCF text of a finished run, from its call-step checkpoints (in chunk order)."""
    return g.vcf_text(dataset(run).reference, [g.CallChunk.from_bytes(b) for b in call_payloads])


def workflow(retry: RetryPolicy | None = None) -> Workflow:
    """The genomic workflow bound to its handlers."""
    retry = retry or RetryPolicy()
    definition = WorkflowDefinition(
        id=WORKFLOW_ID, name="Genomic pipeline: QC -> Alignment -> Variant calling", version=WORKFLOW_VERSION,
        steps=(
            # qc and align chunks are independent (inputs none / "same"): any node may compute them;
            # call builds one caller from "all" of align, so the owner runs it alone.
            StepDefinition(QC, STEP_LABELS[QC], retry=retry, distributable=True),
            StepDefinition(ALIGN, STEP_LABELS[ALIGN], inputs={QC: "same"}, retry=retry, distributable=True),
            StepDefinition(CALL, STEP_LABELS[CALL], inputs={ALIGN: "all"}, retry=retry, unit="bp"),
        ),
    )
    return Workflow(definition, {QC: QCStep(), ALIGN: AlignStep(), CALL: CallStep()}, finalize, validate_input)
