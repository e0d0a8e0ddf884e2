"""`genwf`: the headless front. Parses, calls the engine, presents. Never computes.

Forms (the seed's, exactly): ``genwf 1000``, ``genwf --resume ID``, ``genwf --auto-recover 1000``,
``genwf --storage workflow.db 1000``, ``genwf --storage postgresql://u:p@h/db 1000``; plus
subcommands ``list``, ``show``, ``submit``, ``cancel``, ``worker``, ``simulate``, ``score``.
Exit codes: 0 done, 1 run failed, 2 bad usage or input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, Callable, NoReturn, Sequence

from . import report
from .config import Config, ConfigBootstrap, ConfigError
from .engine import ClaimLost, Outcome
from .engine.liveness import interrupted_reason
from .genomics import InputError
from .storage import Storage, StorageError, make_storage

RESULTS_FILE = "pipeline_results.json"
LAST_ID_FILE = "last_execution_id.txt"
SUBCOMMANDS = ("list", "show", "submit", "cancel", "worker", "simulate", "score")


class UsageError(Exception):
    """Bad usage or input: one line on stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not usage + traceback
        raise UsageError(message)


def positive_int(name: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a positive whole number, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{name} must be a positive whole number, got {text!r}")
        return value

    return parse


def crash_spec(text: str) -> tuple[str, int]:
    step, sep, chunk = text.partition(":")
    if not sep or step not in ("qc", "align", "call") or not chunk.isdigit():
        raise argparse.ArgumentTypeError(f"--crash-at must be STEP:CHUNK with STEP one of qc, align, call, got {text!r}")
    return step, int(chunk)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--storage", metavar="URL", help="SQLite file, :memory:, or postgresql://user:pass@host/db")
    p.add_argument("--node-id", help="this node's id (config genomic_pipeline.node.id)")
    p.add_argument("-v", "--verbose", action="store_true", help="log engine events to stderr")


def _pipeline_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--chunk-size", type=positive_int("--chunk-size"), help="reads per checkpointed chunk")
    p.add_argument("--seed", type=int, help="seed of the synthetic data set")
    p.add_argument("--genome-bp", type=positive_int("--genome-bp"), help="synthetic genome size (default: ~30x coverage)")
    p.add_argument("--reads", dest="reads_path", metavar="FASTQ", help="reads file (FASTQ, optionally .gz)")
    p.add_argument("--reference", dest="reference_path", metavar="FASTA", help="reference file (FASTA)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="genwf", description="Durable genomic pipeline: QC -> Alignment -> Variant calling.")
    p.add_argument("count", nargs="?", type=positive_int("reads"), metavar="READS", help="number of synthetic reads")
    p.add_argument("--resume", metavar="EXECUTION_ID", help="continue an interrupted run")
    p.add_argument("--auto-recover", action="store_true", help="recover interrupted runs first, then run READS")
    p.add_argument("--crash-at", type=crash_spec, metavar="STEP:CHUNK", help="SIGKILL this process after that checkpoint")
    p.add_argument("--vcf", metavar="PATH", default="calls.vcf", help="where to write the calls (default calls.vcf)")
    p.add_argument("--results", metavar="PATH", default=RESULTS_FILE, help=f"results file (default {RESULTS_FILE})")
    _common(p)
    _pipeline_flags(p)
    return p


def _sub_parsers() -> dict[str, argparse.ArgumentParser]:
    subs: dict[str, argparse.ArgumentParser] = {}
    p = subs["list"] = _Parser(prog="genwf list", description="List executions, newest first.")
    p.add_argument("--limit", type=positive_int("--limit"), default=50)
    p.add_argument("--status", help="only this status (or INTERRUPTED)")
    _common(p)
    p = subs["show"] = _Parser(prog="genwf show", description="Status, steps, metrics and history of one run.")
    p.add_argument("execution_id")
    p.add_argument("--json", action="store_true", help="print the stored results object")
    _common(p)
    p = subs["submit"] = _Parser(prog="genwf submit", description="Record a PENDING run for a worker; print its id.")
    p.add_argument("count", type=positive_int("reads"), metavar="READS")
    p.add_argument("--distribute", action="store_true",
                   help="let every worker compute this run's QC and alignment chunks, not only its owner")
    _common(p)
    _pipeline_flags(p)
    p = subs["cancel"] = _Parser(prog="genwf cancel", description="Ask a run to stop gracefully (ends CANCELLED).")
    p.add_argument("execution_id")
    _common(p)
    p = subs["worker"] = _Parser(prog="genwf worker", description="A long-running node that claims and runs work.")
    p.add_argument("--concurrency", type=positive_int("--concurrency"))
    p.add_argument("--listen", metavar="HOST:PORT", help="serve /healthz and /metrics (config node.listen_address)")
    p.add_argument("--exit-when-idle", action="store_true", help="exit 0 once nothing is left to run")
    _common(p)
    p = subs["simulate"] = _Parser(prog="genwf simulate", description="Write ref.fa, reads.fastq.gz, truth.vcf.")
    p.add_argument("--genome-bp", type=positive_int("--genome-bp"), default=2_000_000)
    p.add_argument("--coverage", type=float, default=30.0)
    p.add_argument("--read-len", type=positive_int("--read-len"), default=100)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", required=True, metavar="DIR")
    p = subs["score"] = _Parser(prog="genwf score", description="Precision, recall, F1 and genotype concordance.")
    p.add_argument("truth")
    p.add_argument("calls")
    p.add_argument("--json", action="store_true")
    return subs


def _find_subcommand(argv: Sequence[str]) -> int | None:
    takes_value = {"--storage", "--node-id", "--resume", "--crash-at", "--vcf", "--results", "--chunk-size",
                   "--seed", "--genome-bp", "--reads", "--reference"}
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok in SUBCOMMANDS:
            return i
        if tok in takes_value:
            i += 1
        elif not tok.startswith("-"):
            return None  # a READS count (or garbage) comes first: not a subcommand
        i += 1
    return None


def load_config(args: argparse.Namespace) -> Config:
    overrides: dict[str, Any] = {}
    flags: dict[str, str] = {}
    for attr, key, flag in (("storage", "storage.url", "--storage"), ("node_id", "node.id", "--node-id"),
                            ("chunk_size", "pipeline.chunk_size", "--chunk-size"), ("seed", "pipeline.seed", "--seed"),
                            ("genome_bp", "pipeline.genome_bp", "--genome-bp"),
                            ("concurrency", "worker.concurrency", "--concurrency"),
                            ("listen", "node.listen_address", "--listen")):
        value = getattr(args, attr, None)
        if value is not None:
            overrides[key], flags[key] = value, flag
    return ConfigBootstrap().load(overrides, flags)


async def open_storage(cfg: Config, *, read_only: bool = False) -> Storage:
    storage = make_storage(cfg.storage.url, read_only=read_only)
    await storage.open()
    return storage


async def resolve_id(storage: Storage, text: str) -> str:
    ids = await storage.resolve_execution_id(text)
    if not ids:
        raise UsageError(f"no execution {text!r} in {storage.display_url}")
    if len(ids) > 1 and text not in ids:
        raise UsageError(f"execution id {text!r} is ambiguous ({', '.join(report.short(i) for i in ids)} ...)")
    return text if text in ids else ids[0]


def write_json_atomic(path: str, obj: Any) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)


def write_text_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


# -- the main run ------------------------------------------------------------------------
class RunFront:
    """One `genwf` invocation of the run forms: run, resume, auto-recover."""

    def __init__(self, args: argparse.Namespace, cfg: Config, out=sys.stdout):
        self.args, self.cfg, self.out = args, cfg, out

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def _after_commit(self) -> Callable[[str, int], None] | None:
        if not self.args.crash_at:
            return None
        step, chunk = self.args.crash_at

        def crash(step_id: str, index: int) -> None:
            if step_id == step and index == chunk:
                self.out.flush()
                os.kill(os.getpid(), signal.SIGKILL)

        return crash

    def _executor(self, storage: Storage, progress: report.Progress):
        from .service import make_executor

        return make_executor(storage, self.cfg, after_commit=self._after_commit(), on_progress=progress,
                             on_started=lambda eid, _owner: write_text_atomic(LAST_ID_FILE, eid + "\n"))

    def header(self, storage: Storage, run: dict, execution_id: str | None = None) -> None:
        self.say("Genomic pipeline (QC -> Alignment -> Variant calling), durable")
        if execution_id:
            self.say(f"  execution   {execution_id}")
        self.say(f"  storage     {storage.display_url}   node {self.cfg.node_id}")
        src = run.get("source")
        what = (f"synthetic, seed {run.get('seed')}" if src == "synthetic" else f"{run.get('reads_path')} vs {run.get('reference_path')}")
        self.say(f"  reads       {run.get('reads', 0):,} ({what})")
        self.say(f"  chunk size  {run.get('chunk_size', 0):,} reads   target ratio {self.cfg.target_granularity_ratio:g}")
        self.say()

    async def finish(self, storage: Storage, outcome: Outcome) -> int:
        if outcome.status == "COMPLETED":
            output = outcome.output or {}
            write_json_atomic(self.args.results, output)
            await self.write_vcf(storage, outcome.execution_id)
            self.say()
            self.say(report.summary(output, self.cfg.target_granularity_ratio))
            self.say(f"Results written to {self.args.results}; calls to {self.args.vcf}")
            return 0
        self.say(f"Run {outcome.execution_id} ended {outcome.status}: {outcome.error}")
        return 1

    async def write_vcf(self, storage: Storage, execution_id: str) -> None:
        from . import pipeline

        rec = await storage.get_execution(execution_id)
        payloads = await storage.get_chunk_payloads(execution_id, pipeline.CALL)
        text = pipeline.vcf_for(rec.input, [payloads[i] for i in sorted(payloads)])
        write_text_atomic(self.args.vcf, text)

    async def run_new(self, storage: Storage, run: dict) -> int:
        self.header(storage, run)
        progress = report.Progress(self.out)
        outcome = await self._executor(storage, progress).execute(run)
        progress.close()
        return await self.finish(storage, outcome)

    async def resume(self, storage: Storage, text: str) -> int:
        execution_id = await resolve_id(storage, text)
        rec = await storage.get_execution(execution_id)
        assert rec is not None
        from . import pipeline

        if (rec.definition_id, rec.definition_version) != (pipeline.WORKFLOW_ID, pipeline.WORKFLOW_VERSION):
            raise UsageError(f"execution {report.short(execution_id)} is of workflow {rec.definition_id} "
                             f"v{rec.definition_version}, which genwf does not run")
        stale = self.cfg.recovery.stale_threshold_secs
        if rec.status == "COMPLETED":
            self.say(f"Execution {execution_id} already COMPLETED.")
            write_json_atomic(self.args.results, rec.output)
            await self.write_vcf(storage, execution_id)
            self.say(report.summary(rec.output or {}, self.cfg.target_granularity_ratio))
            return 0
        if rec.status in ("FAILED", "CANCELLED", "TIMED_OUT"):
            self.say(f"Execution {execution_id} is {rec.status}" + (f": {rec.error}" if rec.error else "") + ".")
            self.say(f"It cannot be resumed; start a new run with: genwf {rec.input.get('reads', 1000)}")
            return 1
        if rec.status == "RUNNING":
            why = interrupted_reason(rec, stale_threshold_secs=stale, progress_timeout_secs=self.cfg.recovery.progress_timeout_secs)
            if why is None:
                hb = f"{rec.heartbeat_age:.1f}s" if rec.heartbeat_age is not None else "?"
                raise UsageError(f"execution {report.short(execution_id)} is still running on node {rec.node_id} "
                                 f"(pid {rec.owner_pid} on {rec.owner_host}, heartbeat {hb} ago); not taking it over")
        pipeline.check_inputs(rec.input)
        self.header(storage, rec.input, execution_id)
        progress = report.Progress(self.out)
        try:
            outcome = await self._executor(storage, progress).execute_from_state(
                execution_id, event="resumed", recovery=rec.status == "RUNNING")
        except ClaimLost:
            raise UsageError(f"execution {report.short(execution_id)} was just taken by another process") from None
        progress.close()
        return await self.finish(storage, outcome)

    async def auto_recover(self, storage: Storage) -> int:
        from .service import make_recovery

        progress = report.Progress(self.out)
        service = make_recovery(storage, self.cfg, lambda: self._executor(storage, progress))
        rep = await service.recover_on_startup()
        progress.close()
        for execution_id, why in rep.found:
            self.say(f"  found {report.short(execution_id)}: {why}")
        self.say("Recovery: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in rep.as_dict().items()))
        code = 0
        for outcome in rep.outcomes:
            if outcome.status == "COMPLETED":
                write_json_atomic(self.args.results, outcome.output)
                await self.write_vcf(storage, outcome.execution_id)
                self.say(f"  {report.short(outcome.execution_id)} COMPLETED: {outcome.output.get('total_reads', 0):,} reads, "
                         f"{outcome.output.get('variants_called', 0):,} variants")
            else:
                self.say(f"  {report.short(outcome.execution_id)} {outcome.status}: {outcome.error}")
                code = 1
        return code


async def _main_run(args: argparse.Namespace, cfg: Config) -> int:
    if args.resume and (args.count or args.auto_recover):
        raise UsageError("--resume takes an execution id alone (no READS, no --auto-recover)")
    file_input = bool(args.reads_path or args.reference_path)
    if file_input and args.count:
        raise UsageError("give either READS (synthetic) or --reads/--reference (files), not both")
    if not (args.resume or args.auto_recover or args.count or file_input or cfg.recovery.auto_recover):
        raise UsageError("nothing to do: give READS (e.g. genwf 1000), --resume ID or --auto-recover")
    run = None
    if args.count or file_input:  # validate inputs before touching the database
        from . import pipeline

        run = pipeline.make_input(cfg, args.count, reads_path=args.reads_path, reference_path=args.reference_path)
    front = RunFront(args, cfg)
    storage = await open_storage(cfg)
    try:
        if args.resume:
            return await front.resume(storage, args.resume)
        code = 0
        if args.auto_recover or cfg.recovery.auto_recover:
            code = await front.auto_recover(storage)
        if run is not None:
            code = max(code, await front.run_new(storage, run))
        return code
    finally:
        await storage.close()


# -- the other subcommands ---------------------------------------------------------------------
async def _cmd_list(args: argparse.Namespace, cfg: Config) -> int:
    storage = await open_storage(cfg)
    try:
        stale = cfg.recovery.stale_threshold_secs
        want = args.status.upper() if args.status else None
        statuses = None if want in (None, "INTERRUPTED") else [want]
        if want == "INTERRUPTED":
            statuses = ["RUNNING"]
        records = await storage.list_executions(limit=args.limit, statuses=statuses)
        if want == "INTERRUPTED":
            records = [r for r in records if report.derived_status(r, stale) == "INTERRUPTED"]
        print(report.run_list(records, stale))
        counts = await storage.count_by_status()
        print("\n" + "  ".join(f"{k} {v}" for k, v in sorted(counts.items())) if counts else "(no executions)")
        return 0
    finally:
        await storage.close()


async def _cmd_show(args: argparse.Namespace, cfg: Config) -> int:
    storage = await open_storage(cfg)
    try:
        execution_id = await resolve_id(storage, args.execution_id)
        rec = await storage.get_execution(execution_id)
        if args.json:
            print(json.dumps(rec.output, indent=2, sort_keys=True) if rec.output else "null")
            return 0
        steps = await storage.get_steps(execution_id)
        events = await storage.get_events(execution_id)
        print(report.show(rec, steps, events, cfg.recovery.stale_threshold_secs, cfg.target_granularity_ratio))
        return 0
    finally:
        await storage.close()


async def _cmd_submit(args: argparse.Namespace, cfg: Config) -> int:
    from . import pipeline
    from .service import make_executor
    from .engine.leases import DISTRIBUTED

    run = pipeline.make_input(cfg, args.count, reads_path=args.reads_path, reference_path=args.reference_path)
    storage = await open_storage(cfg)
    try:
        metadata = {DISTRIBUTED: True} if args.distribute else None
        print(await make_executor(storage, cfg).submit(run, metadata))
        return 0
    finally:
        await storage.close()


async def _cmd_cancel(args: argparse.Namespace, cfg: Config) -> int:
    storage = await open_storage(cfg)
    try:
        execution_id = await resolve_id(storage, args.execution_id)
        status = await storage.request_cancel(execution_id)
        if status is None:
            rec = await storage.get_execution(execution_id)
            raise UsageError(f"execution {report.short(execution_id)} is {rec.status}; nothing to cancel")
        print(f"{execution_id}: " + ("CANCELLED" if status == "CANCELLED" else "cancel requested; it stops after its current chunk"))
        return 0
    finally:
        await storage.close()


async def _cmd_worker(args: argparse.Namespace, cfg: Config) -> int:
    try:
        from .worker import run_worker
    except ImportError:
        raise UsageError("genwf worker is not available yet in this build") from None
    return await run_worker(cfg, exit_when_idle=args.exit_when_idle)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from .genomics import simulate_to_dir

    if args.coverage <= 0:
        raise UsageError(f"--coverage must be positive, got {args.coverage}")
    info = simulate_to_dir(args.out, args.genome_bp, args.coverage, args.read_len, args.seed)
    print(json.dumps(info, indent=2, sort_keys=True, default=str))
    return 0


def _cmd_score(args: argparse.Namespace) -> int:
    from .genomics import score_vcfs

    result = score_vcfs(args.truth, args.calls)
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return 0
    keys = ("truth", "called", "tp", "fp", "fn", "precision", "recall", "f1", "genotype_concordance")
    print(f"{'':<8}" + "".join(f"{k[:11]:>12}" for k in keys))
    for kind, row in result.items():
        cells = (f"{row.get(k, 0):>12.4f}" if isinstance(row.get(k), float) else f"{row.get(k, '-')!s:>12}" for k in keys)
        print(f"{kind.upper():<8}" + "".join(cells))
    return 0


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        sub = _find_subcommand(argv)
        if sub is not None:
            name = argv[sub]
            args = _sub_parsers()[name].parse_args(argv[:sub] + argv[sub + 1:])
            _setup_logging(getattr(args, "verbose", False))
            if name == "simulate":
                return _cmd_simulate(args)
            if name == "score":
                return _cmd_score(args)
            cfg = load_config(args)
            handler = {"list": _cmd_list, "show": _cmd_show, "submit": _cmd_submit, "cancel": _cmd_cancel,
                       "worker": _cmd_worker}[name]
            return asyncio.run(handler(args, cfg))
        args = build_parser().parse_args(argv)
        _setup_logging(args.verbose)
        cfg = load_config(args)
        return asyncio.run(_main_run(args, cfg))
    except (UsageError, ConfigError, StorageError, InputError) as exc:
        print(f"genwf: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        last = Path(LAST_ID_FILE)
        hint = f" resume with: genwf --resume {last.read_text().strip()}" if last.exists() else ""
        print(f"\ngenwf: interrupted;{hint}", file=sys.stderr)
        return 130


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
