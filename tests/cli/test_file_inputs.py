"""`genwf simulate`, `genwf --reads/--reference`, `genwf score`, through real processes."""

from __future__ import annotations

import gzip
import json
import shutil
import signal

import pytest

from .helpers import comparable, execution, genwf, read_results


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    import os

    d = tmp_path_factory.mktemp("sim")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENOMIC_PIPELINE__")}
    p = genwf(["simulate", "--genome-bp", "60000", "--coverage", "20", "--seed", "3", "--out", str(d / "data")], d, env,
              check=0)
    info = json.loads(p.stdout)
    assert info["n_reads"] > 10_000 and (d / "data" / "truth.vcf").exists()
    return d / "data"


def file_args(data, *extra):
    return ["--reads", str(data / "reads.fastq.gz"), "--reference", str(data / "ref.fa"), *extra]


def test_run_on_files_and_score(tmp_path, data, genwf_env):
    genwf(file_args(data, "--chunk-size", "3000", "--storage", "w.db"), tmp_path, genwf_env, check=0)
    results = read_results(tmp_path)
    assert results["source"] == "files" and results["total_reads"] > 10_000
    pysam = pytest.importorskip("pysam")
    with pysam.VariantFile(str(tmp_path / "calls.vcf")) as vcf:
        records = list(vcf)
        assert set(vcf.header.contigs) and len(records) == results["variants_called"]
        assert all("GT" in r.format and "AD" in r.format for r in records)
    p = genwf(["score", str(data / "truth.vcf"), str(tmp_path / "calls.vcf"), "--json"], tmp_path, genwf_env, check=0)
    score = json.loads(p.stdout)
    assert score["snp"]["f1"] >= 0.97 and score["snp"]["genotype_concordance"] >= 0.97


def test_results_do_not_depend_on_chunk_size(tmp_path, data, genwf_env):
    outs = []
    for cs in ("2000", "7000"):
        d = tmp_path / cs
        d.mkdir()
        genwf(file_args(data, "--chunk-size", cs, "--storage", "w.db"), d, genwf_env, check=0)
        outs.append((comparable(read_results(d)), (d / "calls.vcf").read_bytes()))
    assert outs[0] == outs[1]


def test_malformed_fastq_is_a_one_line_error(tmp_path, data, genwf_env):
    bad = tmp_path / "bad.fastq"
    bad.write_text("@r1\nACGT\n+\nIII\n")  # quality shorter than sequence
    p = genwf(["--reads", str(bad), "--reference", str(data / "ref.fa"), "--storage", "w.db"], tmp_path, genwf_env)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert "bad.fastq" in p.stderr and "line" in p.stderr
    assert not (tmp_path / "w.db").exists()
    p = genwf(["--reads", str(data / "reads.fastq.gz"), "--storage", "w.db"], tmp_path, genwf_env)
    assert p.returncode == 2 and "--reference" in p.stderr


def test_changed_input_refuses_to_resume(tmp_path, data, genwf_env):
    local = tmp_path / "in"
    shutil.copytree(data, local)
    p = genwf(file_args(local, "--chunk-size", "3000", "--storage", "w.db", "--crash-at", "align:1"), tmp_path, genwf_env)
    assert p.returncode == -signal.SIGKILL
    eid = (tmp_path / "last_execution_id.txt").read_text().strip()
    original = (local / "reads.fastq.gz").read_bytes()
    with gzip.open(local / "reads.fastq.gz", "ab") as fh:
        fh.write(b"@extra\nACGTACGTAC\n+\nIIIIIIIIII\n")
    p = genwf(["--storage", "w.db", "--resume", eid], tmp_path, genwf_env)
    assert p.returncode == 2 and "changed" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert execution(tmp_path / "w.db", eid)["status"] == "RUNNING"  # untouched, still resumable
    (local / "reads.fastq.gz").write_bytes(original)
    genwf(["--storage", "w.db", "--resume", eid], tmp_path, genwf_env, check=0)
    ref = tmp_path / "ref"
    ref.mkdir()
    genwf(file_args(local, "--chunk-size", "3000", "--storage", "w.db"), ref, genwf_env, check=0)
    assert comparable(read_results(tmp_path)) == comparable(read_results(ref))
    assert (tmp_path / "calls.vcf").read_bytes() == (ref / "calls.vcf").read_bytes()
