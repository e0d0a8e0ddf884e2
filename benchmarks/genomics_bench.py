"""Speed and accuracy of genwf_tui.genomics at full size, side by side with minimap2 (mappy).

    python benchmarks/genomics_bench.py [--genome-bp 2000000 --coverage 30 --read-len 100
                                         --seed 7 --chunk 50000 --mappy-reads 0(all)]

Simulates the genome and reads (same generator as `genwf simulate`), then times, in this one
process: our QC, alignment and variant calling (per chunk, as the pipeline runs them, with
checkpoint serialization), and mappy on the same QC-passed, trimmed reads. Prints a table.
No database is involved: this is the compute part of the durable pipeline.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from genwf_tui import genomics as g  # noqa: E402
from genwf_tui.genomics.io import fasta_text  # noqa: E402
from genwf_tui.genomics.seqtypes import CODE_TO_ASCII  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def placement(ds, qc, contig, pos, strand, read_idx):
    """Fraction-ready counts: (good reads placed within 5 bp on contig+strand, good reads)."""
    t = ds.truth(qc.start, qc.start + qc.n)
    good = (t["kind"] == 0) & qc.passed
    L = ds.read_len
    exp = t["pos"].astype(np.int64) + np.where(t["strand"] == 1, L - qc.trim_len, 0)
    r = read_idx
    ok = (contig == t["contig"][r]) & (strand == t["strand"][r]) & \
        (np.abs(pos.astype(np.int64) - exp[r]) <= 5) & good[r]
    return int(ok.sum()), int(good.sum())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genome-bp", type=int, default=2_000_000)
    ap.add_argument("--coverage", type=float, default=30.0)
    ap.add_argument("--read-len", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--chunk", type=int, default=50_000)
    ap.add_argument("--region-bp", type=int, default=250_000)
    ap.add_argument("--mappy-reads", type=int, default=0, help="0 = all QC-passed reads")
    ap.add_argument("--no-mappy", action="store_true")
    a = ap.parse_args()

    n_reads = int(round(a.genome_bp * a.coverage / a.read_len))
    print(f"simulating {a.genome_bp:,} bp, {a.coverage}x, {a.read_len} bp -> {n_reads:,} reads "
          f"(seed {a.seed}); chunk {a.chunk:,}")
    t0 = time.perf_counter()
    ds = g.synthetic_dataset(a.seed, n_reads, a.read_len, a.genome_bp)
    t_genome = time.perf_counter() - t0
    t0 = time.perf_counter()
    batches = list(ds.batches(a.chunk))
    t_reads = time.perf_counter() - t0
    rss_reads = peak_rss_mib()
    del batches

    # ---------------------------------------------------------------- ours
    T = {"index": 0.0, "qc": 0.0, "align": 0.0, "call": 0.0, "reads": 0.0}
    t0 = time.perf_counter()
    index = g.build_index(ds.reference)
    T["index"] = time.perf_counter() - t0
    qcs, als = [], []
    ckpt_bytes = 0
    ok_ours = good_total = 0
    mappy_inputs = []
    it = ds.batches(a.chunk)
    while True:
        t0 = time.perf_counter()
        b = next(it, None)
        T["reads"] += time.perf_counter() - t0
        if b is None:
            break
        t0 = time.perf_counter()
        qb = g.qc_batch(b, g.QCParams()).to_bytes()
        q = g.QCChunk.from_bytes(qb)
        t1 = time.perf_counter()
        ab = g.align_batch(index, b, q).to_bytes()
        al = g.AlignChunk.from_bytes(ab)
        t2 = time.perf_counter()
        T["qc"] += t1 - t0
        T["align"] += t2 - t1
        ckpt_bytes += len(qb) + len(ab)
        qcs.append(q)
        als.append(al)
        ok, tot = placement(ds, q, al.contig, al.pos, al.strand, al.read)
        ok_ours += ok
        good_total += tot
        if not a.no_mappy:
            sel = np.flatnonzero(q.passed)
            mappy_inputs.append((q, b.seq[sel], q.trim_len[sel], sel))
    t0 = time.perf_counter()
    caller = g.build_caller(ds.reference, als, g.CallParams())
    calls = [g.call_region(caller, r) for r in g.plan_regions(ds.reference, a.region_bp)]
    T["call"] = time.perf_counter() - t0
    rss_ours = peak_rss_mib()
    summary = g.summarize(qcs, als, calls)

    tmp = tempfile.mkdtemp(prefix="genwf-bench-")
    try:
        truth_vcf = os.path.join(tmp, "truth.vcf")
        calls_vcf = os.path.join(tmp, "calls.vcf")
        with open(truth_vcf, "w") as f:
            f.write(ds.truth_vcf_text())
        g.write_vcf(calls_vcf, ds.reference, calls)
        score = g.score_vcfs(truth_vcf, calls_vcf)

        kind = ds.truth(0, n_reads)["kind"]
        passed = np.concatenate([q.passed for q in qcs])
        bad_removed = 1 - passed[kind > 0].mean()
        good_kept = passed[kind == 0].mean()

        # ------------------------------------------------------------ mappy
        mp = None
        if not a.no_mappy:
            try:
                import mappy
            except ImportError:
                print("mappy not importable: skipping the side-by-side (pip install mappy)")
            else:
                ref_fa = os.path.join(tmp, "ref.fa")
                with open(ref_fa, "wb") as f:
                    f.write(fasta_text(ds.reference))
                t0 = time.perf_counter()
                aligner = mappy.Aligner(ref_fa, preset="sr")
                t_midx = time.perf_counter() - t0
                names = {n: i for i, n in enumerate(ds.reference.names)}
                limit = a.mappy_reads or 10**12
                done = mok = mgood = mapped = 0
                t_map = 0.0
                for q, seqs, tl, sel in mappy_inputs:
                    if done >= limit:
                        break
                    take = min(len(sel), limit - done)
                    strs = [CODE_TO_ASCII[seqs[i, :tl[i]]].tobytes().decode() for i in range(take)]
                    contig = np.full(take, -1, np.int64)
                    pos = np.zeros(take, np.int64)
                    strand = np.zeros(take, np.int64)
                    t0 = time.perf_counter()
                    for i, s in enumerate(strs):
                        for h in aligner.map(s):
                            if h.is_primary:
                                contig[i] = names[h.ctg]
                                strand[i] = 0 if h.strand == 1 else 1
                                clip = h.q_st if h.strand == 1 else len(s) - h.q_en
                                pos[i] = h.r_st - clip
                                break
                    t_map += time.perf_counter() - t0
                    m = contig >= 0
                    mapped += int(m.sum())
                    # restrict the truth comparison to the reads mappy was given
                    qq = g.QCChunk(q.start, np.zeros(q.n, bool), q.trim_len, {})
                    qq.passed[sel[:take]] = True
                    ok, tot = placement(ds, qq, contig[m], pos[m], strand[m], sel[:take][m])
                    mok += ok
                    mgood += tot
                    done += take
                mp = {"reads": done, "index": t_midx, "map": t_map, "placed": mok / max(mgood, 1)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    compute = T["qc"] + T["align"] + T["call"]
    print()
    print(f"genome build {t_genome:.2f}s; read generation {t_reads:.2f}s "
          f"({n_reads / t_reads:,.0f} reads/s, the pipeline regenerates reads per step)")
    print(f"index build {T['index']:.2f}s ({index.nbytes / 2**20:.0f} MiB); checkpoint payloads "
          f"{ckpt_bytes / 2**20:.1f} MiB for {len(qcs)} chunks")
    print()
    rows = [
        ("step", "seconds", "reads/s", "notes"),
        ("ours: QC", f"{T['qc']:.2f}", f"{n_reads / T['qc']:,.0f}",
         f"bad removed {bad_removed:.4f}, good kept {good_kept:.5f}"),
        ("ours: align", f"{T['align']:.2f}", f"{n_reads / T['align']:,.0f}",
         f"good placed <=5bp {ok_ours / good_total:.4f}"),
        ("ours: call", f"{T['call']:.2f}", f"{n_reads / T['call']:,.0f}",
         f"SNP F1 {score['snp']['f1']:.4f} GT {score['snp']['genotype_concordance']:.4f}"),
        ("ours: qc+align+call", f"{compute:.2f}", f"{n_reads / compute:,.0f}",
         f"peak RSS {rss_ours:.0f} MiB (after read gen only: {rss_reads:.0f} MiB)"),
        ("ours: + index + read gen x2", f"{compute + T['index'] + 2 * T['reads']:.2f}",
         f"{n_reads / (compute + T['index'] + 2 * T['reads']):,.0f}", "as the pipeline runs it"),
    ]
    if mp:
        rows.append(("mappy (minimap2 sr), 1 thread", f"{mp['map']:.2f}",
                     f"{mp['reads'] / mp['map']:,.0f}",
                     f"good placed <=5bp {mp['placed']:.4f}; index {mp['index']:.2f}s; "
                     f"{mp['reads']:,} reads"))
    for tool in ("minimap2", "samtools", "bcftools", "fastp"):
        if shutil.which(tool) is None:
            rows.append((f"{tool} (CLI)", "-", "-", "not installed: not measured"))
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    for i, r in enumerate(rows):
        print("  ".join(x.ljust(w[j]) if j in (0, 3) else x.rjust(w[j]) for j, x in enumerate(r)))
        if i == 0:
            print("  ".join("-" * x for x in w))
    print()
    print("SNP  ", score["snp"])
    print("indel", score["indel"])
    if mp:
        print(f"align speed ratio ours/mappy: {(n_reads / T['align']) / (mp['reads'] / mp['map']):.2f}x; "
              f"qc+align+call vs mappy alone: {(n_reads / compute) / (mp['reads'] / mp['map']):.2f}x")
    print("summary:", {k: summary[k] for k in ("total_reads", "qc_passed", "aligned",
                                               "variants_called", "variants_pass")})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
