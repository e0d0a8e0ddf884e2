"""VCF 4.2 writing (sorted, deterministic) and a small reader for scoring."""
from __future__ import annotations

import gzip
from typing import Sequence

from .call import CallChunk
from .errors import InputError
from .seqtypes import Reference

_HEADER = [
    "##fileformat=VCFv4.2",
    "##source=genwf-tui",
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="Read depth at the site (MAPQ and base '
    'quality filtered)">',
    '##INFO=<ID=AF,Number=A,Type=Float,Description="Fraction of reads supporting ALT">',
    '##INFO=<ID=INDEL,Number=0,Type=Flag,Description="The variant is an insertion or deletion">',
    '##FILTER=<ID=LowQual,Description="QUAL below the caller threshold">',
    '##FILTER=<ID=LowDepth,Description="DP below the caller threshold">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">',
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
    '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths (REF, ALT)">',
]


def vcf_text(reference: Reference, calls: Sequence[CallChunk], sample: str = "SAMPLE") -> str:
    lines = list(_HEADER)
    lines.insert(2, f"##reference=sha256:{reference.checksum}")
    for name, ln in zip(reference.names, reference.lengths):
        lines.append(f"##contig=<ID={name},length={ln}>")
    lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                            "FORMAT", sample]))
    recs = sorted((r for c in calls for r in c.records), key=lambda x: (x[0], x[1], x[2], x[3]))
    for (ci, pos, ref, alt, qual, filt, gt, gq, dp, ad_r, ad_a) in recs:
        info = f"DP={dp};AF={ad_a / max(dp, 1):.3f}"
        if len(ref) != len(alt):
            info += ";INDEL"
        lines.append(f"{reference.names[ci]}\t{pos + 1}\t.\t{ref}\t{alt}\t{qual:.2f}\t{filt}\t"
                     f"{info}\tGT:GQ:DP:AD\t{gt}:{gq}:{dp}:{ad_r},{ad_a}")
    return "\n".join(lines) + "\n"


def write_vcf(path, reference: Reference, calls: Sequence[CallChunk], sample: str = "SAMPLE") -> None:
    data = vcf_text(reference, calls, sample).encode()
    with open(path, "wb") as f:
        f.write(data)


def read_vcf(path) -> list[tuple[str, int, str, str, str, str]]:
    """(chrom, pos 1-based, ref, alt, filter, GT) per ALT allele; multi-allelic ALTs are split
    and the genotype re-coded per allele (e.g. 1/2 -> 0/1 for each)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    out = []
    try:
        with opener(path, "rt") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip() or line.startswith("#"):
                    continue
                cols = line.rstrip("\r\n").split("\t")
                if len(cols) < 8:
                    raise InputError(f"{path}: line {lineno}: VCF record has fewer than 8 columns")
                try:
                    pos = int(cols[1])
                except ValueError:
                    raise InputError(f"{path}: line {lineno}: bad POS {cols[1]!r}")
                gt = "."
                if len(cols) >= 10:
                    keys = cols[8].split(":")
                    vals = cols[9].split(":")
                    if "GT" in keys and keys.index("GT") < len(vals):
                        gt = vals[keys.index("GT")]
                alts = cols[4].split(",")
                alleles = gt.replace("|", "/").split("/")
                for ai, alt in enumerate(alts, 1):
                    if alt in (".", "*"):
                        continue
                    g = "/".join(sorted(("1" if a == str(ai) else ("0" if a != "." else "."))
                                        for a in alleles))
                    out.append((cols[0], pos, cols[3].upper(), alt.upper(), cols[6], g))
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: line 0: cannot read VCF ({e})")
    return out
