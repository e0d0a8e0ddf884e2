#!/usr/bin/env bash
# Quick start, main job.
#   ./scripts/run.sh            -> the dashboard (genwf-tui) on ./workflow.db
#   ./scripts/run.sh 1000 [...] -> a headless run of 1000 reads (genwf 1000 ...), as in the seed
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
if [ $# -eq 0 ]; then
  exec "$GENWF_PY" -m genwf_tui.tui.app
else
  exec "$GENWF_PY" -m genwf_tui.cli "$@"
fi
