"""Data sets: a reference plus reads delivered in chunks (synthetic or from files)."""
from __future__ import annotations

import hashlib
import json
import os
import threading
from typing import Iterator, Protocol

import numpy as np

from . import synth
from .errors import InputError
from .io import iter_fastq, read_fasta, sha256_file
from .seqtypes import ReadBatch, Reference


class Dataset(Protocol):
    reference: Reference
    n_reads: int
    read_len: int
    fingerprint: str

    def batches(self, chunk_size: int, first_chunk: int = 0) -> Iterator[ReadBatch]: ...


def _check_chunking(chunk_size: int, first_chunk: int) -> None:
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    if first_chunk < 0:
        raise ValueError("first_chunk must be >= 0")


class SyntheticDataset:
    """Reads simulated from a deterministic genome; read i depends only on (seed, i // BLOCK)."""

    def __init__(self, seed: int, n_reads: int, read_len: int = 100, genome_bp: int | None = None,
                 bad_fraction: float = 0.05):
        if n_reads < 0:
            raise ValueError("n_reads must be >= 0")
        if read_len < 30 or read_len > 1000:
            raise ValueError("read_len must be in [30, 1000]")
        if genome_bp is None:
            genome_bp = synth.auto_genome_bp(n_reads, read_len)
        if genome_bp < 5 * read_len or genome_bp < 10_000:
            raise ValueError("genome_bp too small (minimum 10,000 and 5 read lengths)")
        self.seed, self.n_reads, self.read_len = int(seed), int(n_reads), int(read_len)
        self.genome_bp, self.bad_fraction = int(genome_bp), float(bad_fraction)
        self.genome = synth.build_genome(self.seed, self.genome_bp, self.read_len)
        self.reference = self.genome.reference
        params = {"generator": synth.GENERATOR_VERSION, "seed": self.seed, "n_reads": self.n_reads,
                  "read_len": self.read_len, "genome_bp": self.genome_bp,
                  "bad_fraction": self.bad_fraction}
        self.fingerprint = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
        self._cache: dict[int, tuple] = {}
        self._cache_lock = threading.Lock()

    def _block(self, b: int):
        # Shared by runs in several threads (the dashboard): blocks are deterministic, so a
        # race only costs a duplicate generation; the lock keeps the small cache consistent.
        with self._cache_lock:
            hit = self._cache.get(b)
        if hit is None:
            hit = synth.generate_block(self.genome, self.seed, b, self.read_len, self.bad_fraction)
            with self._cache_lock:
                while len(self._cache) >= 2:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[b] = hit
        return hit

    def _range(self, a: int, z: int, which: int):
        B = synth.BLOCK
        parts = []
        for b in range(a // B, (z - 1) // B + 1):
            blk = self._block(b)[which]
            lo, hi = max(a, b * B) - b * B, min(z, (b + 1) * B) - b * B
            if isinstance(blk, dict):
                parts.append({k: v[lo:hi] for k, v in blk.items()})
            else:
                parts.append(blk[lo:hi])
        if which == 2:
            return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        return np.concatenate(parts)

    def batches(self, chunk_size: int, first_chunk: int = 0) -> Iterator[ReadBatch]:
        _check_chunking(chunk_size, first_chunk)
        for a in range(first_chunk * chunk_size, self.n_reads, chunk_size):
            z = min(a + chunk_size, self.n_reads)
            seq = self._range(a, z, 0)
            qual = self._range(a, z, 1)
            yield ReadBatch(a, seq, qual, np.full(z - a, self.read_len, dtype=np.int32))

    def truth(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Per read: contig, pos (0-based leftmost reference base), strand (1 = reverse), kind
        (0 good, 1 low quality, 2 collapsed tail, 3 N run)."""
        stop = min(stop, self.n_reads)
        if stop <= start:
            return {k: np.zeros(0, dtype=np.int32) for k in ("contig", "pos", "strand", "kind")}
        return self._range(start, stop, 2)

    def truth_vcf_text(self, sample: str = "SAMPLE") -> str:
        return synth.truth_vcf_text(self.genome, sample)


def synthetic_dataset(seed: int, n_reads: int, read_len: int = 100,
                      genome_bp: int | None = None) -> SyntheticDataset:
    return SyntheticDataset(seed, n_reads, read_len, genome_bp)


class FileDataset:
    """Reads streamed from a FASTQ(.gz) file, reference from a FASTA(.gz) file.

    Construction validates the whole reads file in one streaming pass (so a malformed file
    fails before any work is written) and records its sha256; batches() re-reads and verifies.
    """

    def __init__(self, reads_path: str, reference_path: str):
        self.reads_path, self.reference_path = str(reads_path), str(reference_path)
        for p, what in ((self.reads_path, "reads"), (self.reference_path, "reference")):
            if not os.path.isfile(p):
                raise InputError(f"{p}: line 0: {what} file not found")
            if os.path.getsize(p) == 0:
                raise InputError(f"{p}: line 1: {what} file is empty")
        self.reference, self.reference_sha256 = read_fasta(self.reference_path)
        self._ref_stat = self._stat(self.reference_path)
        self._reads_stat = self._stat(self.reads_path)
        h = hashlib.sha256()
        n = 0
        max_len = 0
        self._checkpoints = [(0, 0, 0)]  # (reads before, decompressed offset, lines before)
        for parsed, pos, lines in iter_fastq(self.reads_path, h):
            n += len(parsed.length)
            if len(parsed.length):
                max_len = max(max_len, int(parsed.length.max()))
            self._checkpoints.append((n, pos, lines))
        if n == 0:
            raise InputError(f"{self.reads_path}: line 1: no reads in file")
        self.reads_sha256 = h.hexdigest()
        self.n_reads, self.read_len = n, max_len
        self.fingerprint = hashlib.sha256(
            f"files-v1:{self.reads_sha256}:{self.reference_sha256}".encode()).hexdigest()

    @staticmethod
    def _stat(p):
        st = os.stat(p)
        return (st.st_size, st.st_mtime_ns)

    def verify(self) -> None:
        """Raise InputError if either input file changed since the data set was opened."""
        for p, st, sha in ((self.reads_path, self._reads_stat, self.reads_sha256),
                           (self.reference_path, self._ref_stat, self.reference_sha256)):
            if not os.path.isfile(p):
                raise InputError(f"{p}: line 0: input file disappeared")
            if self._stat(p) != st and sha256_file(p) != sha:
                raise InputError(f"{p}: line 1: input file changed since the run started "
                                 f"(sha256 mismatch)")

    def batches(self, chunk_size: int, first_chunk: int = 0) -> Iterator[ReadBatch]:
        _check_chunking(chunk_size, first_chunk)
        self.verify()
        target = first_chunk * chunk_size
        if target >= self.n_reads:
            return
        cps = [c for c in self._checkpoints if c[0] <= target]
        reads_before, offset, lines = cps[-1]
        h = hashlib.sha256()
        pend_seq, pend_qual, pend_len = [], [], []
        pending = 0
        cur = target  # global index of the first pending read
        seen = reads_before
        for parsed, _pos, _lines in iter_fastq(self.reads_path, h, width=self.read_len,
                                              skip_bytes=offset, skip_lines=lines):
            m = len(parsed.length)
            lo = max(0, target - seen)
            seen += m
            if lo >= m:
                continue
            pend_seq.append(parsed.seq[lo:])
            pend_qual.append(parsed.qual[lo:])
            pend_len.append(parsed.length[lo:])
            pending += m - lo
            # strictly more than a chunk: the last chunk waits until the whole file is verified
            if pending > chunk_size:
                seq, qual, ln = (np.concatenate(x) for x in (pend_seq, pend_qual, pend_len))
                k = 0
                while pending - k > chunk_size:
                    yield ReadBatch(cur, seq[k:k + chunk_size], qual[k:k + chunk_size],
                                    ln[k:k + chunk_size])
                    cur += chunk_size
                    k += chunk_size
                pend_seq, pend_qual, pend_len = [seq[k:]], [qual[k:]], [ln[k:]]
                pending -= k
        if seen != self.n_reads or h.hexdigest() != self.reads_sha256:
            raise InputError(f"{self.reads_path}: line 1: input file changed since the run "
                             f"started (sha256 mismatch)")
        if pending:
            seq, qual, ln = (np.concatenate(x) for x in (pend_seq, pend_qual, pend_len))
            for k in range(0, pending, chunk_size):
                yield ReadBatch(cur, seq[k:k + chunk_size], qual[k:k + chunk_size],
                                ln[k:k + chunk_size])
                cur += min(chunk_size, pending - k)


def file_dataset(reads_path: str, reference_path: str) -> FileDataset:
    return FileDataset(reads_path, reference_path)
