import json

from genwf_tui import genomics as g
from .conftest import run_pipeline


def test_results_independent_of_chunk_and_region_size(small_ds, small_index, small_run):
    qcs, als, calls = small_run
    ref = small_ds.reference
    s1 = json.dumps(g.summarize(qcs, als, calls), sort_keys=True)
    v1 = g.vcf_text(ref, calls)
    qcs2, als2, calls2 = run_pipeline(small_ds, 7_777, 13_000, small_index)
    assert len(qcs2) != len(qcs) and len(calls2) != len(calls)
    assert json.dumps(g.summarize(qcs2, als2, calls2), sort_keys=True) == s1
    assert g.vcf_text(ref, calls2) == v1


def test_summary_contents(small_run, small_ds):
    s = g.summarize(*small_run)
    assert s["total_reads"] == small_ds.n_reads
    assert 0 < s["qc_passed"] < s["total_reads"]
    assert s["variants_called"] > 100
    for key in ("too_many_n", "too_short", "low_quality"):
        assert s["qc"][key] > 0
    assert s["alignment"]["aligned"] + s["alignment"]["unmapped"] == s["qc_passed"]
    json.dumps(s)


def test_write_vcf_equals_vcf_text(tmp_path, small_ds, small_run):
    p = tmp_path / "x.vcf"
    g.write_vcf(p, small_ds.reference, small_run[2], sample="S1")
    assert p.read_text() == g.vcf_text(small_ds.reference, small_run[2], sample="S1")


def test_same_seed_same_results():
    ds1 = g.synthetic_dataset(21, 4_000, 100, 20_000)
    ds2 = g.synthetic_dataset(21, 4_000, 100, 20_000)
    r1, r2 = run_pipeline(ds1, 1_000, 5_000), run_pipeline(ds2, 4_000, 20_000)
    assert g.vcf_text(ds1.reference, r1[2]) == g.vcf_text(ds2.reference, r2[2])
    assert g.summarize(*r1) == g.summarize(*r2)
    for a, b in zip(r1[0], run_pipeline(ds2, 1_000, 5_000)[0]):
        assert a.to_bytes() == b.to_bytes()
