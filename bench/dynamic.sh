#!/usr/bin/env bash
# Dynamic quantization on the synthetic TinyLlama-1.1B-shaped F16 model (2.2 GB): the measuring
# pass (profile balanced, --probes auto), a re-solve from the stored measurement, and the whole
# dynamic quantization, with 1 and 2 threads, next to a plain Q4_K_M run. Prints time and peak
# RSS. Never part of `make test` (minutes, 2.2 GB of disk).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/synthetic_model.sh  # BUILD, OUT, MODEL
export LLM_QUANTIZE_IMATRIX_CACHE="$OUT/dynamic-cache"
TARGET=${TARGET:-700MB}
row() {  # label, threads, command...
  local label=$1 threads=$2; shift 2
  local json
  json=$("$@" -t "$threads" --format json --quiet)
  python3 -c '
import json, sys
r = json.loads(sys.argv[3]); d = r.get("dynamic") or {}; m = d.get("measurement") or {}
print("%-28s %7s %9.1f %12.1f %11d %s" % (sys.argv[1], sys.argv[2], r["duration_seconds"], r["peak_memory_bytes"] / 1e6, r["file_size"],
      ("measure %.1f s weights + %.1f s probes (%s)" % (m["weight_seconds"], m["kld_seconds"], m["probes"])) if m.get("source") == "measured" else
      ("re-solved from %s" % m["source"]) if m else ""))' "$label" "$threads" "$json"
}
printf "%-28s %7s %9s %12s %11s %s\n" run threads seconds "peak RSS MB" bytes notes
for threads in ${THREADS:-1 2}; do
  row "Q4_K_M" "$threads" "$BUILD/llmq" quantize "$MODEL" -q Q4_K_M -o "$OUT/dyn-q4km.gguf"
  rm -f "$OUT/dyn-$threads.costs.json"
  row "dynamic balanced (measure)" "$threads" "$BUILD/llmq" quantize "$MODEL" -q dynamic --profile balanced --target-size "$TARGET" \
    --measurements "$OUT/dyn-$threads.costs.json" --no-cache --dry-run
  row "dynamic (re-solve, dry run)" "$threads" "$BUILD/llmq" quantize "$MODEL" -q dynamic --profile balanced --target-size 600MB \
    --measurements "$OUT/dyn-$threads.costs.json" --dry-run
  row "dynamic (write the file)" "$threads" "$BUILD/llmq" quantize "$MODEL" -q dynamic --profile balanced --target-size "$TARGET" \
    --measurements "$OUT/dyn-$threads.costs.json" -o "$OUT/dyn-$threads.gguf"
done
