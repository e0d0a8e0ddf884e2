"""Screens: the dashboard, the launch form, confirmations and help."""

from .confirm import ConfirmScreen
from .help import HelpScreen
from .launch import LaunchScreen
from .main import MainScreen

__all__ = ["ConfirmScreen", "HelpScreen", "LaunchScreen", "MainScreen"]
