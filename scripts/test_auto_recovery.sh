#!/usr/bin/env bash
# Demonstration: kill -9 two runs at random moments, then `genwf --auto-recover` finds and
# completes both; results must equal uninterrupted runs. Exits non-zero if recovery is wrong.
# Usage: scripts/test_auto_recovery.sh [READS] [CHUNK_SIZE]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
READS="${1:-16000}"; CHUNK="${2:-1000}"
cd "$WORK"
for seed in 1 2; do
  mkdir -p "ref$seed"
  (cd "ref$seed" && genwf "$READS" --chunk-size "$CHUNK" --seed "$seed" --storage ref.db > run.log) || fail "reference run $seed failed"
done
ids=()
for seed in 1 2; do
  mkdir -p "crash$seed"
  (cd "crash$seed" && exec "$GENWF_PY" -m genwf_tui.cli "$READS" --chunk-size "$CHUNK" --seed "$seed" --storage ../shared.db > run.log 2>&1) &
  pid=$!
  # kill -9 once the run has committed a random number of checkpoints
  target=$(( (RANDOM % 12) + 2 ))
  for _ in $(seq 1 2000); do
    if [ -s "crash$seed/last_execution_id.txt" ]; then
      n=$("$GENWF_PY" - "$(cat "crash$seed/last_execution_id.txt")" <<'PY'
import sqlite3, sys
try:
    print(sqlite3.connect("shared.db", timeout=5).execute(
        "select count(*) from chunk_checkpoints where execution_id=?", (sys.argv[1],)).fetchone()[0])
except Exception:
    print(0)
PY
)
      [ "$n" -ge "$target" ] && break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  ids+=("$(cat "crash$seed/last_execution_id.txt")")
  echo "   killed run ${ids[-1]} after ~$target checkpoints"
done
mkdir -p recover
(cd recover && genwf --storage ../shared.db --auto-recover | tee recover.log) || fail "auto-recover failed"
for i in 0 1; do
  seed=$((i + 1)); eid="${ids[$i]}"
  (cd recover && genwf --storage ../shared.db --resume "$eid" --results "r$seed.json" --vcf "c$seed.vcf" > /dev/null) || fail "run $eid not completed"
  [ "$(comparable "ref$seed/pipeline_results.json")" = "$(comparable "recover/r$seed.json")" ] || fail "run $eid differs from its uninterrupted run"
  cmp -s "ref$seed/calls.vcf" "recover/c$seed.vcf" || fail "VCF of $eid differs"
done
ok "auto-recover completed both killed runs with identical results"
