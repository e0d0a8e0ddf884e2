"""Plain data carried between the steps: reference, read batches, regions, base codes."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

A, C, G, T, N = 0, 1, 2, 3, 4
BASES = b"ACGTN"
# code -> complement code (N stays N)
COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.uint8)
# ASCII -> code; 255 = illegal. IUPAC ambiguity codes are legal in a reference (become N).
_LUT_READ = np.full(256, 255, dtype=np.uint8)
for _i, _ch in enumerate("ACGTN"):
    _LUT_READ[ord(_ch)] = _i
    _LUT_READ[ord(_ch.lower())] = _i
LUT_READ = _LUT_READ
_LUT_REF = _LUT_READ.copy()
for _ch in "RYSWKMBDHVU.-":
    _LUT_REF[ord(_ch)] = 4
    _LUT_REF[ord(_ch.lower())] = 4
LUT_REF = _LUT_REF
CODE_TO_ASCII = np.frombuffer(BASES, dtype=np.uint8).copy()


def decode(codes: np.ndarray) -> str:
    return CODE_TO_ASCII[np.asarray(codes, dtype=np.uint8)].tobytes().decode("ascii")


def reference_checksum(names, seqs) -> str:
    h = hashlib.sha256()
    for name, seq in zip(names, seqs):
        h.update(name.encode() + b"\0")
        h.update(np.ascontiguousarray(seq, dtype=np.uint8).tobytes())
        h.update(b"\1")
    return h.hexdigest()


@dataclass(frozen=True)
class Reference:
    names: tuple[str, ...]
    seqs: tuple[np.ndarray, ...]  # uint8 codes A=0 C=1 G=2 T=3 N=4
    checksum: str

    @classmethod
    def build(cls, names, seqs) -> "Reference":
        seqs = tuple(np.ascontiguousarray(s, dtype=np.uint8) for s in seqs)
        names = tuple(str(n) for n in names)
        return cls(names, seqs, reference_checksum(names, seqs))

    @property
    def lengths(self) -> tuple[int, ...]:
        return tuple(int(len(s)) for s in self.seqs)

    @property
    def total_bp(self) -> int:
        return int(sum(self.lengths))

    def __hash__(self):  # arrays are unhashable; the checksum identifies the reference
        return hash(self.checksum)

    def __eq__(self, other):
        return isinstance(other, Reference) and other.checksum == self.checksum


@dataclass(frozen=True)
class ReadBatch:
    start: int  # global index of the first read
    seq: np.ndarray  # uint8 [n, L] codes 0..4 (pad = 4 beyond length)
    qual: np.ndarray  # uint8 [n, L] Phred (pad = 0)
    length: np.ndarray  # int32 [n]

    @property
    def n(self) -> int:
        return int(self.seq.shape[0])

    def __len__(self) -> int:
        return self.n


@dataclass(frozen=True, order=True)
class Region:
    contig: int
    start: int  # 0-based, inclusive
    end: int  # 0-based, exclusive


def plan_regions(reference: Reference, region_bp: int) -> list[Region]:
    """Split every contig into consecutive regions of at most region_bp bases."""
    if region_bp <= 0:
        raise ValueError("region_bp must be positive")
    out: list[Region] = []
    for ci, length in enumerate(reference.lengths):
        for s in range(0, length, region_bp):
            out.append(Region(ci, s, min(s + region_bp, length)))
    return out
