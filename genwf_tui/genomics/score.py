"""Accuracy of a call set against a truth VCF: SNPs and indels scored separately."""
from __future__ import annotations

from .vcf import read_vcf


def _metrics(truth: dict, calls: dict) -> dict:
    tp_keys = truth.keys() & calls.keys()
    tp, fp, fn = len(tp_keys), len(calls) - len(tp_keys), len(truth) - len(tp_keys)
    gt_ok = sum(1 for k in tp_keys if truth[k] == calls[k])
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"truth": len(truth), "called": len(calls), "tp": tp, "fp": fp, "fn": fn,
            "precision": round(precision, 6), "recall": round(recall, 6), "f1": round(f1, 6),
            "genotype_concordance": round(gt_ok / tp, 6) if tp else 0.0}


def _split(records, pass_only: bool):
    snp, indel = {}, {}
    for chrom, pos, ref, alt, filt, gt in records:
        if pass_only and filt not in ("PASS", "."):
            continue
        # trim a shared suffix so equivalent indel spellings match
        while len(ref) > 1 and len(alt) > 1 and ref[-1] == alt[-1]:
            ref, alt = ref[:-1], alt[:-1]
        key = (chrom, pos, ref, alt)
        (snp if len(ref) == 1 and len(alt) == 1 else indel)[key] = gt
    return snp, indel


def score_vcfs(truth_path, calls_path) -> dict:
    """SNP and indel precision/recall/F1 and genotype concordance (calls: PASS records only)."""
    t_snp, t_indel = _split(read_vcf(truth_path), pass_only=False)
    c_snp, c_indel = _split(read_vcf(calls_path), pass_only=True)
    return {"snp": _metrics(t_snp, c_snp), "indel": _metrics(t_indel, c_indel)}
