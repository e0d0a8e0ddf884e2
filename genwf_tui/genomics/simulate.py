"""`genwf simulate`: write a simulated data set (ref.fa, reads.fastq.gz, truth.vcf) to a folder."""
from __future__ import annotations

import gzip
import os

from .dataset import SyntheticDataset
from .io import fasta_text, write_fastq
from .synth import BAD_KIND_NAMES


def simulate_to_dir(out_dir, genome_bp: int, coverage: float, read_len: int, seed: int) -> dict:
    """Same generator as synthetic_dataset. Read names carry the truth:
    ``@r<index> <contig>:<1-based leftmost pos>:<+|->:<kind>``."""
    if coverage <= 0:
        raise ValueError("coverage must be positive")
    n_reads = int(round(genome_bp * coverage / read_len))
    ds = SyntheticDataset(seed, n_reads, read_len, genome_bp)
    os.makedirs(out_dir, exist_ok=True)
    paths = {k: os.path.join(str(out_dir), f) for k, f in
             (("reference", "ref.fa"), ("reads", "reads.fastq.gz"), ("truth", "truth.vcf"))}
    ref = ds.reference
    with open(paths["reference"] + ".tmp", "wb") as f:
        f.write(fasta_text(ref))
    names = ref.names
    with open(paths["reads"] + ".tmp", "wb") as raw:
        # mtime=0 keeps the gzip bytes identical for a given seed
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=4, mtime=0) as gz:
            for b in ds.batches(50_000):
                t = ds.truth(b.start, b.start + b.n)
                labels = [f"r{b.start + i} {names[c]}:{p + 1}:{'-' if s else '+'}:{BAD_KIND_NAMES[k]}"
                          for i, (c, p, s, k) in enumerate(zip(t["contig"].tolist(), t["pos"].tolist(),
                                                                t["strand"].tolist(), t["kind"].tolist()))]
                write_fastq(gz, labels, b.seq, b.qual)
    with open(paths["truth"] + ".tmp", "w") as f:
        f.write(ds.truth_vcf_text())
    for p in paths.values():
        os.replace(p + ".tmp", p)
    v = ds.genome.variants
    n_snp = sum(1 for x in v if len(x.ref) == 1 and len(x.alt) == 1)
    return {"out_dir": str(out_dir), **paths, "genome_bp": int(ref.total_bp),
            "contigs": len(ref.names), "n_reads": n_reads, "read_len": read_len,
            "coverage": coverage, "seed": seed, "snps": n_snp, "indels": len(v) - n_snp,
            "fingerprint": ds.fingerprint}
