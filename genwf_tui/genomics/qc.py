"""Read QC: trim a collapsed low-quality tail, then drop reads by N content, length and quality."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import serial
from .seqtypes import ReadBatch

TAIL_TRIM_PHRED = 15  # BWA-style tail trimming threshold (sum of (T - q) from the 3' end)
QC_REASONS = ("too_many_n", "low_quality", "too_short")


@dataclass(frozen=True)
class QCParams:
    min_mean_phred: float = 20.0
    max_n_fraction: float = 0.05
    min_length: int = 50
    trim_tail: bool = True


@dataclass(frozen=True)
class QCChunk:
    start: int
    passed: np.ndarray  # bool [n]
    trim_len: np.ndarray  # int32 [n]: usable length after trimming (0 for empty reads)
    counts: dict = field(default_factory=dict)  # reads, passed, low_quality, too_many_n, ...

    @property
    def n(self) -> int:
        return int(len(self.passed))

    def to_bytes(self) -> bytes:
        return serial.pack("QCChunk", {"start": self.start, "counts": self.counts},
                           {"passed": np.packbits(self.passed), "trim_len": self.trim_len,
                            "n": np.array([self.n], dtype=np.int64)})

    @classmethod
    def from_bytes(cls, data: bytes) -> "QCChunk":
        meta, arr = serial.unpack("QCChunk", data)
        n = int(arr["n"][0])
        passed = np.unpackbits(arr["passed"], count=n).astype(bool)
        return cls(int(meta["start"]), passed, arr["trim_len"].astype(np.int32),
                   {k: int(v) for k, v in meta["counts"].items()})


def qc_batch(batch: ReadBatch, params: QCParams = QCParams()) -> QCChunk:
    seq, qual, length = batch.seq, batch.qual, batch.length.astype(np.int32)
    n, L = seq.shape
    ar = np.arange(L, dtype=np.int32)
    inside = ar[None, :] < length[:, None]
    q = qual.astype(np.int16)
    if params.trim_tail and L:
        # BWA -q: trim at argmax_i sum_{j>=i} (T - q_j); Ns count as quality 0
        contrib = np.where(inside, TAIL_TRIM_PHRED - np.where(seq == 4, 0, q), 0).astype(np.int32)
        s = np.cumsum(contrib[:, ::-1], axis=1)[:, ::-1]
        s = np.concatenate([s, np.zeros((n, 1), dtype=s.dtype)], axis=1)
        cut = np.argmax(s, axis=1).astype(np.int32)
        trim_len = np.where(s[np.arange(n), cut] > 0, cut, length).astype(np.int32)
    else:
        trim_len = length.copy()
    keep = ar[None, :] < trim_len[:, None]
    tl = np.maximum(trim_len, 1)
    n_count = ((seq == 4) & keep).sum(axis=1)
    mean_q = np.where(keep, q, 0).sum(axis=1) / tl
    too_many_n = n_count > params.max_n_fraction * tl
    # a read trimmed to nothing, or whose kept part is poor, is low quality; a read whose good
    # start is too short after trimming a collapsed tail is too short
    low_quality = ~too_many_n & ((mean_q < params.min_mean_phred) | (trim_len == 0))
    too_short = ~too_many_n & ~low_quality & (trim_len < params.min_length)
    passed = ~(too_many_n | too_short | low_quality)
    counts = {
        "reads": int(n),
        "passed": int(passed.sum()),
        "too_many_n": int(too_many_n.sum()),
        "too_short": int(too_short.sum()),
        "low_quality": int(low_quality.sum()),
        "trimmed": int((trim_len < length).sum()),
        "bases_in": int(length.sum()),
        "bases_trimmed": int((length - trim_len).sum()),
    }
    return QCChunk(int(batch.start), passed, trim_len, counts)
