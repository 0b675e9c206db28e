# Sourced by the benchmarks that run the model over text: from the repository root, sets BUILD,
# OUT (build/bench) and MODEL, the TinyLlama-1.1B-shaped F16 model (2.2 GB) with the tinyllama
# fixture's vocabulary (2048 tokens, so text can be tokenized), made once.
BUILD=${BUILD:-build/native}
OUT=build/bench
mkdir -p "$OUT"
MODEL="$OUT/synthetic-llama-1.1b-vocab-f16.gguf"
[ -f "$MODEL" ] || "$BUILD/make_synthetic_model" "$MODEL" --vocab-from tests/fixtures/models/tinyllama-spm.bf16.gguf
