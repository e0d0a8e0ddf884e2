"""The dashboard's core, free of Textual: immutable snapshots, the poller, the run manager.

Nothing under ``genwf_tui.monitor`` imports Textual (a test checks it), so the view model
and the run control can be used and tested without a terminal.
"""

from .poller import Poller
from .runs import ActionRefused, LaunchError, LaunchRequest, RunEvent, RunManager, parse_launch
from .snapshot import INTERRUPTED, RunDetail, RunRow, Snapshot, StepView

__all__ = ["ActionRefused", "INTERRUPTED", "LaunchError", "LaunchRequest", "Poller", "RunDetail", "RunEvent",
           "RunManager", "RunRow", "Snapshot", "StepView", "parse_launch"]
