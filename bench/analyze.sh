#!/usr/bin/env bash
# `llmq analyze` figures: calibration tokens/s and peak RSS on the fixture model (the issue's
# acceptance command), then peak RSS of the layer-streamed pass on synthetic models of 4, 16
# and 48 layers (same width): memory should stay one layer + the hidden states, not grow with
# the model. Never part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/native}
OUT=build/bench
mkdir -p "$OUT"
FIX=${LLMQ_FIXTURES:-tests/fixtures}
echo "== llmq analyze tinyllama-spm.bf16.gguf, tinystories_train.txt, --ctx 256 (512 samples) =="
"$BUILD/llmq" analyze "$FIX/models/tinyllama-spm.bf16.gguf" --calibration-data "$FIX/text/tinystories_train.txt" --ctx 256 \
  -o "$OUT/tinyllama.imatrix" --no-cache --format json --quiet | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("%.1f s, %.0f tokens/s, peak RSS %.1f MB" % (r["duration_seconds"], r["tokens_per_second"], r["peak_memory_bytes"] / 1e6))'
echo "== layer-streamed pass, ${SAMPLES:-128} samples x ${CTX:-32} tokens, synthetic hidden 512 / ffn 1408 =="
printf "%-36s %9s %6s %8s %10s %8s %10s %12s\n" model "model MB" layers tokens "hidden MB" seconds "tokens/s" "peak RSS MB"
for layers in ${LAYERS:-4 16 48}; do
  MODEL="$OUT/synthetic-analyze-$layers.gguf"
  [ -f "$MODEL" ] || "$BUILD/make_synthetic_model" "$MODEL" --layers "$layers" --hidden 512 --ffn 1408 --vocab 8000 --type bf16 >/dev/null
  "$BUILD/bench_analyze" "$MODEL" --samples "${SAMPLES:-128}" --ctx "${CTX:-32}" --threads "${THREADS:-2}"
done
