"""The run's result summary: deterministic, JSON-able, independent of chunk/region sizes."""
from __future__ import annotations

from typing import Sequence

from .align import AlignChunk
from .call import CallChunk
from .qc import QCChunk


def _sum(dicts) -> dict:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + int(v)
    return dict(sorted(out.items()))


def summarize(qc: Sequence[QCChunk], aligns: Sequence[AlignChunk], calls: Sequence[CallChunk]) -> dict:
    q = _sum(c.counts for c in qc)
    a = _sum(c.counts for c in aligns)
    v = _sum(c.counts for c in calls)
    v.pop("bases", None)
    total = q.get("reads", 0)
    passed = q.get("passed", 0)
    aligned = a.get("aligned", 0)
    return {
        "total_reads": total,
        "qc_passed": passed,
        "qc_pass_rate": round(passed / total, 6) if total else 0.0,
        "qc": q,
        "aligned": aligned,
        "alignment_rate": round(aligned / passed, 6) if passed else 0.0,
        "alignment": a,
        "variants_called": v.get("snps", 0) + v.get("indels", 0),
        "variants_pass": v.get("pass", 0),
        "calling": v,
    }
