"""Widgets of the dashboard; their styles live in ``../app.tcss``."""

from .detail import DetailPane, GranularityTable, HistoryTable, StepsPanel, ThroughputPlot
from .runs_table import COLUMNS, RunsTable
from .status import CountsBar, StatusLine

__all__ = ["COLUMNS", "CountsBar", "DetailPane", "GranularityTable", "HistoryTable", "RunsTable", "StatusLine",
           "StepsPanel", "ThroughputPlot"]
