"""Variant calling: aggregate per-chunk alignment evidence into a genome-wide pileup once, then
genotype regions (quality-aware diploid SNP likelihoods; read-count indel likelihoods)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from . import serial
from .align import AlignChunk
from .seqtypes import BASES, Reference, Region

_LOG10_3 = float(np.log10(3.0))
_INDEL_ERR = 0.02


@dataclass(frozen=True)
class CallParams:
    min_mapq: int = 20  # reads below are ignored
    min_base_qual: int = 13  # bases below are ignored
    min_qual: float = 20.0  # QUAL below -> FILTER LowQual
    min_depth: int = 4  # DP below -> FILTER LowDepth
    min_alt_reads: int = 2  # candidate sites need this many alt observations
    snp_prior: float = 1e-3  # prior of a heterozygous SNP per base (hom-alt: half of it)
    indel_prior: float = 1e-4
    call_indels: bool = True


class VariantCaller:
    """Genome-wide pileup summary (memory grows with the genome, not with the reads)."""

    def __init__(self, reference: Reference, params: CallParams):
        self.reference = reference
        self.params = params
        self.lengths = np.array(reference.lengths, dtype=np.int64)
        self.lin_off = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        self.ref = np.concatenate(reference.seqs) if reference.seqs else np.zeros(0, np.uint8)
        G = len(self.ref)
        self.G = G
        self._cov_d = np.zeros(G + 1, dtype=np.int32)
        self._covq_d = np.zeros(G + 1, dtype=np.int64)
        self._span_d = np.zeros(G + 1, dtype=np.int32)
        self.ref_cnt = np.zeros(G, dtype=np.int32)  # corrections, finalized in _finish
        self.ref_qsum = np.zeros(G, dtype=np.int64)
        self.base_cnt = np.zeros(G * 4, dtype=np.int32)  # non-reference base observations
        self.base_qsum = np.zeros(G * 4, dtype=np.int32)
        self._indel_keys: list[np.ndarray] = []
        self.reads_used = 0

    # -------------------------------------------------------------- aggregation
    def add(self, al: AlignChunk) -> None:
        p = self.params
        keep = al.mapq >= p.min_mapq
        ins_all = np.flatnonzero(al.gap_len < 0)
        ins_len = -al.gap_len[ins_all].astype(np.int64)
        ins_off = np.concatenate([[0], np.cumsum(ins_len)[:-1]]).astype(np.int64)
        k = np.flatnonzero(keep)
        self.reads_used += len(k)
        d1 = self.lin_off[al.contig[k].astype(np.int64)] + al.pos[k]
        g = al.gap_len[k].astype(np.int64)
        qs, qe, b = (al.qs[k].astype(np.int64), al.qe[k].astype(np.int64),
                     al.gap_b[k].astype(np.int64))
        mq = al.meanq[k].astype(np.int64)
        dB = d1 + g
        ins = np.maximum(-g, 0)
        s1, e1 = d1 + qs, d1 + np.minimum(b, qe)
        has2 = b < qe
        s2, e2 = dB[has2] + b[has2] + ins[has2], dB[has2] + qe[has2]
        starts = np.concatenate([s1, s2])
        ends = np.concatenate([e1, e2])
        w = np.concatenate([mq, mq[has2]])
        G1 = self.G + 1
        self._cov_d += (np.bincount(starts, minlength=G1) - np.bincount(ends, minlength=G1))[:G1].astype(np.int32)
        self._covq_d += (np.bincount(starts, weights=w, minlength=G1)
                         - np.bincount(ends, weights=w, minlength=G1))[:G1].astype(np.int64)
        span_end = np.where(has2, dB + qe, e1)
        self._span_d += (np.bincount(s1, minlength=G1) - np.bincount(span_end, minlength=G1))[:G1].astype(np.int32)
        # evidence of the kept reads: remove from the reference-match sums, then re-add
        ek = keep[al.ev_read]
        ev_read, ev_pos = al.ev_read[ek], al.ev_pos[ek]
        ev_base, ev_q = al.ev_base[ek], al.ev_qual[ek].astype(np.int64)
        np.subtract.at(self.ref_cnt, ev_pos, 1)
        np.subtract.at(self.ref_qsum, ev_pos, al.meanq[ev_read].astype(np.int64))
        hq = (ev_q >= p.min_base_qual) & (ev_base < 4)
        is_ref = hq & (ev_base == self.ref[ev_pos])
        np.add.at(self.ref_cnt, ev_pos[is_ref], 1)
        np.add.at(self.ref_qsum, ev_pos[is_ref], ev_q[is_ref])
        alt = hq & ~is_ref
        key = ev_pos[alt] * 4 + ev_base[alt]
        np.add.at(self.base_cnt, key, 1)
        np.add.at(self.base_qsum, key, ev_q[alt].astype(np.int32))
        # indel events: key = (anchor, length, inserted sequence)
        gi = np.flatnonzero(g != 0)
        if len(gi):
            anchor = d1[gi] + b[gi] - 1
            code = np.zeros(len(gi), dtype=np.int64)
            kk = k[gi]
            is_ins = al.gap_len[kk] < 0
            where_ins = np.searchsorted(ins_all, kk[is_ins])
            for j, idx in zip(np.flatnonzero(is_ins), where_ins):
                seq = al.ins_seq[ins_off[idx]:ins_off[idx] + ins_len[idx]]
                c = 0
                for x in seq.tolist():
                    c = c * 5 + int(x) + 1
                code[j] = c
            self._indel_keys.append(np.stack([anchor, g[gi], code], axis=1))

    def _finish(self) -> None:
        cov = np.cumsum(self._cov_d)[:self.G]
        covq = np.cumsum(self._covq_d)[:self.G]
        self.ref_cnt = (self.ref_cnt + cov).astype(np.int32)
        self.ref_qsum = self.ref_qsum + covq
        self.span = np.cumsum(self._span_d)[:self.G].astype(np.int32)
        del self._cov_d, self._covq_d, self._span_d
        if self._indel_keys:
            allk = np.concatenate(self._indel_keys)
            u, c = np.unique(allk, axis=0, return_counts=True)
        else:
            u, c = np.zeros((0, 3), dtype=np.int64), np.zeros(0, dtype=np.int64)
        self.indel_events, self.indel_counts = u, c
        self._indel_keys = []
        # genotype every candidate site once, genome-wide, so that a site's call never depends
        # on how the genome is cut into regions (vectorized math is done on one array)
        recs = self._snps(0, self.G)
        if self.params.call_indels:
            recs += self._indels(0, self.G)
        recs.sort(key=lambda x: (x[0], x[1], x[2], x[3]))
        self._records = recs
        self._rec_lin = np.array([self.lin_off[x[0]] + x[1] for x in recs], dtype=np.int64)

    # -------------------------------------------------------------- genotyping
    def _snps(self, a: int, z: int):
        p = self.params
        ref = self.ref[a:z]
        bc = self.base_cnt[a * 4:z * 4].reshape(-1, 4)
        bq = self.base_qsum[a * 4:z * 4].reshape(-1, 4)
        alt = np.argmax(bc, axis=1)
        n_a = bc[np.arange(len(alt)), alt]
        cand = np.flatnonzero((n_a >= p.min_alt_reads) & (ref < 4))
        if len(cand) == 0:
            return []
        alt, n_a = alt[cand], n_a[cand].astype(np.float64)
        qa = bq[cand, alt].astype(np.float64)
        n_r = self.ref_cnt[a:z][cand].astype(np.float64)
        qr = self.ref_qsum[a:z][cand].astype(np.float64)
        dp = n_r + bc[cand].sum(axis=1)
        mean_qa = qa / np.maximum(n_a, 1)
        mean_qr = np.where(n_r > 0, qr / np.maximum(n_r, 1), 30.0)
        e_a = 10 ** (-mean_qa / 10)
        e_r = 10 ** (-mean_qr / 10)
        l_rr = n_r * np.log10(1 - e_r) + (-qa / 10 - n_a * _LOG10_3)
        l_aa = (-qr / 10 - n_r * _LOG10_3) + n_a * np.log10(1 - e_a)
        l_ra = n_r * np.log10((1 - e_r) / 2 + e_r / 6) + n_a * np.log10((1 - e_a) / 2 + e_a / 6)
        th = p.snp_prior
        ll = np.stack([l_rr + np.log10(1 - 1.5 * th), l_ra + np.log10(th),
                       l_aa + np.log10(th / 2)], axis=1)
        return self._emit(a + cand, ll, dp, n_r, n_a,
                          [chr(BASES[x]) for x in ref[cand]], [chr(BASES[x]) for x in alt])

    def _indels(self, a: int, z: int):
        p = self.params
        ev, cnt = self.indel_events, self.indel_counts
        lo, hi = np.searchsorted(ev[:, 0], [a, z]) if len(ev) else (0, 0)
        if hi <= lo:
            return []
        ev, cnt = ev[lo:hi], cnt[lo:hi]
        # best allele per anchor (most reads; ties: smallest key)
        o = np.lexsort((ev[:, 2], ev[:, 1], -cnt, ev[:, 0]))
        ev, cnt = ev[o], cnt[o]
        first = np.concatenate([[True], ev[1:, 0] != ev[:-1, 0]])
        tot_at = np.add.reduceat(cnt, np.flatnonzero(first))
        ev, cnt = ev[first], cnt[first].astype(np.float64)
        keep = cnt >= p.min_alt_reads
        ev, cnt, tot_at = ev[keep], cnt[keep], tot_at[keep]
        if len(ev) == 0:
            return []
        anchor = ev[:, 0]
        nxt = np.minimum(anchor + 1, self.G - 1)
        dp = np.maximum(self.span[nxt], tot_at).astype(np.float64)
        n_r = np.maximum(dp - tot_at, 0).astype(np.float64)
        e = _INDEL_ERR
        l_rr = n_r * np.log10(1 - e) + cnt * np.log10(e)
        l_ra = (n_r + cnt) * np.log10(0.5)
        l_aa = n_r * np.log10(e) + cnt * np.log10(1 - e)
        th = p.indel_prior
        ll = np.stack([l_rr + np.log10(1 - 1.5 * th), l_ra + np.log10(th),
                       l_aa + np.log10(th / 2)], axis=1)
        refs, alts = [], []
        for (anc, g, code) in ev.tolist():
            if g > 0:
                refs.append(self._ref_str(anc, anc + g + 1))
                alts.append(self._ref_str(anc, anc + 1))
            else:
                s = []
                while code:
                    s.append(chr(BASES[(code % 5) - 1]))
                    code //= 5
                refs.append(self._ref_str(anc, anc + 1))
                alts.append(refs[-1] + "".join(reversed(s)))
        return self._emit(anchor, ll, dp, n_r, cnt, refs, alts)

    def _ref_str(self, a, z) -> str:
        return bytes(BASES[x] for x in self.ref[a:z].tolist()).decode()

    def _emit(self, lin_pos, ll, dp, n_r, n_a, refs, alts):
        p = self.params
        m = ll.max(axis=1, keepdims=True)
        post = 10 ** (ll - m)
        post /= post.sum(axis=1, keepdims=True)
        gt = np.argmax(ll, axis=1)
        qual = np.minimum(-10 * np.log10(np.maximum(post[:, 0], 1e-300)), 3000.0)
        other = np.sort(post, axis=1)[:, :2].sum(axis=1)  # posteriors of the other genotypes
        gq = np.minimum(-10 * np.log10(np.maximum(other, 1e-300)), 99)
        out = []
        ci_all = np.searchsorted(self.lin_off, lin_pos, side="right") - 1
        for i in np.flatnonzero(gt > 0).tolist():
            filt = []
            if qual[i] < p.min_qual:
                filt.append("LowQual")
            if dp[i] < p.min_depth:
                filt.append("LowDepth")
            ci = int(ci_all[i])
            out.append((ci, int(lin_pos[i] - self.lin_off[ci]), refs[i], alts[i],
                        round(float(qual[i]), 2), ";".join(filt) or "PASS",
                        "0/1" if gt[i] == 1 else "1/1", int(round(gq[i])), int(dp[i]),
                        int(n_r[i]), int(n_a[i])))
        return out


def build_caller(reference: Reference, aligns: Sequence[AlignChunk],
                 params: CallParams = CallParams()) -> VariantCaller:
    caller = VariantCaller(reference, params)
    for al in aligns:
        caller.add(al)
    caller._finish()
    return caller


_FIELDS = ("contig", "pos", "ref", "alt", "qual", "filter", "gt", "gq", "dp", "ad_ref", "ad_alt")


@dataclass(frozen=True)
class CallChunk:
    region: Region
    records: tuple  # tuples in _FIELDS order, sorted by (contig, pos, ref, alt); pos 0-based
    counts: dict = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        r = self.region
        return serial.pack("CallChunk", {"region": [r.contig, r.start, r.end],
                                         "records": [list(x) for x in self.records],
                                         "counts": self.counts}, {})

    @classmethod
    def from_bytes(cls, data: bytes) -> "CallChunk":
        meta, _ = serial.unpack("CallChunk", data)
        recs = tuple(tuple(x) for x in meta["records"])
        return cls(Region(*meta["region"]), recs, {k: int(v) for k, v in meta["counts"].items()})


def call_region(caller: VariantCaller, region: Region) -> CallChunk:
    a = int(caller.lin_off[region.contig] + region.start)
    z = int(caller.lin_off[region.contig] + region.end)
    lo, hi = np.searchsorted(caller._rec_lin, [a, z])
    recs = caller._records[lo:hi]
    is_snp = [len(x[2]) == 1 and len(x[3]) == 1 for x in recs]
    counts = {
        "snps": sum(is_snp),
        "indels": len(recs) - sum(is_snp),
        "het": sum(1 for x in recs if x[6] == "0/1"),
        "hom_alt": sum(1 for x in recs if x[6] == "1/1"),
        "filtered": sum(1 for x in recs if x[5] != "PASS"),
        "pass": sum(1 for x in recs if x[5] == "PASS"),
        "bases": int(z - a),
    }
    return CallChunk(region, tuple(recs), counts)
