"""Deterministic simulator: reference genome, diploid sample with planted variants, reads.

Everything is a pure function of (seed, genome_bp, read_len): the genome and the sample are
built once per parameter set (cached), reads are generated in fixed blocks of BLOCK reads,
each from its own RNG seeded by (seed, block), so any read range is reproducible on its own.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .seqtypes import COMPLEMENT, Reference

BLOCK = 4096
GENERATOR_VERSION = "genwf-synth-1"

# kinds of reads in the truth tables
GOOD, BAD_LOWQ, BAD_TAIL, BAD_NRUN = 0, 1, 2, 3
BAD_KIND_NAMES = {GOOD: "good", BAD_LOWQ: "low_quality", BAD_TAIL: "collapsed_tail",
                  BAD_NRUN: "n_run"}


@dataclass(frozen=True)
class Variant:
    contig: int
    pos: int  # 0-based position of REF's first base
    ref: str
    alt: str
    gt: tuple[int, int]  # alleles on haplotype 0 and 1


@dataclass(frozen=True)
class Genome:
    reference: Reference
    variants: tuple[Variant, ...]
    haps: tuple[np.ndarray, np.ndarray]  # concatenated haplotype sequences (all contigs)
    hap_ref: tuple[np.ndarray, np.ndarray]  # per haplotype base: reference position (contig-local)
    hap_contig_starts: tuple[np.ndarray, np.ndarray]  # per haplotype: start of each contig
    hap_valid_cum: tuple[np.ndarray, np.ndarray]  # cumulative counts of valid read starts


def auto_genome_bp(n_reads: int, read_len: int) -> int:
    return int(min(2_000_000, max(20_000, round(n_reads * read_len / 30))))


def _contig_sizes(genome_bp: int) -> list[int]:
    if genome_bp >= 400_000:
        w = [0.34, 0.27, 0.21, 0.18]
    elif genome_bp >= 60_000:
        w = [0.45, 0.33, 0.22]
    else:
        w = [0.6, 0.4]
    sizes = [int(genome_bp * x) for x in w]
    sizes[0] += genome_bp - sum(sizes)
    return sizes


def _mutate(rng, seq: np.ndarray, rate: float) -> np.ndarray:
    seq = seq.copy()
    hit = rng.random(len(seq)) < rate
    seq[hit] = (seq[hit] + rng.integers(1, 4, int(hit.sum()), dtype=np.uint8)) % 4
    return seq


def _build_reference(seed: int, genome_bp: int) -> list[np.ndarray]:
    rng = np.random.default_rng([seed, 0x5EF])
    sizes = _contig_sizes(genome_bp)
    probs = np.array([0.29, 0.21, 0.21, 0.29])
    cat = rng.choice(4, size=genome_bp, p=probs).astype(np.uint8)
    bounds = np.concatenate([[0], np.cumsum(sizes)])

    def rand_pos(length):
        ci = int(rng.integers(len(sizes)))
        lo, hi = bounds[ci] + 50, bounds[ci + 1] - length - 50
        return int(rng.integers(lo, max(lo + 1, hi)))

    # diverged interspersed repeats: two families, ~6% of the genome, 8-20% divergence
    for fam_len, frac in ((300, 0.04), (1000, 0.02)):
        consensus = rng.choice(4, size=fam_len, p=probs).astype(np.uint8)
        for _ in range(max(2, int(genome_bp * frac / fam_len))):
            p = rand_pos(fam_len)
            cat[p:p + fam_len] = _mutate(rng, consensus, float(rng.uniform(0.08, 0.20)))
    # segmental duplications: ~1.5% of the genome, 1-3% divergence between copies
    for _ in range(max(1, int(genome_bp * 0.015 / 5000))):
        ln = int(rng.integers(2000, 8000))
        src, dst = rand_pos(ln), rand_pos(ln)
        cat[dst:dst + ln] = _mutate(rng, cat[src:src + ln], float(rng.uniform(0.01, 0.03)))
    # homopolymers and short tandem repeats
    for _ in range(genome_bp // 4000):
        ln = int(rng.integers(8, 21))
        p = rand_pos(ln)
        cat[p:p + ln] = rng.integers(4)
    for _ in range(genome_bp // 4000):
        unit = rng.integers(0, 4, int(rng.integers(2, 5)), dtype=np.uint8)
        rep = np.tile(unit, int(rng.integers(5, 16)))
        p = rand_pos(len(rep))
        cat[p:p + len(rep)] = rep
    contigs = [cat[bounds[i]:bounds[i + 1]].copy() for i in range(len(sizes))]
    # one assembly gap (run of N) per large contig
    for c in contigs:
        if len(c) > 50_000:
            p = int(rng.integers(len(c) // 4, 3 * len(c) // 4))
            c[p:p + 100] = 4
    return contigs


def _plant_variants(seed: int, contigs: list[np.ndarray]) -> list[Variant]:
    rng = np.random.default_rng([seed, 0x5A3])
    out: list[Variant] = []
    letters = "ACGTN"
    for ci, ref in enumerate(contigs):
        ln = len(ref)
        n_var = int(ln * 0.0011)
        pos = np.unique(rng.integers(30, ln - 30, size=n_var * 2))
        # keep variants at least 25 bp apart
        keep = np.concatenate([[True], np.diff(pos) >= 25])
        pos = pos[keep][:n_var]
        pos = pos[(ref[pos] < 4)]
        for p in pos.tolist():
            gt = (1, 1) if rng.random() < 0.35 else ((0, 1) if rng.random() < 0.5 else (1, 0))
            kind = rng.random()
            window = ref[p - 10:p + 30]
            if kind < 0.91 or np.any(window == 4):  # SNP
                alt = (int(ref[p]) + int(rng.integers(1, 4))) % 4
                out.append(Variant(ci, p, letters[ref[p]], letters[alt], gt))
                continue
            d = int(rng.integers(1, 6))
            if kind < 0.955:  # deletion of ref[p+1 : p+1+d], left-normalized
                if ref[p] == ref[p + d]:
                    continue
                out.append(Variant(ci, p, "".join(letters[x] for x in ref[p:p + d + 1]),
                                   letters[ref[p]], gt))
            else:  # insertion after p, left-normalized (last inserted base != anchor)
                ins = rng.integers(0, 4, d)
                if ins[-1] == ref[p]:
                    ins[-1] = (ins[-1] + 1) % 4
                out.append(Variant(ci, p, letters[ref[p]],
                                   letters[ref[p]] + "".join(letters[x] for x in ins), gt))
    return out


def _haplotype(contig: np.ndarray, variants: list[Variant], hap: int):
    """Apply this haplotype's alleles; return (sequence, reference position of each base)."""
    seq_parts, map_parts = [], []
    cur = 0
    snp_pos, snp_alt = [], []
    lut = {"A": 0, "C": 1, "G": 2, "T": 3}
    for v in variants:
        if v.gt[hap] == 0:
            continue
        if len(v.ref) == 1 and len(v.alt) == 1:
            snp_pos.append(v.pos)
            snp_alt.append(lut[v.alt])
            continue
        # indel: copy up to and including the anchor base, then alt tail
        seq_parts.append(contig[cur:v.pos + 1])
        map_parts.append(np.arange(cur, v.pos + 1, dtype=np.int32))
        if len(v.alt) > 1:  # insertion
            ins = np.array([lut[c] for c in v.alt[1:]], dtype=np.uint8)
            seq_parts.append(ins)
            map_parts.append(np.full(len(ins), v.pos, dtype=np.int32))
            cur = v.pos + 1
        else:  # deletion
            cur = v.pos + len(v.ref)
    seq_parts.append(contig[cur:])
    map_parts.append(np.arange(cur, len(contig), dtype=np.int32))
    seq = np.concatenate(seq_parts).astype(np.uint8)
    rmap = np.concatenate(map_parts)
    if snp_pos:
        # the reference positions of SNPs are unique in rmap except at insertions (anchors)
        idx = np.searchsorted(rmap, np.array(snp_pos), side="left")
        seq[idx] = np.array(snp_alt, dtype=np.uint8)
    return seq, rmap


@functools.lru_cache(maxsize=4)
def build_genome(seed: int, genome_bp: int, read_len: int) -> Genome:
    contigs = _build_reference(seed, genome_bp)
    variants = _plant_variants(seed, contigs)
    names = [f"chr{i + 1}" for i in range(len(contigs))]
    reference = Reference.build(names, contigs)
    # the sample has real bases where the reference has an assembly gap (N)
    rng = np.random.default_rng([seed, 0x6A9])
    sample = [np.where(c == 4, rng.integers(0, 4, len(c)).astype(np.uint8), c) for c in contigs]
    haps, hmaps, starts, valid = [], [], [], []
    for h in (0, 1):
        seqs, maps = [], []
        for ci in range(len(contigs)):
            s, m = _haplotype(sample[ci], [v for v in variants if v.contig == ci], h)
            seqs.append(s)
            maps.append(m)
        lens = np.array([len(s) for s in seqs])
        haps.append(np.concatenate(seqs))
        hmaps.append(np.concatenate(maps))
        starts.append(np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64))
        valid.append(np.cumsum(np.maximum(lens - read_len + 1, 0)).astype(np.int64))
    return Genome(reference, tuple(variants), tuple(haps), tuple(hmaps), tuple(starts),
                  tuple(valid))


def generate_block(genome: Genome, seed: int, block: int, read_len: int, bad_fraction: float = 0.05):
    """Reads [block*BLOCK, (block+1)*BLOCK): (seq, qual, truth dict). Vectorized."""
    rng = np.random.default_rng([seed, 0xB10C, block])
    B, L = BLOCK, read_len
    hap = rng.integers(0, 2, B)
    strand = rng.integers(0, 2, B).astype(np.int8)  # 1 = reverse
    seq = np.empty((B, L), dtype=np.uint8)
    contig = np.empty(B, dtype=np.int32)
    refpos = np.empty(B, dtype=np.int32)
    ar = np.arange(L)
    for h in (0, 1):
        sel = np.flatnonzero(hap == h)
        cum = genome.hap_valid_cum[h]
        k = rng.integers(0, int(cum[-1]), len(sel))
        ci = np.searchsorted(cum, k, side="right")
        local = k - np.concatenate([[0], cum[:-1]])[ci]
        gstart = genome.hap_contig_starts[h][ci] + local
        seq[sel] = genome.haps[h][gstart[:, None] + ar]
        contig[sel] = ci
        refpos[sel] = genome.hap_ref[h][gstart]
    rev = strand == 1
    seq[rev] = COMPLEMENT[seq[rev][:, ::-1]]

    # quality model: falling along the read, per-read offset, per-base noise, random dips
    prof = (37.0 - 8.0 * (ar / L) ** 1.5).astype(np.float32)
    q = prof + rng.normal(0, 1.5, (B, 1)).astype(np.float32)
    q = q + rng.standard_normal((B, L), dtype=np.float32) * 2.0
    dip = rng.random(B) < 0.25
    nd = int(dip.sum())
    ds = rng.integers(0, L, nd)
    dl = rng.integers(1, 9, nd)
    dmask = (ar >= ds[:, None]) & (ar < (ds + dl)[:, None])
    qd = q[dip]
    qd[dmask] = rng.uniform(5, 15, int(dmask.sum())).astype(np.float32)
    q[dip] = qd

    # bad reads
    kind = np.zeros(B, dtype=np.int8)
    bad = rng.random(B) < bad_fraction
    kind[bad] = rng.integers(1, 4, int(bad.sum()))
    lowq = kind == BAD_LOWQ
    q[lowq] = rng.normal(10, 3, (int(lowq.sum()), L)).astype(np.float32)
    tail = kind == BAD_TAIL
    ts = rng.integers(10, 45, int(tail.sum()))
    qt = q[tail]
    qt[ar >= ts[:, None]] = 2
    q[tail] = qt
    qual = np.clip(np.rint(q), 2, 41).astype(np.uint8)

    # errors drawn from the qualities
    perr = np.power(np.float32(10.0), -qual.astype(np.float32) / np.float32(10.0))
    err = rng.random((B, L), dtype=np.float32) < perr
    ne = int(err.sum())
    seq[err] = (seq[err] + rng.integers(1, 4, ne, dtype=np.uint8)) % 4

    nrun = np.flatnonzero(kind == BAD_NRUN)
    ns = rng.integers(0, 45, len(nrun))
    nl = rng.integers(8, 30, len(nrun))
    nmask = (ar >= ns[:, None]) & (ar < (ns + nl)[:, None])
    sn, qn = seq[nrun], qual[nrun]
    sn[nmask] = 4
    qn[nmask] = 2
    seq[nrun], qual[nrun] = sn, qn
    truth = {"contig": contig, "pos": refpos, "strand": strand, "kind": kind}
    return seq, qual, truth


def truth_vcf_text(genome: Genome, sample: str = "SAMPLE") -> str:
    ref = genome.reference
    lines = ["##fileformat=VCFv4.2", "##source=genwf-tui simulator"]
    for name, ln in zip(ref.names, ref.lengths):
        lines.append(f"##contig=<ID={name},length={ln}>")
    lines.append('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">')
    lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                            "FORMAT", sample]))
    for v in sorted(genome.variants, key=lambda v: (v.contig, v.pos)):
        lines.append("\t".join([ref.names[v.contig], str(v.pos + 1), ".", v.ref, v.alt, ".",
                                "PASS", ".", "GT", f"{v.gt[0]}|{v.gt[1]}"]))
    return "\n".join(lines) + "\n"
