# Shared by the recovery demonstration scripts: a scratch directory, the genwf command,
# and a comparison of results minus timing fields.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${GENWF_PY:-}" ]; then source "$ROOT/scripts/bootstrap.sh"; fi
WORK="${WORK:-$(mktemp -d -t genwf-demo.XXXXXX)}"
mkdir -p "$WORK"
genwf() { "$GENWF_PY" -m genwf_tui.cli "$@"; }
comparable() {  # results file -> JSON without timing fields
  "$GENWF_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); [d.pop(k,None) for k in ("metrics","step_metrics","throughput_reads_per_sec","execution_id")]; print(json.dumps(d,sort_keys=True))' "$1"
}
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "OK: $*"; }
