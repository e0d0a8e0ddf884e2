"""Genomics for genwf-tui: pure numpy, deterministic, no database or engine imports.

See docs/genomics-api.md for the contract with pipeline.py.
"""
from .align import AlignChunk, RefIndex, align_batch, build_index
from .call import CallChunk, CallParams, VariantCaller, build_caller, call_region
from .dataset import Dataset, FileDataset, SyntheticDataset, file_dataset, synthetic_dataset
from .errors import InputError
from .qc import QCChunk, QCParams, qc_batch
from .score import score_vcfs
from .seqtypes import ReadBatch, Reference, Region, plan_regions
from .simulate import simulate_to_dir
from .summary import summarize
from .vcf import vcf_text, write_vcf

__all__ = [
    "AlignChunk", "CallChunk", "CallParams", "Dataset", "FileDataset", "InputError", "QCChunk",
    "QCParams", "ReadBatch", "RefIndex", "Reference", "Region", "SyntheticDataset",
    "VariantCaller", "align_batch", "build_caller", "build_index", "call_region", "file_dataset",
    "plan_regions", "qc_batch", "score_vcfs", "simulate_to_dir", "summarize", "synthetic_dataset",
    "vcf_text", "write_vcf",
]
