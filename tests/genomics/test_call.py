import numpy as np
import pytest

from genwf_tui import genomics as g


@pytest.fixture(scope="module")
def vcfs(tmp_path_factory, small_ds, small_run):
    d = tmp_path_factory.mktemp("vcf")
    truth = d / "truth.vcf"
    truth.write_text(small_ds.truth_vcf_text())
    calls = d / "calls.vcf"
    g.write_vcf(calls, small_ds.reference, small_run[2])
    return truth, calls


def test_snp_accuracy(vcfs):
    s = g.score_vcfs(*vcfs)
    assert s["snp"]["truth"] > 100
    assert s["snp"]["f1"] >= 0.98, s["snp"]
    assert s["snp"]["genotype_concordance"] >= 0.98, s["snp"]
    assert s["indel"]["recall"] >= 0.5, s["indel"]
    assert s["indel"]["precision"] >= 0.8, s["indel"]


def test_vcf_is_read_by_pysam(vcfs, small_ds):
    pysam = pytest.importorskip("pysam")
    _, calls = vcfs
    f = pysam.VariantFile(str(calls))
    assert list(f.header.contigs) == list(small_ds.reference.names)
    assert {"DP", "AF"} <= set(f.header.info) and {"GT", "AD", "DP"} <= set(f.header.formats)
    last = (-1, -1)
    names = list(small_ds.reference.names)
    n = 0
    for rec in f:
        key = (names.index(rec.chrom), rec.pos)
        assert key >= last
        last = key
        s = rec.samples["SAMPLE"]
        assert s["GT"] in ((0, 1), (1, 1))
        assert sum(s["AD"]) <= s["DP"]
        assert rec.qual is not None and rec.qual >= 0
        ref = "".join("ACGTN"[c] for c in
                      small_ds.reference.seqs[names.index(rec.chrom)][rec.pos - 1:rec.pos - 1 + len(rec.ref)])
        assert rec.ref == ref
        n += 1
    assert n > 100


def test_score_vcfs_counts_errors(tmp_path):
    head = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\n"
    (tmp_path / "t.vcf").write_text(head + "c\t10\t.\tA\tG\t.\tPASS\t.\tGT\t0|1\n"
                                    "c\t20\t.\tC\tT\t.\tPASS\t.\tGT\t1|1\n"
                                    "c\t30\t.\tCA\tC\t.\tPASS\t.\tGT\t0|1\n")
    (tmp_path / "c.vcf").write_text(head + "c\t10\t.\tA\tG\t50\tPASS\t.\tGT\t0/1\n"
                                    "c\t20\t.\tC\tT\t50\tPASS\t.\tGT\t0/1\n"
                                    "c\t25\t.\tC\tT\t50\tPASS\t.\tGT\t0/1\n"
                                    "c\t26\t.\tC\tT\t5\tLowQual\t.\tGT\t0/1\n"
                                    "c\t30\t.\tCA\tC\t50\tPASS\t.\tGT\t0/1\n")
    s = g.score_vcfs(tmp_path / "t.vcf", tmp_path / "c.vcf")
    assert (s["snp"]["tp"], s["snp"]["fp"], s["snp"]["fn"]) == (2, 1, 0)
    assert s["snp"]["precision"] == pytest.approx(2 / 3, abs=1e-6)
    assert s["snp"]["genotype_concordance"] == 0.5
    assert s["indel"]["tp"] == 1 and s["indel"]["f1"] == 1.0


def test_caller_uses_qualities():
    """The same allele counts give a confident het with high-quality alt bases and nothing
    (or a filtered call) with low-quality ones."""
    rng = np.random.default_rng(5)
    ref = g.Reference.build(["c"], [rng.integers(0, 4, 5000).astype(np.uint8)])
    idx = g.build_index(ref)
    rows, quals = [], []
    for k in range(20):
        st = 1020 + k * 3
        r = ref.seqs[0][st:st + 100].copy()
        q = np.full(100, 35, np.uint8)
        if k % 4 == 0:  # 5 of 20 reads carry an alt at 1100
            r[1100 - st] = (r[1100 - st] + 1) % 4
        if k % 4 == 1:
            r[1090 - st] = (r[1090 - st] + 2) % 4
            q[1090 - st] = 14
        rows.append(r)
        quals.append(q)
    seq = np.array(rows)
    b = g.ReadBatch(0, seq, np.array(quals), np.full(20, 100, np.int32))
    al = g.align_batch(idx, b, g.qc_batch(b, g.QCParams()))
    caller = g.build_caller(ref, [al], g.CallParams())
    recs = g.call_region(caller, g.Region(0, 0, 5000)).records
    by = {r[1]: r for r in recs}
    assert 1100 in by and by[1100][6] == "0/1" and by[1100][5] == "PASS"
    assert by[1100][9:] == (15, 5)
    assert 1090 not in by or by[1090][5] != "PASS"
