import numpy as np

from genwf_tui import genomics as g


def test_qc_removes_bad_keeps_good(small_ds, small_run):
    qcs, _, _ = small_run
    passed = np.concatenate([q.passed for q in qcs])
    kind = small_ds.truth(0, small_ds.n_reads)["kind"]
    assert (kind > 0).sum() > 1000
    removed_bad = 1 - passed[kind > 0].mean()
    kept_good = passed[kind == 0].mean()
    assert removed_bad >= 0.97, removed_bad
    assert kept_good >= 0.999, kept_good
    for k in (1, 2, 3):  # every kind of bad read is caught
        assert 1 - passed[kind == k].mean() >= 0.95


def test_qc_counts_are_consistent(small_run):
    qcs, _, _ = small_run
    for q in qcs:
        c = q.counts
        assert c["reads"] == q.n
        assert c["passed"] == int(q.passed.sum())
        assert c["passed"] + c["too_many_n"] + c["too_short"] + c["low_quality"] == c["reads"]
        assert c["too_many_n"] > 0 and c["too_short"] > 0 and c["low_quality"] > 0


def _batch(seqs, quals):
    L = max(len(s) for s in seqs)
    seq = np.full((len(seqs), L), 4, np.uint8)
    qual = np.zeros((len(seqs), L), np.uint8)
    for i, (s, q) in enumerate(zip(seqs, quals)):
        seq[i, :len(s)] = ["ACGTN".index(c) for c in s]
        qual[i, :len(q)] = q
    return g.ReadBatch(0, seq, qual, np.array([len(s) for s in seqs], np.int32))


def test_qc_reasons_and_trimming():
    good = "ACGT" * 25
    b = _batch([good, good, "N" * 10 + good[10:], good, good[:40]],
               [[35] * 100, [35] * 60 + [2] * 40, [35] * 100, [12] * 100, [35] * 40])
    q = g.qc_batch(b, g.QCParams())
    assert q.passed.tolist() == [True, True, False, False, False]
    assert q.trim_len[0] == 100 and q.trim_len[1] == 60
    assert q.counts["too_many_n"] == 1 and q.counts["low_quality"] == 1
    assert q.counts["too_short"] == 1 and q.counts["trimmed"] == 2  # the low-quality read too
    # without trimming the collapsed tail drags the mean below 20? (35*60+2*40)/100 = 21.8: kept
    q2 = g.qc_batch(b, g.QCParams(trim_tail=False))
    assert q2.trim_len[1] == 100


def test_qc_chunk_round_trip(small_run):
    q = small_run[0][0]
    q2 = g.QCChunk.from_bytes(q.to_bytes())
    assert np.array_equal(q.passed, q2.passed) and np.array_equal(q.trim_len, q2.trim_len)
    assert q.counts == q2.counts and q.start == q2.start
    assert q.to_bytes() == q2.to_bytes()
