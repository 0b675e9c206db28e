#!/usr/bin/env bash
# llmq quality report against llama.cpp's own llama-perplexity --kl-divergence, the measure the
# quality figures are judged by: both fixture models, files quantized by llmq (llama-quantize's
# bytes), the whole held-out TinyStories text, ctx 256. For each file: llama.cpp's perplexity
# and mean KLD, and llmq's in both numerics (ggml, the quality default, and exact float) as
# differences in percent. Never part of `make test` (minutes; builds llama.cpp's tools once,
# see llama_tools.sh).
#   bash bench/kld_vs_llama.sh     (LEVELS="Q8_0 Q6_K Q4_K_M Q2_K" MODELS="tinyllama-spm tinyqwen-bpe")
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/llama_tools.sh
BUILD=${BUILD:-build/native}
FIX=${LLMQ_FIXTURES:-tests/fixtures}
TEXT=$FIX/text/tinystories_heldout.txt
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf "%-14s %-7s %10s %9s | %-6s %8s %8s\n" model file "llama PPL" "llama KLD" numerics "ΔPPL %" "ΔKLD %"
for model in ${MODELS:-tinyllama-spm tinyqwen-bpe}; do
  base=$FIX/models/$model.bf16.gguf
  "$LLAMA_BIN/llama-perplexity" -m "$base" -f "$TEXT" -c 256 --no-repack --kl-divergence-base "$work/base.kld" >/dev/null 2>&1
  for level in ${LEVELS:-Q8_0 Q6_K Q4_K_M Q2_K}; do
    file=$work/$model-$level.gguf
    "$BUILD/llmq" quantize "$base" -q "$level" -o "$file" --quiet
    read -r lp lk < <("$LLAMA_BIN/llama-perplexity" -m "$file" -f "$TEXT" -c 256 --no-repack --kl-divergence-base "$work/base.kld" \
      --kl-divergence 2>&1 | awk '/Mean PPL\(Q\)  /{p=$4} /Mean    KLD/{k=$3} END{print p, k}')
    for numerics in ggml exact; do
      read -r qp qk < <("$BUILD/llmq" quality report "$base" "$file" -f "$TEXT" --ctx 256 --chunks 0 --numerics "$numerics" --format json 2>/dev/null |
        python3 -c 'import json,sys; m=json.load(sys.stdin)["metrics"]; print(m["perplexity_quantized"], m["kld_mean"])')
      printf "%-14s %-7s %10.4f %9.6f | %-8s %+8.2f %+8.2f\n" "$model" "$level" "$lp" "$lk" "$numerics" \
        "$(python3 -c "print(100*($qp/$lp-1))")" "$(python3 -c "print(100*($qk/$lk-1))")"
    done
  done
done
