import gzip
import os
import re

import numpy as np
import pytest

from genwf_tui import genomics as g

REF = b">c1 first\nACGTACGTAC\nGTACGTACGT\n>c2\nNNACGTRYAC\n"
REC = [b"@r1\nACGTN\n+\nIIIII\n", b"@r2\nacgta\n+r2\n!!!!~\n", b"@r3\nACG\n+\nIII\n"]


def _write(path, data, gz=False):
    if gz:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return str(path)


@pytest.fixture
def ref(tmp_path):
    return _write(tmp_path / "ref.fa", REF)


def test_parse_fasta_and_fastq(tmp_path, ref):
    reads = _write(tmp_path / "r.fastq.gz", b"".join(REC), gz=True)
    ds = g.file_dataset(reads, ref)
    assert ds.reference.names == ("c1", "c2")
    assert ds.reference.lengths == (20, 10)
    assert ds.reference.seqs[1].tolist() == [4, 4, 0, 1, 2, 3, 4, 4, 0, 1]
    assert ds.n_reads == 3 and ds.read_len == 5
    (b,) = list(ds.batches(10))
    assert b.seq.tolist() == [[0, 1, 2, 3, 4], [0, 1, 2, 3, 0], [0, 1, 2, 4, 4]]
    assert b.qual.tolist() == [[40] * 5, [0, 0, 0, 0, 93], [40, 40, 40, 0, 0]]
    assert b.length.tolist() == [5, 5, 3]


def test_crlf_and_missing_final_newline(tmp_path, ref):
    data = b"".join(REC).replace(b"\n", b"\r\n")[:-2]
    ds = g.file_dataset(_write(tmp_path / "r.fq", data), ref)
    assert [b.length.tolist() for b in ds.batches(2)] == [[5, 5], [3]]


BAD_FASTQ = [
    ("bad header", b"".join(REC[:1]) + b"r2\nACGT\n+\nIIII\n", 5, "header"),
    ("length mismatch", b"".join(REC[:2]) + b"@r3\nACGT\n+\nIII\n", 12, "length"),
    ("illegal char", REC[0] + b"@r2\nACXT\n+\nIIII\n", 6, "illegal"),
    ("bad separator", REC[0] + b"@r2\nACGT\nIIII\nIIII\n", 7, "separator"),
    ("truncated record", b"".join(REC) + b"@r4\nACGT\n", 13, "truncated"),
    ("illegal quality", REC[0] + b"@r2\nACGT\n+\nII I\n", 8, "quality"),
]


@pytest.mark.parametrize("name,data,line,word", BAD_FASTQ, ids=[x[0] for x in BAD_FASTQ])
@pytest.mark.parametrize("gz", [False, True])
def test_malformed_fastq_names_file_and_line(tmp_path, ref, name, data, line, word, gz):
    reads = _write(tmp_path / ("r.fq.gz" if gz else "r.fq"), data, gz)
    with pytest.raises(g.InputError) as e:
        g.file_dataset(reads, ref)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(reads + ": line ") and f"line {line}:" in msg, msg
    assert word in msg.lower()


def test_truncated_gzip(tmp_path, ref):
    body = b"".join(REC * 2000)
    whole = gzip.compress(body)
    reads = _write(tmp_path / "r.fq.gz", whole[: len(whole) // 2])
    with pytest.raises(g.InputError, match=re.escape(reads) + r": line \d+: truncated or corrupt gzip"):
        g.file_dataset(reads, ref)


def test_empty_files(tmp_path, ref):
    empty = _write(tmp_path / "e.fq", b"")
    with pytest.raises(g.InputError, match=re.escape(empty) + ": line 1: .*empty"):
        g.file_dataset(empty, ref)
    blank = _write(tmp_path / "b.fq.gz", b"\n", gz=True)
    with pytest.raises(g.InputError, match=re.escape(blank) + ": line 1: no reads"):
        g.file_dataset(blank, ref)
    reads = _write(tmp_path / "r.fq", REC[0])
    eref = _write(tmp_path / "e.fa", b"")
    with pytest.raises(g.InputError, match=re.escape(eref) + ": line 1: .*empty"):
        g.file_dataset(reads, eref)
    with pytest.raises(g.InputError, match="line 0: reads file not found"):
        g.file_dataset(str(tmp_path / "nope.fq"), ref)


BAD_FASTA = [
    ("no contigs", b"ACGT\nACGT\n", 1, "no fasta header"),
    ("sequence first", b"ACGT\n>c1\nACGT\n", 1, "before the first"),
    ("empty contig", b">c1\n>c2\nACGT\n", 1, "no sequence"),
    ("illegal char", b">c1\nACGT\nAC1T\n", 3, "illegal"),
    ("no name", b">\nACGT\n", 1, "without a name"),
    ("duplicate", b">c1\nACGT\n>c1\nACGT\n", 3, "duplicate"),
]


@pytest.mark.parametrize("name,data,line,word", BAD_FASTA, ids=[x[0] for x in BAD_FASTA])
def test_malformed_reference(tmp_path, name, data, line, word):
    reads = _write(tmp_path / "r.fq", REC[0])
    bad = _write(tmp_path / "ref.fa", data)
    with pytest.raises(g.InputError) as e:
        g.file_dataset(reads, bad)
    msg = str(e.value)
    assert msg.startswith(bad + f": line {line}:"), msg
    assert word in msg.lower()


def test_changed_file_is_detected(tmp_path, ref):
    p = tmp_path / "r.fq"
    reads = _write(p, b"".join(REC * 100))
    ds = g.file_dataset(reads, ref)
    assert sum(b.n for b in ds.batches(50)) == 300
    p.write_bytes(b"".join(REC * 100).replace(b"ACG", b"ACC"))
    os.utime(p, ns=(1, 1))
    with pytest.raises(g.InputError, match=re.escape(reads) + r": line \d+: input file changed"):
        list(ds.batches(50, first_chunk=1))
    # a reference change is detected too
    p.write_bytes(b"".join(REC * 100))
    ds = g.file_dataset(reads, ref)
    with open(ref, "ab") as f:
        f.write(b">c3\nACGT\n")
    with pytest.raises(g.InputError, match=re.escape(ref) + r": line \d+: input file changed"):
        next(ds.batches(50))


def test_fingerprint_tracks_content(tmp_path, ref):
    a = g.file_dataset(_write(tmp_path / "a.fq", b"".join(REC)), ref)
    b = g.file_dataset(_write(tmp_path / "b.fq.gz", b"".join(REC), gz=True), ref)
    c = g.file_dataset(_write(tmp_path / "c.fq", b"".join(REC[:2])), ref)
    assert len(a.fingerprint) == 64
    assert len({a.fingerprint, b.fingerprint, c.fingerprint}) == 3


def test_streaming_chunks_and_resume_offsets(tmp_path, ref, monkeypatch):
    from genwf_tui.genomics import io as gio
    monkeypatch.setattr(gio, "BLOCK_BYTES", 64)  # many blocks: records straddle block edges
    recs = [f"@r{i}\n{'ACGT'[i % 4] * (5 + i % 7)}\n+\n{'I' * (5 + i % 7)}\n".encode()
            for i in range(257)]
    reads = _write(tmp_path / "r.fq.gz", b"".join(recs), gz=True)
    ds = g.file_dataset(reads, ref)
    assert ds.n_reads == 257 and ds.read_len == 11
    full = list(ds.batches(20))
    assert [b.start for b in full] == list(range(0, 257, 20))
    lengths = np.concatenate([b.length for b in full])
    assert lengths.tolist() == [5 + i % 7 for i in range(257)]
    for k in (1, 5, 12):
        part = list(ds.batches(20, first_chunk=k))
        assert [b.start for b in part] == [b.start for b in full[k:]]
        for x, y in zip(part, full[k:]):
            assert np.array_equal(x.seq, y.seq) and np.array_equal(x.qual, y.qual)
    assert list(ds.batches(20, first_chunk=13)) == []
