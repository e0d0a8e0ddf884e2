"""The whole durable pipeline vs fastp + minimap2 + samtools + bcftools, side by side in one run.

Simulates a genome (default 2 Mbp, 30x, 100 bp, ~5% bad reads), then times end to end:
  ours:   genwf --reads reads.fastq.gz --reference ref.fa  (SQLite checkpoints, durable commits)
  tools:  fastp -> minimap2 -ax sr | samtools sort -> samtools index -> bcftools mpileup | call
Scores both VCFs against the planted truth and reports peak memory of our run at two read
depths (it should grow with the genome, not with the number of reads).

    .venv/bin/python benchmarks/pipeline_vs_tools.py [--genome-bp 2000000] [--coverage 30] [--threads 2]
Debian packages: apt-get install fastp minimap2 samtools bcftools (missing tools are reported).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genwf_tui.genomics import score_vcfs, simulate_to_dir  # noqa: E402

TOOLS = ("fastp", "minimap2", "samtools", "bcftools")


def timed(cmd: str, cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - t0


def run_ours(data: Path, work: Path, chunk: int) -> tuple[float, float, dict]:
    """(wall seconds, peak RSS MiB, results) of one durable run in a child process."""
    cmd = [sys.executable, "-c",
           "import resource, sys; from genwf_tui.cli import run; code = run(sys.argv[1:]); "
           "print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(code)",
           "--reads", str(data / "reads.fastq.gz"), "--reference", str(data / "ref.fa"),
           "--chunk-size", str(chunk), "--storage", "w.db"]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-3000:])
    rss = int(p.stdout.rsplit("MAXRSS", 1)[1].split()[0]) / 1024
    return wall, rss, json.loads((work / "pipeline_results.json").read_text())


def run_tools(data: Path, work: Path, threads: int) -> dict[str, float]:
    t = {}
    t["fastp"] = timed(f"fastp -i {data}/reads.fastq.gz -o trimmed.fastq.gz -w {threads} -j /dev/null -h /dev/null", work)
    t["minimap2 | samtools sort"] = timed(
        f"minimap2 -ax sr -t {threads} {data}/ref.fa trimmed.fastq.gz 2>/dev/null | samtools sort -@ {threads} -o aln.bam -",
        work)
    t["samtools index"] = timed("samtools index aln.bam", work)
    t["bcftools mpileup | call"] = timed(
        f"bcftools mpileup --threads {threads} -f {data}/ref.fa aln.bam 2>/dev/null | "
        f"bcftools call -mv --threads {threads} -o tools.vcf 2>/dev/null", work)
    return t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--genome-bp", type=int, default=2_000_000)
    ap.add_argument("--coverage", type=float, default=30.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        info = simulate_to_dir(tmp / "data", args.genome_bp, args.coverage, 100, args.seed)
        half = simulate_to_dir(tmp / "half", args.genome_bp, args.coverage / 2, 100, args.seed)
        print(f"simulated {info['n_reads']:,} reads on {info['genome_bp']:,} bp in {time.perf_counter() - t0:.1f}s")
        data = tmp / "data"
        reads = info["n_reads"]

        (tmp / "ours").mkdir()
        wall, rss, results = run_ours(data, tmp / "ours", args.chunk)
        (tmp / "ours_half").mkdir()
        wall_half, rss_half, _ = run_ours(tmp / "half", tmp / "ours_half", args.chunk)
        ours_score = score_vcfs(str(data / "truth.vcf"), str(tmp / "ours" / "calls.vcf"))

        missing = [t for t in TOOLS if shutil.which(t) is None]
        print(f"\n{'pipeline':<44}{'wall s':>8}{'reads/s':>10}{'SNP F1':>8}{'GT conc':>9}")
        print(f"{'genwf (durable, SQLite checkpoints)':<44}{wall:>8.1f}{reads / wall:>10,.0f}"
              f"{ours_score['snp']['f1']:>8.4f}{ours_score['snp']['genotype_concordance']:>9.4f}")
        if missing:
            print(f"fastp/minimap2/samtools/bcftools: not installed ({', '.join(missing)})")
        else:
            (tmp / "tools").mkdir()
            steps = run_tools(data, tmp / "tools", args.threads)
            tools_wall = sum(steps.values())
            tools_score = score_vcfs(str(data / "truth.vcf"), str(tmp / "tools" / "tools.vcf"))
            print(f"{f'fastp+minimap2+samtools+bcftools ({args.threads} thr)':<44}{tools_wall:>8.1f}"
                  f"{reads / tools_wall:>10,.0f}{tools_score['snp']['f1']:>8.4f}"
                  f"{tools_score['snp']['genotype_concordance']:>9.4f}")
            for name, secs in steps.items():
                print(f"    {name:<40}{secs:>8.1f}")
            print(f"\nthroughput ratio genwf / tools: {tools_wall / wall:.2f}x (target >= 2x)")
        print(f"\npeak RSS of genwf: {rss:,.0f} MiB at {args.coverage:g}x ({reads:,} reads); "
              f"{rss_half:,.0f} MiB at {args.coverage / 2:g}x ({half['n_reads']:,} reads)  (target <= 1024 MiB)")
        m = results["metrics"]
        print(f"granularity ratio {m['granularity_ratio']} ({m['rating']}), "
              f"QC passed {results['qc_passed']:,}, aligned {results['aligned']:,}, variants {results['variants_called']:,}")
        del wall_half


if __name__ == "__main__":
    main()
