"""The seed's recovery demonstrations run for real and must exit 0 (they exit non-zero when
recovery is wrong)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import ROOT


@pytest.mark.parametrize("script, args", [
    ("test_recovery.sh", ["6000", "1000"]),
    ("validate_recovery.sh", ["6000", "1000"]),
    ("test_auto_recovery.sh", ["8000", "500"]),
])
def test_recovery_script(tmp_path, script, args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENOMIC_PIPELINE__")}
    env.update(GENWF_PY=sys.executable, WORK=str(tmp_path))
    p = subprocess.run(["bash", str(ROOT / "scripts" / script), *args], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "OK:" in p.stdout and "FAIL" not in p.stdout + p.stderr
