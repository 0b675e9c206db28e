#!/usr/bin/env bash
# Runs every fuzz target of build/fuzz for SECONDS each (default 60) from a seed corpus made of the
# repository's own files, and prints a table: target, executions, seconds, corpus size, coverage
# (edges), findings. A crash, leak, timeout or sanitizer report fails the run; libFuzzer writes
# the input as build/fuzz/findings/<target>/crash-* (check it in under tests/fixtures/regressions
# with a test once fixed).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH=${1:-60}
B=build/fuzz
seed() {  # target, files...
  local dir="$B/corpus/$1"; shift
  mkdir -p "$dir"
  for f in "$@"; do head -c 65536 "$f" >"$dir/$(basename "$f")"; done
}
seed gguf_header_fuzz tests/fixtures/gguf/*.gguf tests/fixtures/models/*.gguf tests/fixtures/regressions/*.imatrix
seed imatrix_fuzz tests/fixtures/regressions/*.imatrix
seed dqprofile_fuzz data/profiles/*.dqprofile
seed super_weight_mask_fuzz tests/fuzz/seeds/mask.superweights.json
mkdir -p "$B/corpus/calibration_fuzz"
# The first byte picks plain text (0), .json (1) or .jsonl (2).
printf '\x00%s' "$(head -c 2000 tests/fixtures/text/tinystories_train.txt)" >"$B/corpus/calibration_fuzz/text"
printf '\x01["Once upon a time", {"text": "there was a cat"}]' >"$B/corpus/calibration_fuzz/json"
printf '\x02{"text": "one"}\n{"text": "two"}\n' >"$B/corpus/calibration_fuzz/jsonl"
printf "%-24s %12s %8s %8s %8s %s\n" target executions seconds corpus edges findings
status=0
for target in "$B"/*_fuzz; do
  name=$(basename "$target")
  mkdir -p "$B/findings/$name"
  log="$B/findings/$name.log"
  if "$target" "$B/corpus/$name" -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$B/findings/$name/" -print_final_stats=1 >"$log" 2>&1; then
    found=0
  else
    found=1
    status=1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  edges=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
  printf "%-24s %12s %8s %8s %8s %s\n" "$name" "$runs" "$SECONDS_EACH" "$(ls "$B/corpus/$name" | wc -l)" "$edges" \
    "$([ $found = 0 ] && echo none || echo "FOUND: see $log")"
done
exit $status
