"""`genwf` run output, list, show, submit, cancel and the seed's files."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from ..conftest import genwf_cmd
from .helpers import execution, genwf, read_results


def test_run_writes_id_results_and_report(tmp_path, genwf_env):
    p = genwf(["2000", "--chunk-size", "500", "--storage", "w.db"], tmp_path, genwf_env, check=0)
    eid = (tmp_path / "last_execution_id.txt").read_text().strip()
    results = read_results(tmp_path)
    assert results["execution_id"] == eid and results["status"] == "COMPLETED"
    assert results["total_reads"] == 2000 and 0 < results["qc_passed"] <= 2000
    assert isinstance(results["variants_called"], int)
    for key in ("compute_time_ms", "coordinate_time_ms", "total_time_ms", "granularity_ratio", "efficiency_percent"):
        assert key in results["metrics"]
    assert results["throughput_reads_per_sec"] > 0
    assert set(results["step_metrics"]) == {"qc", "align", "call"}
    # the database holds the same object
    assert json.loads(execution(tmp_path / "w.db", eid)["output_json"]) == results
    # piped output: plain lines, no carriage returns; the seed's report
    assert "\r" not in p.stdout
    for needle in ("QC", "Alignment", "Variant calling", "Rating:", "reads/s", "granularity ratio"):
        assert needle in p.stdout
    assert (tmp_path / "calls.vcf").read_text().startswith("##fileformat=VCFv4.2")


def test_list_and_show(tmp_path, genwf_env):
    genwf(["1500", "--chunk-size", "500", "--storage", "w.db"], tmp_path, genwf_env, check=0)
    eid = (tmp_path / "last_execution_id.txt").read_text().strip()
    p = genwf(["list", "--storage", "w.db"], tmp_path, genwf_env, check=0)
    assert eid[:8] in p.stdout and "COMPLETED" in p.stdout
    p = genwf(["show", eid[:8], "--storage", "w.db"], tmp_path, genwf_env, check=0)
    assert eid in p.stdout and "3/3" in p.stdout and "History" in p.stdout and "completed" in p.stdout
    p = genwf(["--storage", "w.db", "show", eid, "--json"], tmp_path, genwf_env, check=0)
    assert json.loads(p.stdout)["execution_id"] == eid


def test_submit_then_auto_recover_runs_pending(tmp_path, genwf_env):
    p = genwf(["submit", "1000", "--chunk-size", "500", "--storage", "w.db"], tmp_path, genwf_env, check=0)
    eid = p.stdout.strip()
    assert execution(tmp_path / "w.db", eid)["status"] == "PENDING"
    genwf(["--storage", "w.db", "--auto-recover"], tmp_path, genwf_env, check=0)
    assert execution(tmp_path / "w.db", eid)["status"] == "COMPLETED"


def test_cancel_and_resume_of_a_live_run(tmp_path, genwf_env):
    proc = subprocess.Popen(genwf_cmd("60000", "--chunk-size", "500", "--storage", "w.db"), cwd=tmp_path,
                            env=genwf_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        idf = tmp_path / "last_execution_id.txt"
        deadline = time.monotonic() + 60
        while not idf.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        eid = idf.read_text().strip()
        p = genwf(["--storage", "w.db", "--resume", eid], tmp_path, genwf_env)
        assert p.returncode == 2 and "still running" in p.stderr
        p = genwf(["cancel", eid, "--storage", "w.db"], tmp_path, genwf_env, check=0)
        assert "cancel requested" in p.stdout
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 1, err
        assert "CANCELLED" in out
        assert execution(tmp_path / "w.db", eid)["status"] == "CANCELLED"
        p = genwf(["--storage", "w.db", "--resume", eid], tmp_path, genwf_env)
        assert p.returncode == 1 and "start a new run" in p.stdout
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()


def test_list_and_show_tolerate_other_workflows(tmp_path, genwf_env):
    """The database may hold executions of other workflows (benchmarks, tools): never a traceback."""
    import asyncio

    from genwf_tui.engine import WorkflowExecutor
    from genwf_tui.storage import make_storage

    from ..engine.toy import toy_workflow

    async def toy_run():
        s = make_storage(str(tmp_path / "w.db"))
        await s.open()
        try:
            return (await WorkflowExecutor(s, toy_workflow(), node_id="n").execute({"chunks": 2})).execution_id
        finally:
            await s.close()

    eid = asyncio.run(toy_run())
    p = genwf(["list", "--storage", "w.db"], tmp_path, genwf_env, check=0)
    assert eid[:8] in p.stdout
    p = genwf(["show", eid, "--storage", "w.db"], tmp_path, genwf_env, check=0)
    assert '"chunks": 2' in p.stdout
