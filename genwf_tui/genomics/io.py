"""FASTA / FASTQ(.gz) reading and writing. Parsing works on blocks of bytes with numpy."""
from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from typing import Iterator

import numpy as np

from .errors import InputError
from .seqtypes import CODE_TO_ASCII, LUT_READ, LUT_REF, Reference

BLOCK_BYTES = 4 << 20
_GZ_MAGIC = b"\x1f\x8b"


class _HashingReader:
    """A raw file object that hashes every byte read through it."""

    def __init__(self, f, h):
        self.f, self.h = f, h

    def read(self, n=-1):
        b = self.f.read(n)
        self.h.update(b)
        return b

    def readable(self):
        return True

    def close(self):
        self.f.close()


def _open_text_stream(path: str, h):
    raw = open(path, "rb")
    head = raw.read(2)
    raw.seek(0)
    hr = _HashingReader(raw, h)
    if head == _GZ_MAGIC:
        return gzip.GzipFile(fileobj=hr, mode="rb"), hr
    return hr, hr


def _decompressed_blocks(path: str, h, line_hint) -> Iterator[bytes]:
    """Yield decompressed blocks; truncated/corrupt gzip becomes InputError."""
    stream, raw = _open_text_stream(path, h)
    try:
        while True:
            try:
                b = stream.read(BLOCK_BYTES)
            except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as e:
                raise InputError(f"{path}: line {line_hint()}: truncated or corrupt gzip data ({e})")
            if not b:
                break
            yield b
        # drain the raw file so the hash covers every byte (gzip may stop early on garbage)
        while raw.read(BLOCK_BYTES):
            pass
    finally:
        raw.close()


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(BLOCK_BYTES)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


# ----------------------------------------------------------------------------- FASTQ

class ParsedBlock:
    __slots__ = ("seq", "qual", "length")

    def __init__(self, seq, qual, length):
        self.seq, self.qual, self.length = seq, qual, length


def _line_no(first_line: int, local_line: int) -> int:
    return first_line + int(local_line) + 1


def parse_fastq_records(buf: np.ndarray, nl: np.ndarray, first_line: int, path: str,
                        width: int | None) -> ParsedBlock:
    """Parse complete records. buf: uint8 bytes; nl: offsets of the newlines ending each line
    (a multiple of 4 lines). first_line: 0-based number of the block's first line."""
    n_lines = len(nl)
    starts = np.empty(n_lines, dtype=np.int64)
    starts[0] = 0
    starts[1:] = nl[:-1] + 1
    ends = nl.copy()
    cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13)
    ends[cr] -= 1
    hs, ss, ps, qs = starts[0::4], starts[1::4], starts[2::4], starts[3::4]
    bad = (ends[0::4] <= hs) | (buf[np.minimum(hs, len(buf) - 1)] != 64)  # '@'
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise InputError(f"{path}: line {_line_no(first_line, 4 * r)}: bad FASTQ header "
                         f"(expected a line starting with '@')")
    bad = (ends[2::4] <= ps) | (buf[np.minimum(ps, len(buf) - 1)] != 43)  # '+'
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise InputError(f"{path}: line {_line_no(first_line, 4 * r + 2)}: bad FASTQ separator "
                         f"(expected a line starting with '+')")
    slen = ends[1::4] - ss
    qlen = ends[3::4] - qs
    bad = slen != qlen
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise InputError(f"{path}: line {_line_no(first_line, 4 * r + 3)}: quality length "
                         f"{int(qlen[r])} does not match sequence length {int(slen[r])}")
    n = len(ss)
    L = int(slen.max()) if n else 0
    if width is not None:
        if L > width:
            raise InputError(f"{path}: line {_line_no(first_line, 4 * int(np.argmax(slen)) + 1)}: "
                             f"read longer than the file's maximum read length")
        L = width
    ar = np.arange(L, dtype=np.int64)
    inside = ar[None, :] < slen[:, None]
    sidx = np.where(inside, ss[:, None] + ar, 0)
    qidx = np.where(inside, qs[:, None] + ar, 0)
    seq = LUT_READ[buf[sidx]]
    qraw = buf[qidx]
    illegal = (seq == 255) & inside
    if illegal.any():
        r = int(np.flatnonzero(illegal.any(axis=1))[0])
        c = int(np.flatnonzero(illegal[r])[0])
        ch = chr(int(buf[ss[r] + c]))
        raise InputError(f"{path}: line {_line_no(first_line, 4 * r + 1)}: illegal character "
                         f"{ch!r} in sequence")
    badq = ((qraw < 33) | (qraw > 126)) & inside
    if badq.any():
        r = int(np.flatnonzero(badq.any(axis=1))[0])
        raise InputError(f"{path}: line {_line_no(first_line, 4 * r + 3)}: illegal quality "
                         f"character")
    seq[~inside] = 4
    qual = np.where(inside, qraw - 33, 0).astype(np.uint8)
    return ParsedBlock(seq, qual, slen.astype(np.int32))


def iter_fastq(path: str, h, width: int | None = None, skip_bytes: int = 0,
               skip_lines: int = 0) -> Iterator[tuple[ParsedBlock, int, int]]:
    """Yield (parsed block, byte offset after block, lines after block), streaming.

    skip_bytes/skip_lines: start parsing at this (record-aligned) decompressed offset.
    """
    state = {"line": skip_lines}
    carry = b""
    pos = skip_bytes  # decompressed offset where `carry` begins
    skipped = 0
    for block in _decompressed_blocks(path, h, lambda: state["line"] + 1):
        if skipped < skip_bytes:
            take = min(len(block), skip_bytes - skipped)
            skipped += take
            block = block[take:]
            if not block:
                continue
        data = carry + block
        buf = np.frombuffer(data, dtype=np.uint8)
        nl = np.flatnonzero(buf == 10)
        n_rec_lines = (len(nl) // 4) * 4
        if n_rec_lines == 0:
            carry = data
            continue
        nl_use = nl[:n_rec_lines]
        cut = int(nl_use[-1]) + 1
        parsed = parse_fastq_records(buf, nl_use, state["line"], path, width)
        state["line"] += n_rec_lines
        pos += cut
        carry = data[cut:]
        yield parsed, pos, state["line"]
    if skipped < skip_bytes:
        raise InputError(f"{path}: line {skip_lines + 1}: file is shorter than before")
    # tail: the last record may lack a final newline; blank trailing lines are tolerated
    tail = carry
    if tail.strip(b"\r\n\t "):
        if not tail.endswith(b"\n"):
            tail = tail + b"\n"
        buf = np.frombuffer(tail, dtype=np.uint8)
        nl = np.flatnonzero(buf == 10)
        while len(nl) >= 2 and nl[-1] == nl[-2] + 1:  # drop trailing blank lines
            nl = nl[:-1]
        if len(nl) % 4 != 0:
            raise InputError(f"{path}: line {state['line'] + len(nl) - len(nl) % 4 + 1}: "
                             f"truncated FASTQ record (expected 4 lines per record)")
        parsed = parse_fastq_records(buf, nl, state["line"], path, width)
        state["line"] += len(nl)
        pos += len(carry)
        yield parsed, pos, state["line"]


def write_fastq(fh, names: list[str], seq: np.ndarray, qual: np.ndarray, length=None) -> None:
    """Write reads to a binary file handle (vectorized formatting of sequences/qualities)."""
    n, L = seq.shape
    sa = CODE_TO_ASCII[seq]
    qa = (qual + 33).astype(np.uint8)
    rows_s = sa.tobytes()
    rows_q = qa.tobytes()
    out = []
    for i, name in enumerate(names):
        ln = L if length is None else int(length[i])
        a = i * L
        out.append(b"@" + name.encode() + b"\n" + rows_s[a:a + ln] + b"\n+\n" + rows_q[a:a + ln]
                   + b"\n")
    fh.write(b"".join(out))


# ----------------------------------------------------------------------------- FASTA

def read_fasta(path: str) -> tuple[Reference, str]:
    """Read a (optionally gzipped) FASTA reference. Returns (reference, sha256 of the file)."""
    h = hashlib.sha256()
    if not os.path.exists(path):
        raise InputError(f"{path}: line 0: reference file not found")
    data = b"".join(_decompressed_blocks(path, h, lambda: 1))
    if not data.strip():
        raise InputError(f"{path}: line 1: reference file is empty")
    buf = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    if len(buf) and buf[-1] != 10:
        nl = np.concatenate([nl, [len(buf)]])
    starts = np.concatenate([[0], nl[:-1] + 1])
    ends = nl.copy()
    cr = (ends > starts) & (buf[np.minimum(np.maximum(ends - 1, 0), len(buf) - 1)] == 13)
    ends[cr] -= 1
    first = buf[np.minimum(starts, len(buf) - 1)]
    nonblank = ends > starts
    is_head = nonblank & (first == 62)  # '>'
    head_lines = np.flatnonzero(is_head)
    if len(head_lines) == 0:
        raise InputError(f"{path}: line 1: no FASTA header ('>name') — reference has no contigs")
    seq_lines = np.flatnonzero(nonblank & ~is_head)
    if len(seq_lines) and seq_lines[0] < head_lines[0]:
        raise InputError(f"{path}: line {int(seq_lines[0]) + 1}: sequence before the first "
                         f"FASTA header")
    # map every sequence byte to a code; mark bytes belonging to header/newlines as skip
    contig_of_line = np.searchsorted(head_lines, np.arange(len(starts)), side="right") - 1
    names, seqs = [], []
    seen = set()
    line_len = ends - starts
    for k, hl in enumerate(head_lines.tolist()):
        name_bytes = data[starts[hl] + 1:ends[hl]].split()
        if not name_bytes:
            raise InputError(f"{path}: line {hl + 1}: FASTA header without a name")
        name = name_bytes[0].decode("ascii", "replace")
        if name in seen:
            raise InputError(f"{path}: line {hl + 1}: duplicate contig name {name!r}")
        seen.add(name)
        lines = seq_lines[contig_of_line[seq_lines] == k]
        if len(lines) == 0:
            raise InputError(f"{path}: line {hl + 1}: contig {name!r} has no sequence")
        tot = int(line_len[lines].sum())
        # gather bytes of all lines of the contig
        lens = line_len[lines]
        offs = np.repeat(starts[lines] - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
        idx = offs + np.arange(tot)
        raw = buf[idx]
        codes = LUT_REF[raw]
        if (codes == 255).any():
            j = int(np.flatnonzero(codes == 255)[0])
            li = int(lines[np.searchsorted(np.cumsum(lens), j, side="right")])
            raise InputError(f"{path}: line {li + 1}: illegal character {chr(int(raw[j]))!r} "
                             f"in sequence")
        names.append(name)
        seqs.append(codes)
    return Reference.build(names, seqs), h.hexdigest()


def fasta_text(reference: Reference, width: int = 80) -> bytes:
    out = []
    for name, s in zip(reference.names, reference.seqs):
        out.append(b">" + name.encode() + b"\n")
        a = CODE_TO_ASCII[s].tobytes()
        out.append(b"\n".join(a[i:i + width] for i in range(0, len(a), width)) + b"\n")
    return b"".join(out)
