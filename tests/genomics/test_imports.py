import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

FORBIDDEN = ["genwf_tui.engine", "genwf_tui.storage", "genwf_tui.tui", "genwf_tui.pipeline",
             "genwf_tui.cli", "textual", "sqlite3", "_sqlite3", "aiosqlite", "asyncpg"]


def test_genomics_imports_nothing_of_databases_engine_or_ui():
    code = ("import sys, genwf_tui.genomics as g; "
            "g.synthetic_dataset(1, 100); "
            f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": ROOT}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"genomics imported: {out.stdout.strip()}"


def test_public_api_names():
    import genwf_tui.genomics as g
    for name in ("InputError", "Reference", "ReadBatch", "Dataset", "synthetic_dataset",
                 "file_dataset", "QCParams", "qc_batch", "QCChunk", "build_index", "align_batch",
                 "AlignChunk", "plan_regions", "Region", "build_caller", "call_region",
                 "CallChunk", "CallParams", "summarize", "write_vcf", "vcf_text",
                 "simulate_to_dir", "score_vcfs"):
        assert hasattr(g, name), name
