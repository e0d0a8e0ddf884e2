import hashlib
import os

import numpy as np

from genwf_tui import genomics as g
from genwf_tui.genomics import synth


def _digest(ds, cs):
    parts, starts = [], []
    for b in ds.batches(cs):
        starts.append(b.start)
        parts.append(np.concatenate([b.seq, b.qual, b.length.view(np.uint8).reshape(b.n, 4)], axis=1))
    return hashlib.sha256(np.concatenate(parts).tobytes()).hexdigest(), starts


def test_same_seed_same_reads_any_chunk_size():
    a = g.synthetic_dataset(3, 9_000, 100, 40_000)
    b = g.synthetic_dataset(3, 9_000, 100, 40_000)
    assert a.fingerprint == b.fingerprint
    assert a.reference.checksum == b.reference.checksum
    d1, s1 = _digest(a, 1000)
    d2, s2 = _digest(b, 4097)
    d3, _ = _digest(b, 9_000)
    assert d1 == d2 == d3
    assert s1[:3] == [0, 1000, 2000] and s2 == [0, 4097, 8194]


def test_first_chunk_resumes_at_the_same_reads():
    ds = g.synthetic_dataset(3, 9_000, 100, 40_000)
    allb = list(ds.batches(1500))
    tail = list(ds.batches(1500, first_chunk=4))
    assert [b.start for b in tail] == [6000, 7500]
    for x, y in zip(allb[4:], tail):
        assert np.array_equal(x.seq, y.seq) and np.array_equal(x.qual, y.qual)


def test_different_seed_differs():
    a = g.synthetic_dataset(3, 2_000, 100, 40_000)
    b = g.synthetic_dataset(4, 2_000, 100, 40_000)
    assert a.fingerprint != b.fingerprint
    assert a.reference.checksum != b.reference.checksum


def test_auto_genome_size():
    assert g.synthetic_dataset(1, 1000).reference.total_bp == 20_000
    assert synth.auto_genome_bp(600_000, 100) == 2_000_000
    assert synth.auto_genome_bp(10**9, 100) == 2_000_000


def test_genome_features_and_variants(small_ds):
    ref = small_ds.reference
    assert len(ref.names) >= 3
    v = small_ds.genome.variants
    snps = [x for x in v if len(x.ref) == 1 and len(x.alt) == 1]
    indels = [x for x in v if len(x.ref) != len(x.alt)]
    assert len(snps) > 50 and len(indels) > 3
    assert any(x.gt == (1, 1) for x in snps) and any(x.gt in ((0, 1), (1, 0)) for x in snps)
    for x in v:  # REF matches the reference
        s = "".join("ACGTN"[c] for c in ref.seqs[x.contig][x.pos:x.pos + len(x.ref)])
        assert s == x.ref
    # homopolymers of >= 8 exist
    cat = np.concatenate(ref.seqs)
    runs = np.diff(np.flatnonzero(np.diff(cat) != 0))
    assert runs.max() >= 8


def test_reads_match_truth_positions(small_ds):
    b = next(small_ds.batches(2000))
    t = small_ds.truth(0, 2000)
    good = np.flatnonzero(t["kind"] == 0)
    mism = []
    for i in good[:300]:
        ref = small_ds.reference.seqs[t["contig"][i]][t["pos"][i]:t["pos"][i] + 100]
        read = b.seq[i] if t["strand"][i] == 0 else g.seqtypes.COMPLEMENT[b.seq[i][::-1]]
        mism.append(int((ref != read).sum()) if len(ref) == 100 else 0)
    assert np.median(mism) <= 2
    assert 0.4 < t["strand"].mean() < 0.6
    bad = (t["kind"] > 0).mean()
    assert 0.03 < bad < 0.07
    assert set(np.unique(t["kind"]).tolist()) == {0, 1, 2, 3}


def test_quality_model_falls_along_read(small_ds):
    b = next(small_ds.batches(4000))
    t = small_ds.truth(0, 4000)
    q = b.qual[t["kind"] == 0].astype(float)
    assert q[:, :10].mean() > q[:, -10:].mean() + 3
    assert q.mean(axis=1).std() > 0.5  # per-read variation
    assert (q < 16).any(axis=1).mean() > 0.1  # dips


def test_simulate_to_dir_is_deterministic(tmp_path):
    i1 = g.simulate_to_dir(tmp_path / "a", 30_000, 5, 100, 9)
    i2 = g.simulate_to_dir(tmp_path / "b", 30_000, 5, 100, 9)
    for name in ("ref.fa", "reads.fastq.gz", "truth.vcf"):
        pa, pb = tmp_path / "a" / name, tmp_path / "b" / name
        assert pa.read_bytes() == pb.read_bytes(), name
    assert i1["n_reads"] == 1500 and i1["snps"] > 0
    assert os.path.getsize(i2["reads"]) > 0


def test_simulated_files_equal_synthetic_dataset(tmp_path):
    info = g.simulate_to_dir(tmp_path, 30_000, 5, 100, 9)
    fds = g.file_dataset(info["reads"], info["reference"])
    sds = g.synthetic_dataset(9, info["n_reads"], 100, 30_000)
    assert fds.reference.checksum == sds.reference.checksum
    assert fds.n_reads == sds.n_reads and fds.read_len == 100
    for x, y in zip(fds.batches(700), sds.batches(700)):
        assert x.start == y.start
        assert np.array_equal(x.seq, y.seq) and np.array_equal(x.qual, y.qual)
        assert np.array_equal(x.length, y.length)
