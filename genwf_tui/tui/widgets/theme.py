"""Status colours from the active theme's variables (so every theme reads right)."""

from __future__ import annotations

from textual.app import App

STATUS_VARIABLE = {
    "RUNNING": "accent",
    "COMPLETED": "success",
    "FAILED": "error",
    "TIMED_OUT": "error",
    "CANCELLED": "text-muted",
    "PENDING": "secondary",
    "INTERRUPTED": "warning",
}
STEP_VARIABLE = {0: "primary", 1: "accent", 2: "success"}


def theme_color(app: App, variable: str, fallback: str = "white") -> str:
    value = app.theme_variables.get(variable) or app.get_css_variables().get(variable)
    if not value or value.startswith("auto") or " " in value:
        return fallback
    return value


def status_style(app: App, status: str) -> str:
    color = theme_color(app, STATUS_VARIABLE.get(status, "foreground"), "white")
    return f"bold {color}" if status == "INTERRUPTED" else color
