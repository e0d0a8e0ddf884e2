#!/usr/bin/env bash
# Quick start, tests: sets up the virtualenv, starts PostgreSQL when this machine can
# (root on Debian with the server installed; see scripts/postgres-dev.sh), runs pytest.
# Extra arguments go to pytest, e.g. ./scripts/test.sh tests/engine -x
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/bootstrap.sh test
if [ -z "${GENWF_TEST_POSTGRES_DSN:-}" ] && [ -x scripts/postgres-dev.sh ]; then
  if [ "$(id -u)" = "0" ] || [ -n "${CI:-}" ]; then
    if dsn_line="$(scripts/postgres-dev.sh)"; then
      eval "$dsn_line"
    else
      echo "test.sh: could not start PostgreSQL (see above)" >&2
      [ -n "${CI:-}" ] && exit 1
    fi
  else
    echo "test.sh: not root: PostgreSQL tests skip unless GENWF_TEST_POSTGRES_DSN is set (see DEVELOPERS.md)" >&2
  fi
fi
export GENWF_TEST_POSTGRES_DSN="${GENWF_TEST_POSTGRES_DSN:-}"
[ -z "$GENWF_TEST_POSTGRES_DSN" ] && unset GENWF_TEST_POSTGRES_DSN
exec "$GENWF_PY" -m pytest "$@"
