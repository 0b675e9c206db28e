#!/usr/bin/env bash
# `llmq quality report` on the synthetic TinyLlama-1.1B-shaped F16 model against its Q4_K_M,
# next to the `llmq perplexity` runs it replaces (the original alone and the quantized file alone,
# or the quantized file with --kld-base). Prints time and peak RSS for each. Never part of `make test` (minutes, 2.2 GB
# of disk). CHUNKS/CTX/THREADS as environment variables.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/synthetic_model.sh  # BUILD, OUT, MODEL
Q="$OUT/quality-q4km.gguf"
[ -f "$Q" ] || "$BUILD/llmq" quantize "$MODEL" -q Q4_K_M -o "$Q" --quiet
TEXT=tests/fixtures/text/tinystories_train.txt
CHUNKS=${CHUNKS:-4} CTX=${CTX:-256} THREADS=${THREADS:-2}
run() {  # label, command...
  local label=$1; shift
  local log="$OUT/quality-time.txt"
  /usr/bin/time -f "%e %M" -o "$log" "$@" -t "$THREADS" --quiet >/dev/null
  read -r seconds kb <"$log"
  printf "%-44s %9.1f %12.1f\n" "$label" "$seconds" "$(echo "$kb / 1000" | bc -l)"
}
printf "%-44s %9s %12s   (%s chunks of %s tokens, %s threads)\n" run seconds "peak RSS MB" "$CHUNKS" "$CTX" "$THREADS"
run "quality report (both models, KLD)" "$BUILD/llmq" quality report "$MODEL" "$Q" -f "$TEXT" --ctx "$CTX" --chunks "$CHUNKS"
run "quality report --include-layers" "$BUILD/llmq" quality report "$MODEL" "$Q" -f "$TEXT" --ctx "$CTX" --chunks "$CHUNKS" --include-layers
run "perplexity of the original" "$BUILD/llmq" perplexity "$MODEL" -f "$TEXT" --ctx "$CTX" --chunks "$CHUNKS"
run "perplexity of Q4_K_M" "$BUILD/llmq" perplexity "$Q" -f "$TEXT" --ctx "$CTX" --chunks "$CHUNKS"
run "perplexity of Q4_K_M with --kld-base" "$BUILD/llmq" perplexity "$Q" -f "$TEXT" --ctx "$CTX" --chunks "$CHUNKS" --kld-base "$MODEL"
