"""`python -m genwf_tui` opens the dashboard, like `genwf-tui`."""

from .tui.app import main

main()
