#!/usr/bin/env bash
# Quantization throughput and peak memory on a synthetic TinyLlama-1.1B-shaped F16 model
# (2.2 GB): Q8_0 and Q4_K_M with 1 and 2 threads. Prints a table; never part of `make test`.
# Reference (llama.cpp llama-quantize on this kind of machine, same model shape):
#   Q4_K_M 68 s single-threaded, Q8_0 10.6 s, ~450 MB peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build/native
OUT=build/bench
mkdir -p "$OUT"
MODEL="$OUT/synthetic-llama-1.1b-f16.gguf"
if [ ! -f "$MODEL" ]; then
  echo "generating $MODEL ..." >&2
  "$BUILD/make_synthetic_model" "$MODEL"
fi
SIZE=$(stat -c %s "$MODEL")
printf "%-8s %-7s %10s %10s %12s %12s\n" level threads seconds "MB/s in" "peak RSS MB" "output MB"
for level in ${LEVELS:-Q8_0 Q4_K_M}; do
  for threads in ${THREADS:-1 2}; do
    result=$("$BUILD/llmq" quantize "$MODEL" -q "$level" -o "$OUT/out-$level.gguf" -t "$threads" --format json --quiet)
    python3 - "$result" "$level" "$threads" "$SIZE" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); size = int(sys.argv[4])
print("%-8s %-7s %10.2f %10.1f %12.1f %12.1f" % (sys.argv[2], sys.argv[3], r["duration_seconds"],
      size / 1e6 / r["duration_seconds"], r["peak_memory_bytes"] / 2**20, r["file_size"] / 1e6))
PY
    rm -f "$OUT/out-$level.gguf"
  done
done
