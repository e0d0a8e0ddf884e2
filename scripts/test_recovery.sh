#!/usr/bin/env bash
# Demonstration: start a run, kill -9 it mid-alignment, resume it with --resume,
# and check the results equal an uninterrupted run's. Exits non-zero if recovery is wrong.
# Usage: scripts/test_recovery.sh [READS] [CHUNK_SIZE]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
READS="${1:-20000}"; CHUNK="${2:-2000}"
mkdir -p "$WORK/ref" "$WORK/crash"
echo "== uninterrupted run of $READS reads (in $WORK/ref)"
(cd "$WORK/ref" && genwf "$READS" --chunk-size "$CHUNK" --storage ref.db > run.log) || fail "reference run failed"
echo "== run killed with SIGKILL after alignment chunk 2"
set +e
(cd "$WORK/crash" && genwf "$READS" --chunk-size "$CHUNK" --storage crash.db --crash-at align:2 > run.log 2>&1)
code=$?
set -e
[ "$code" -eq 137 ] || fail "expected the run to die by SIGKILL (137), got $code"
ID="$(cat "$WORK/crash/last_execution_id.txt")"
[ ! -e "$WORK/crash/pipeline_results.json" ] || fail "a killed run must not have written results"
echo "   killed execution $ID; resuming"
(cd "$WORK/crash" && genwf --storage crash.db --resume "$ID" > resume.log) || fail "resume failed"
[ "$(comparable "$WORK/ref/pipeline_results.json")" = "$(comparable "$WORK/crash/pipeline_results.json")" ] \
  || fail "resumed results differ from the uninterrupted run"
cmp -s "$WORK/ref/calls.vcf" "$WORK/crash/calls.vcf" || fail "resumed VCF differs"
ok "resumed run $ID equals the uninterrupted run (results and VCF)"
