#!/usr/bin/env bash
# Create (or reuse) the project's virtualenv and install genwf-tui into it.
# Sourced by run.sh and test.sh; prints the python to use on its last line when run directly.
# Usage: source scripts/bootstrap.sh [extra]   (extra: "test", "bench", "test,bench")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EXTRAS="${1:-}"
if [ -n "${VIRTUAL_ENV:-}" ]; then
  PY="$VIRTUAL_ENV/bin/python"
else
  if [ ! -x "$ROOT/.venv/bin/python" ]; then
    python3 -m venv "$ROOT/.venv"
  fi
  PY="$ROOT/.venv/bin/python"
fi
SPEC="$ROOT"
[ -n "$EXTRAS" ] && SPEC="$ROOT[$EXTRAS]"
# Reinstall only when pyproject.toml changed since the last install (keeps reruns fast).
STAMP="$("$PY" -c 'import sys;print(sys.prefix)')/.genwf-installed-${EXTRAS:-core}"
if [ ! -f "$STAMP" ] || [ "$ROOT/pyproject.toml" -nt "$STAMP" ]; then
  "$PY" -m pip install --quiet --disable-pip-version-check -e "$SPEC"
  touch "$STAMP"
fi
export GENWF_PY="$PY"
