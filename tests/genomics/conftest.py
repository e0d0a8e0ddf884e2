import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from genwf_tui import genomics as g  # noqa: E402

SMALL_GENOME = 120_000
SMALL_READS = 36_000  # 30x at 100 bp


def run_pipeline(ds, chunk_size=10_000, region_bp=50_000, index=None):
    """qc -> align -> call exactly as pipeline.py does, with checkpoint round trips."""
    index = index or g.build_index(ds.reference)
    qcs, als = [], []
    for b in ds.batches(chunk_size):
        q = g.QCChunk.from_bytes(g.qc_batch(b, g.QCParams()).to_bytes())
        a = g.AlignChunk.from_bytes(g.align_batch(index, b, q).to_bytes())
        qcs.append(q)
        als.append(a)
    caller = g.build_caller(ds.reference, als, g.CallParams())
    calls = [g.CallChunk.from_bytes(g.call_region(caller, r).to_bytes())
             for r in g.plan_regions(ds.reference, region_bp)]
    return qcs, als, calls


@pytest.fixture(scope="session")
def small_ds():
    return g.synthetic_dataset(11, SMALL_READS, 100, SMALL_GENOME)


@pytest.fixture(scope="session")
def small_index(small_ds):
    return g.build_index(small_ds.reference)


@pytest.fixture(scope="session")
def small_run(small_ds, small_index):
    return run_pipeline(small_ds, 10_000, 50_000, small_index)


def truth_for(ds, start, n):
    return ds.truth(start, start + n)


def expected_pos(truth, length, trim_len):
    """Leftmost reference position of the trimmed read (a reverse read loses its left end)."""
    return truth["pos"].astype(np.int64) + np.where(truth["strand"] == 1, length - trim_len, 0)
