#!/usr/bin/env bash
# llmq perplexity against llama.cpp's llama-perplexity on the same model, text and threads:
# the TinyLlama-1.1B-shaped model with the fixture vocabulary in F16 and quantized to Q4_K_M and
# Q8_0 (by llmq; the bytes are llama-quantize's), ctx 256, 4 chunks of WikiText-2, 2 threads.
# Prints wall and CPU (user+sys) seconds, peak RSS and the llmq/llama ratios measured in this
# run. Never part of `make test` (minutes; builds llama.cpp's tools once, see llama_tools.sh).
#   bash bench/perplexity_vs_llama.sh        (THREADS=2 CHUNKS=4 CTX=256 LEVELS="F16 Q8_0 Q4_K_M")
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/synthetic_model.sh
source bench/llama_tools.sh
THREADS=${THREADS:-2} CHUNKS=${CHUNKS:-4} CTX=${CTX:-256}
TEXT=data/wikitext-2-test.raw
measure() {  # label, command...: prints "wall cpu rss_mb"
  local log; log=$(mktemp)
  /usr/bin/time -f "%e %U %S %M" -o "$log" "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; cat "$log" >&2; exit 1; }
  awk '{ printf "%.2f %.2f %.1f\n", $1, $2 + $3, $4 / 1024 }' "$log"
  rm -f "$log"
}
printf "%-8s %-6s %9s %9s %9s   %s\n" model tool wall cpu "rss MB" "ratio llmq/llama (wall, cpu)"
for level in ${LEVELS:-F16 Q8_0 Q4_K_M}; do
  file=$MODEL
  if [ "$level" != F16 ]; then
    file="$OUT/synthetic-llama-1.1b-vocab-$level.gguf"
    [ -f "$file" ] || "$BUILD/llmq" quantize "$MODEL" -q "$level" -o "$file" --quiet
  fi
  read -r lw lc lr < <(measure "$BUILD/llmq" perplexity "$file" -f "$TEXT" --ctx "$CTX" --chunks "$CHUNKS" -t "$THREADS")
  read -r rw rc rr < <(measure "$LLAMA_BIN/llama-perplexity" -m "$file" -f "$TEXT" -c "$CTX" --chunks "$CHUNKS" -t "$THREADS" --no-repack)
  printf "%-8s %-6s %9s %9s %9s\n" "$level" llmq "$lw" "$lc" "$lr"
  printf "%-8s %-6s %9s %9s %9s   %s\n" "$level" llama "$rw" "$rc" "$rr" "$(awk -v a="$lw" -v b="$rw" -v c="$lc" -v d="$rc" 'BEGIN { printf "%.2f, %.2f", a / b, c / d }')"
done
