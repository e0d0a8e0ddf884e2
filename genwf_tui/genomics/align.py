"""Read alignment: a sorted k-mer index of the reference, seed voting, ungapped verification
with soft clipping, and a single-indel (split diagonal) refinement. Fully vectorized.

Coordinates: the index concatenates contigs with PAD Ns between them ("cat" coordinates);
AlignChunk stores contig-local positions and, for pileup evidence, "linear" positions
(contigs concatenated without padding).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import serial
from .qc import QCChunk
from .seqtypes import COMPLEMENT, ReadBatch, Reference

K = 15  # seed length
SEED_STEP = 12  # seeds start every SEED_STEP bases (overlapping a little)
MAX_OCC = 32  # seeds with more reference occurrences are ignored (repeats)
PAD = 1024  # Ns between contigs in the index
MAX_GAP = 16  # diagonals closer than this belong to one candidate (indel)
EVIDENCE_Q = 20  # aligned bases below this quality are kept individually as evidence
MIN_SCORE = 30 * 6  # minimal alignment score (30 matching bases) to call a read aligned
SCALE = 6  # integer scores: match = +SCALE, mismatch = -min(q, 30) (Phred units)
GAP_OPEN, GAP_EXT = 6 * SCALE, 1 * SCALE
MAX_MAPQ = 60


@dataclass(frozen=True)
class RefIndex:
    checksum: str
    names: tuple[str, ...]
    lengths: np.ndarray  # int64 per contig
    cat: np.ndarray  # uint8 concatenated reference with padding
    cat_off: np.ndarray  # int64 start of each contig in cat
    lin_off: np.ndarray  # int64 start of each contig in linear coordinates
    kmers: np.ndarray  # uint32 sorted k-mer codes
    kpos: np.ndarray  # int32 cat positions of the sorted k-mers

    @property
    def nbytes(self) -> int:
        return int(self.cat.nbytes + self.kmers.nbytes + self.kpos.nbytes)


def build_index(reference: Reference) -> RefIndex:
    lengths = np.array(reference.lengths, dtype=np.int64)
    parts = [np.full(PAD, 4, dtype=np.uint8)]
    cat_off = []
    pos = PAD
    for s in reference.seqs:
        cat_off.append(pos)
        parts += [s, np.full(PAD, 4, dtype=np.uint8)]
        pos += len(s) + PAD
    cat = np.concatenate(parts)
    lin_off = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    M = len(cat) - K + 1
    km = np.zeros(M, dtype=np.uint32)
    low = (cat & 3).astype(np.uint32)
    for t in range(K):
        km <<= np.uint32(2)
        km |= low[t:t + M]
    isn = np.concatenate([[0], np.cumsum(cat >= 4)])
    ok = (isn[K:K + M] - isn[:M]) == 0
    kpos = np.flatnonzero(ok).astype(np.int32)
    kv = km[kpos]
    order = np.argsort(kv, kind="stable")
    return RefIndex(reference.checksum, reference.names, lengths, cat,
                    np.array(cat_off, dtype=np.int64), lin_off, kv[order], kpos[order])


@dataclass(frozen=True)
class AlignChunk:
    start: int
    n: int
    read: np.ndarray  # int32 [a] index (within chunk) of each aligned read
    contig: np.ndarray  # int16 [a]
    pos: np.ndarray  # int32 [a] contig position of oriented read base 0 (left part)
    strand: np.ndarray  # int8 [a] 1 = reverse
    mapq: np.ndarray  # uint8 [a]
    qs: np.ndarray  # int16 [a] aligned read interval [qs, qe) (oriented coordinates)
    qe: np.ndarray  # int16 [a]
    gap_b: np.ndarray  # int16 [a] read offset of the indel (or qe when none)
    gap_len: np.ndarray  # int16 [a] >0 deletion, <0 insertion, 0 none
    meanq: np.ndarray  # uint8 [a] mean quality of high-quality reference-matching bases
    ev_read: np.ndarray  # int32 [e] index into the aligned arrays
    ev_pos: np.ndarray  # int64 [e] linear reference position
    ev_base: np.ndarray  # uint8 [e]
    ev_qual: np.ndarray  # uint8 [e]
    ins_seq: np.ndarray  # uint8 inserted bases of insertion reads, in order
    counts: dict = field(default_factory=dict)

    _ARRAYS = ("read", "contig", "pos", "strand", "mapq", "qs", "qe", "gap_b", "gap_len",
               "meanq", "ev_read", "ev_pos", "ev_base", "ev_qual", "ins_seq")

    def to_bytes(self) -> bytes:
        return serial.pack("AlignChunk", {"start": self.start, "n": self.n, "counts": self.counts},
                           {k: getattr(self, k) for k in self._ARRAYS})

    @classmethod
    def from_bytes(cls, data: bytes) -> "AlignChunk":
        meta, arr = serial.unpack("AlignChunk", data)
        return cls(int(meta["start"]), int(meta["n"]), **{k: arr[k] for k in cls._ARRAYS},
                   counts={k: int(v) for k, v in meta["counts"].items()})


def _popcount(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x).astype(np.int64)
    b = x.view(np.uint8).reshape(len(x), 8)
    return np.unpackbits(b, axis=1).sum(axis=1).astype(np.int64)


def _seed_offsets(L: int) -> np.ndarray:
    if L < K:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate([np.arange(0, L - K + 1, SEED_STEP), [L - K]])).astype(np.int64)


def _kmers(seqs: np.ndarray, offs: np.ndarray):
    """k-mer codes (uint32) and validity for seeds at offs of each row."""
    m = seqs.shape[0]
    km = np.zeros((m, len(offs)), dtype=np.uint32)
    bad = np.zeros((m, len(offs)), dtype=bool)
    for t in range(K):
        col = seqs[:, offs + t]
        km <<= np.uint32(2)
        km |= (col & 3).astype(np.uint32)
        bad |= col >= 4
    return km, ~bad


def _base_scores(index: RefIndex, O: np.ndarray, Q: np.ndarray, diag: np.ndarray):
    """Per-base int16 score of oriented reads O placed at cat diagonal diag: +SCALE match,
    -min(q,30) mismatch (reference N counts as mismatch), 0 for read N."""
    L = O.shape[1]
    win = index.cat[diag[:, None] + np.arange(L)]
    pen = -np.minimum(Q, 30).astype(np.int16)
    sc = np.where(win != O, pen, np.int16(SCALE))
    sc[O >= 4] = 0
    return sc, win


def _kadane(sc: np.ndarray):
    """Best-scoring contiguous interval [qs, qe) of each row (longest on ties)."""
    m, L = sc.shape
    c = np.zeros((m, L + 1), dtype=np.int16)
    np.cumsum(sc, axis=1, out=c[:, 1:])
    runmin = np.minimum.accumulate(c, axis=1)
    gain = c - runmin
    qe = np.argmax(gain, axis=1)
    best = gain[np.arange(m), qe]
    # qs: first index <= qe where c == runmin[qe]
    target = runmin[np.arange(m), qe]
    ar = np.arange(L + 1)
    cand = (c <= target[:, None]) & (ar[None, :] <= qe[:, None])
    qs = np.argmax(cand, axis=1)
    full = c[:, L]
    return qs, qe, best, full


def align_batch(index: RefIndex, batch: ReadBatch, qc: QCChunk) -> AlignChunk:
    n, L = batch.seq.shape
    sel = np.flatnonzero(qc.passed).astype(np.int32)
    m = len(sel)
    ar = np.arange(L)
    ln = qc.trim_len[sel].astype(np.int64)
    inside = ar[None, :] < ln[:, None]
    S = np.where(inside, batch.seq[sel], np.uint8(4))
    Q = np.where(inside, batch.qual[sel], np.uint8(0))
    ridx = ln[:, None] - 1 - ar[None, :]
    rvalid = ridx >= 0
    ridx = np.maximum(ridx, 0)
    rows = np.arange(m)[:, None]
    R = np.where(rvalid, COMPLEMENT[S[rows, ridx]], np.uint8(4))
    RQ = np.where(rvalid, Q[rows, ridx], np.uint8(0))

    # ---- seeding
    offs = _seed_offsets(L)
    ns = len(offs)
    kf, vf = _kmers(S, offs)
    kr, vr = _kmers(R, offs)
    km = np.concatenate([kf.ravel(), kr.ravel()])
    valid = np.concatenate([vf.ravel(), vr.ravel()])
    qid = np.flatnonzero(valid)
    qk = km[qid]
    order = np.argsort(qk, kind="stable")
    qk_sorted = qk[order]
    lo = np.searchsorted(index.kmers, qk_sorted, side="left")
    hi = np.searchsorted(index.kmers, qk_sorted, side="right")
    cnt = hi - lo
    use = (cnt > 0) & (cnt <= MAX_OCC)
    qid, lo, cnt = qid[order][use], lo[use], cnt[use]
    total = int(cnt.sum())
    rep = np.repeat(np.arange(len(cnt)), cnt)
    within = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    hitpos = index.kpos[lo[rep] + within].astype(np.int64)
    q = qid[rep]
    strand = (q >= m * ns).astype(np.int64)
    qq = q - strand * m * ns
    r = qq // ns
    diag = hitpos - offs[qq % ns]
    seed = qq % ns
    diag_ok = diag >= 0
    r, strand, diag, seed = r[diag_ok], strand[diag_ok], diag[diag_ok], seed[diag_ok]

    # ---- voting: clusters of nearby diagonals per (read, strand); a cluster's votes are the
    # number of distinct seeds hitting it (so tandem repeats do not inflate a locus)
    key = ((r * 2 + strand) << 34) | diag
    ho = np.argsort(key, kind="stable")
    key = key[ho]
    seed = seed[ho]
    if len(key):
        newk = np.concatenate([[True], key[1:] != key[:-1]])
        ukey = key[newk]
        uc = np.diff(np.concatenate([np.flatnonzero(newk), [len(key)]]))
    else:
        newk = np.zeros(0, dtype=bool)
        ukey = key
        uc = np.zeros(0, dtype=np.int64)
    urs = ukey >> 34
    ud = ukey & ((1 << 34) - 1)
    newc = np.ones(len(ukey), dtype=bool)
    if len(ukey):
        newc[1:] = (urs[1:] != urs[:-1]) | (ud[1:] - ud[:-1] > MAX_GAP)
    cid = np.cumsum(newc) - 1
    nclu = int(newc.sum())
    cstart = np.flatnonzero(newc)
    if nclu and ns <= 64:
        # hits are sorted by cluster: OR the seeds' bits per cluster and count them
        hit_start = np.flatnonzero(newk)[cstart]
        masks = np.bitwise_or.reduceat(np.left_shift(np.uint64(1), seed.astype(np.uint64)),
                                       hit_start)
        cvotes = _popcount(masks)
    else:
        hit_cid = cid[np.cumsum(newk) - 1]
        pairs = np.unique(hit_cid * ns + seed)
        cvotes = np.bincount(pairs // ns, minlength=nclu)
    # best and second diagonal within each cluster
    o = np.lexsort((ud, -uc, cid))
    first = np.concatenate([[True], cid[o][1:] != cid[o][:-1]]) if nclu else np.zeros(0, bool)
    c_d1 = ud[o][first]
    second_mask = np.zeros(len(o), dtype=bool)
    if nclu:
        fidx = np.flatnonzero(first)
        sidx = fidx + 1
        okk = sidx < len(o)
        sidx = sidx[okk]
        okk2 = cid[o][sidx] == cid[o][fidx[okk]]
        second_mask[sidx[okk2]] = True
    c_d2 = np.full(nclu, -1, dtype=np.int64)
    c_d2[cid[o][second_mask]] = ud[o][second_mask]
    c_rs = urs[cstart]
    c_read = c_rs >> 1
    c_strand = c_rs & 1
    # top two clusters per read
    o2 = np.lexsort((c_d1, -cvotes, c_read))
    cr = c_read[o2]
    isfirst = np.concatenate([[True], cr[1:] != cr[:-1]]) if nclu else np.zeros(0, bool)
    rank = np.arange(nclu) - np.maximum.accumulate(np.where(isfirst, np.arange(nclu), 0))
    cand = o2[rank < 2]
    cand_rank = rank[rank < 2]

    # ---- verify candidates (ungapped, with soft clipping)
    cread = c_read[cand]
    cstr = c_strand[cand]
    cdiag = c_d1[cand]
    O = np.where(cstr[:, None] == 1, R[cread], S[cread])
    OQ = np.where(cstr[:, None] == 1, RQ[cread], Q[cread])
    sc, _win = _base_scores(index, O, OQ, cdiag)
    qs, qe, best, _full = _kadane(sc)
    cscore = best
    # choose per read: best score (ties: higher votes = lower rank)
    o3 = np.lexsort((cand_rank, -cscore, cread))
    rr = cread[o3]
    f3 = np.concatenate([[True], rr[1:] != rr[:-1]]) if len(rr) else np.zeros(0, bool)
    top = o3[f3]
    read_top = cread[top]
    second_score = np.full(m, np.iinfo(np.int32).min, dtype=np.int32)
    sec = o3[~f3]
    second_score[cread[sec]] = cscore[sec]

    a_read = read_top
    a_str = cstr[top]
    a_d1 = cdiag[top]
    a_qs = qs[top].astype(np.int64)
    a_qe = qe[top].astype(np.int64)
    a_score = cscore[top].astype(np.int32)
    a_sc = sc[top]
    a_O, a_OQ = O[top], OQ[top]
    a_clu = cand[top]
    a_b = a_qe.copy()
    a_g = np.zeros(len(top), dtype=np.int64)
    a_dB = a_d1.copy()

    # ---- single-indel refinement where the chosen cluster has a second diagonal
    d2 = c_d2[a_clu]
    gi = np.flatnonzero(d2 >= 0)
    if len(gi):
        sc2, _ = _base_scores(index, a_O[gi], a_OQ[gi], d2[gi])
        sc1 = a_sc[gi]
        lng = ln[a_read[gi]]
        best_g = np.full(len(gi), np.iinfo(np.int32).min, dtype=np.int32)
        best_b = np.zeros(len(gi), dtype=np.int64)
        best_left = a_d1[gi].copy()
        best_right = a_d1[gi].copy()
        for left_sc, right_sc, dl, dr in ((sc1, sc2, a_d1[gi], d2[gi]), (sc2, sc1, d2[gi], a_d1[gi])):
            g = dr - dl  # >0 deletion, <0 insertion
            P = np.zeros((len(gi), L + 1), dtype=np.int32)
            np.cumsum(left_sc, axis=1, out=P[:, 1:])
            Sx = np.zeros((len(gi), L + 1), dtype=np.int32)
            Sx[:, :L] = np.cumsum(right_sc[:, ::-1], axis=1)[:, ::-1]
            ins = np.maximum(-g, 0)
            bb = ar[None, :] + ins[:, None]
            tot = P[:, :L] + Sx[np.arange(len(gi))[:, None], np.minimum(bb, L)]
            okb = (ar[None, :] >= 1) & (bb < lng[:, None])
            tot = np.where(okb, tot, np.iinfo(np.int32).min // 2)
            b = np.argmax(tot, axis=1)
            v = (tot[np.arange(len(gi)), b] - (GAP_OPEN + GAP_EXT * np.abs(g))).astype(np.int32)
            better = v > best_g
            best_g = np.where(better, v, best_g)
            best_b = np.where(better, b, best_b)
            best_left = np.where(better, dl, best_left)
            best_right = np.where(better, dr, best_right)
        use_g = best_g > a_score[gi]
        gsel = gi[use_g]
        a_score[gsel] = best_g[use_g]
        a_d1[gsel] = best_left[use_g]
        a_dB[gsel] = best_right[use_g]
        a_g[gsel] = (best_right - best_left)[use_g]
        a_b[gsel] = best_b[use_g]
        a_qs[gsel] = 0
        a_qe[gsel] = ln[a_read[gsel]]

    # mapping quality from the score gap to the second-best location
    sec_sc = second_score[a_read]
    has_sec = sec_sc > np.iinfo(np.int32).min
    mapq = np.where(has_sec, np.clip(a_score.astype(np.int64) - sec_sc, 0, MAX_MAPQ), MAX_MAPQ)
    aligned = a_score >= MIN_SCORE

    # contig of the alignment (the aligned part must lie inside one contig)
    first_ref = a_d1 + a_qs
    last_ref = np.where(a_b < a_qe, a_dB, a_d1) + a_qe - 1
    ci = np.searchsorted(index.cat_off, first_ref, side="right") - 1
    ci = np.maximum(ci, 0)
    inside_c = (first_ref >= index.cat_off[ci]) & (last_ref < index.cat_off[ci] + index.lengths[ci])
    aligned &= inside_c
    keep = np.flatnonzero(aligned)
    a_read, a_str, a_d1, a_dB = a_read[keep], a_str[keep], a_d1[keep], a_dB[keep]
    a_qs, a_qe, a_b, a_g = a_qs[keep], a_qe[keep], a_b[keep], a_g[keep]
    mapq, ci = mapq[keep].astype(np.uint8), ci[keep]
    a_O, a_OQ = a_O[keep], a_OQ[keep]
    na = len(keep)

    # ---- evidence: reference position of every aligned read base
    ins = np.maximum(-a_g, 0)
    i_ = ar[None, :]
    refp = np.where(i_ < a_b[:, None], a_d1[:, None] + i_, a_dB[:, None] + i_)
    in_aln = (i_ >= a_qs[:, None]) & (i_ < a_qe[:, None]) & \
        ~((i_ >= a_b[:, None]) & (i_ < (a_b + ins)[:, None]))
    refb = index.cat[np.where(in_aln, refp, 0)]
    is_ev = in_aln & ((a_O != refb) | (a_OQ < EVIDENCE_Q))
    hq_match = in_aln & ~is_ev
    nmatch = hq_match.sum(axis=1)
    qsum = np.where(hq_match, a_OQ, 0).sum(axis=1, dtype=np.int64)
    meanq = np.where(nmatch > 0, np.rint(qsum / np.maximum(nmatch, 1)), 0).astype(np.uint8)
    er, ec = np.nonzero(is_ev)
    shift = (index.lin_off - index.cat_off)[ci]
    ev_pos = refp[er, ec] + shift[er]
    ins_rows = np.flatnonzero(a_g < 0)
    if len(ins_rows):
        im = (i_ >= a_b[ins_rows, None]) & (i_ < (a_b + ins)[ins_rows, None])
        ins_seq = a_O[ins_rows][im]
    else:
        ins_seq = np.zeros(0, dtype=np.uint8)

    pos_local = a_d1 - index.cat_off[ci]
    counts = {
        "reads": int(n),
        "qc_passed": int(m),
        "aligned": int(na),
        "unmapped": int(m - na),
        "low_mapq": int((mapq < 20).sum()),
        "mapq0": int((mapq == 0).sum()),
        "reverse": int(a_str.sum()),
        "clipped": int(((a_qs > 0) | (a_qe < ln[a_read])).sum()),
        "with_indel": int((a_g != 0).sum()),
        "aligned_bases": int(in_aln.sum()),
        "mismatches": int((in_aln & (a_O != refb) & (a_O < 4)).sum()),
    }
    return AlignChunk(
        start=int(batch.start), n=int(n),
        read=sel[a_read].astype(np.int32), contig=ci.astype(np.int16),
        pos=pos_local.astype(np.int32), strand=a_str.astype(np.int8), mapq=mapq,
        qs=a_qs.astype(np.int16), qe=a_qe.astype(np.int16), gap_b=a_b.astype(np.int16),
        gap_len=a_g.astype(np.int16), meanq=meanq,
        ev_read=er.astype(np.int32), ev_pos=ev_pos.astype(np.int64),
        ev_base=a_O[er, ec].astype(np.uint8), ev_qual=a_OQ[er, ec].astype(np.uint8),
        ins_seq=ins_seq.astype(np.uint8), counts=counts)
