"""The dashboard's core must never import Textual (checked in a clean interpreter)."""

import subprocess
import sys


def test_monitor_never_imports_textual():
    code = ("import sys, genwf_tui.monitor, genwf_tui.monitor.poller, genwf_tui.monitor.runs, "
            "genwf_tui.monitor.snapshot, genwf_tui.monitor.plot; "
            "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')); "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
