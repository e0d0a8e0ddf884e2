import numpy as np

from genwf_tui import genomics as g
from .conftest import expected_pos


def test_good_reads_placed_within_5bp(small_ds, small_run):
    qcs, als, _ = small_run
    placed = total = 0
    for q, a in zip(qcs, als):
        t = small_ds.truth(q.start, q.start + q.n)
        good = (t["kind"] == 0) & q.passed
        total += int(good.sum())
        r = a.read
        exp = expected_pos(t, 100, q.trim_len)[r]
        ok = (a.contig == t["contig"][r]) & (a.strand == t["strand"][r]) & \
             (np.abs(a.pos.astype(np.int64) - exp) <= 5)
        placed += int((ok & good[r]).sum())
    assert placed / total >= 0.99, placed / total


def test_both_strands_and_counts(small_run):
    _, als, _ = small_run
    for a in als:
        c = a.counts
        assert c["aligned"] == len(a.read)
        assert c["aligned"] + c["unmapped"] == c["qc_passed"]
        assert 0.4 < a.strand.mean() < 0.6
        assert np.all(np.diff(a.read) > 0)


def test_wrong_placements_get_low_mapq(small_ds, small_run):
    qcs, als, _ = small_run
    wrong_hi = right_hi = 0
    for q, a in zip(qcs, als):
        t = small_ds.truth(q.start, q.start + q.n)
        r = a.read
        exp = expected_pos(t, 100, q.trim_len)[r]
        ok = (a.contig == t["contig"][r]) & (np.abs(a.pos.astype(np.int64) - exp) <= 5)
        good = t["kind"][r] == 0
        wrong_hi += int((~ok & good & (a.mapq >= 20)).sum())
        right_hi += int((ok & good & (a.mapq >= 20)).sum())
    assert wrong_hi <= 0.001 * right_hi


def _ref(seqs):
    return g.Reference.build([f"c{i}" for i in range(len(seqs))], seqs)


def _reads(rows, quality=35):
    seq = np.array(rows, dtype=np.uint8)
    return g.ReadBatch(0, seq, np.full(seq.shape, quality, np.uint8),
                       np.full(len(rows), seq.shape[1], np.int32))


def _rc(x):
    return g.seqtypes.COMPLEMENT[x[::-1]]


def test_repeat_reads_get_mapq_zero_and_random_reads_are_unmapped():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, 30_000).astype(np.uint8)
    seg = a[5_000:7_000].copy()
    a[20_000:22_000] = seg  # exact duplicate
    ref = _ref([a, rng.integers(0, 4, 10_000).astype(np.uint8)])
    idx = g.build_index(ref)
    rows = [seg[500:600], _rc(seg[900:1000]), a[12_000:12_100], _rc(a[25_000:25_100]),
            rng.integers(0, 4, 100)]
    b = _reads(rows)
    q = g.qc_batch(b, g.QCParams())
    al = g.align_batch(idx, b, q)
    by = {int(r): i for i, r in enumerate(al.read)}
    assert al.mapq[by[0]] == 0 and al.mapq[by[1]] == 0
    assert al.mapq[by[2]] >= 30 and al.pos[by[2]] == 12_000 and al.strand[by[2]] == 0
    assert al.mapq[by[3]] >= 30 and al.pos[by[3]] == 25_000 and al.strand[by[3]] == 1
    assert 4 not in by and al.counts["unmapped"] == 1


def test_substitutions_and_indels_tolerated():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 4, 20_000).astype(np.uint8)
    idx = g.build_index(_ref([a]))
    r1 = a[1000:1100].copy()
    r1[[10, 40, 70]] = (r1[[10, 40, 70]] + 1) % 4  # three substitutions
    r2 = np.concatenate([a[3000:3050], a[3053:3103]])  # 3 bp deletion
    r3 = np.concatenate([a[5000:5050], [0, 1], a[5050:5098]])  # 2 bp insertion
    al = g.align_batch(idx, _reads([r1, r2, _rc(r3)]), g.qc_batch(_reads([r1, r2, r3]), g.QCParams()))
    assert al.pos.tolist() == [1000, 3000, 5000]
    assert al.gap_len.tolist() == [0, 3, -2]
    assert al.counts["mismatches"] >= 3


def test_align_chunk_round_trip(small_run):
    a = small_run[1][0]
    b = g.AlignChunk.from_bytes(a.to_bytes())
    assert b.to_bytes() == a.to_bytes()
    assert np.array_equal(a.ev_pos, b.ev_pos) and a.counts == b.counts
