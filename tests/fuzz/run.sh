#!/usr/bin/env bash
# Runs the fuzz targets of build/fuzz from a seed corpus made of the repository's own files
# (plus every input fuzzing found before, tests/fixtures/regressions/fuzz/<target>-*), with the
# target's dictionary (tests/fuzz/dicts), and prints a table: target, executions, seconds,
# corpus size, coverage (edges), features, findings. A crash, leak, timeout or sanitizer report
# fails the run; libFuzzer writes the input as build/fuzz/findings/<target>/crash-* (check it in
# under tests/fixtures/regressions/fuzz with a test once fixed), and the run prints it (base64)
# with the command that replays it, so a finding of a CI machine survives in its log (each run
# empties build/fuzz/findings/<target> first).
#
#   run.sh [SECONDS] [--seed N] [--runs N] [--runs TARGET=N]... [--fresh] [--only REGEX]
#          [--budget TARGET=SECONDS]... [--jobs N]
#
# SECONDS: time per target (default 60, or FUZZ_SECONDS). --seed: libFuzzer's random seed
# (default 1, or FUZZ_SEED; 0 lets libFuzzer pick one). --runs: stop each target after N
# executions instead (with --seed and --fresh the run is then the same every time);
# --runs TARGET=N: another count for one target. --fresh: start from the seeds alone, not from
# the corpus earlier runs grew in build/fuzz/corpus. --only: the targets whose name matches.
# --budget: another time for one target (e.g. --budget gguf_header_fuzz=300). --jobs: how many
# targets run at once (default 1).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH=${FUZZ_SECONDS:-60}
SEED=${FUZZ_SEED:-1}
RUNS=""
JOBS=1
FRESH=0
ONLY=""
declare -A BUDGET=() RUNS_OF=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) SEED=$2; shift 2 ;;
    --runs) if [[ $2 == *=* ]]; then RUNS_OF[${2%%=*}]=${2#*=}; else RUNS=$2; fi; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --fresh) FRESH=1; shift ;;
    --only) ONLY=$2; shift 2 ;;
    --budget) BUDGET[${2%%=*}]=${2#*=}; shift 2 ;;
    [0-9]*) SECONDS_EACH=$1; shift ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
B=build/fuzz
R=tests/fixtures/regressions/fuzz
M=tests/fixtures/models
S=tests/fuzz/seeds

# Per target: the largest input (short texts keep the tokenizers fast; the fixture's 263 KB
# tokenizer.json is left out for the same reason, a small one in tests/fuzz/seeds stands for it)
# and the dictionary.
declare -A MAX_LEN=([tokenizer_spm_fuzz]=4096 [tokenizer_bpe_fuzz]=4096)
declare -A DICT=([gguf_header_fuzz]=gguf [imatrix_fuzz]=gguf [tokenizer_spm_fuzz]=text [tokenizer_bpe_fuzz]=text
  [dqprofile_fuzz]=json [calibration_fuzz]=json [super_weight_mask_fuzz]=json [safetensors_header_fuzz]=json
  [safetensors_index_fuzz]=json [hf_config_fuzz]=json [hf_tokenizer_json_fuzz]=json [hf_tokenizer_model_fuzz]=sentencepiece
  [checkpoint_fuzz]=checkpoint)

corpus() { echo "$B/corpus/$1"; }
seed() {  # target, files... (each cut to the target's largest input, 64 KiB unless MAX_LEN says)
  local t=$1 dir; dir=$(corpus "$1"); shift
  mkdir -p "$dir"
  for f in "$@"; do [ -f "$f" ] && head -c "${MAX_LEN[$t]:-65536}" "$f" >"$dir/$(basename "$f")"; done
  return 0
}
seed_bytes() {  # target, name, first byte (octal escape), file or - for stdin
  local dir; dir=$(corpus "$1")
  mkdir -p "$dir"
  { printf "$3"; if [ "$4" = - ]; then cat; else cat "$4"; fi; } >"$dir/$2"
  truncate -s "<${MAX_LEN[$1]:-65536}" "$dir/$2"
}
# The JSON header of a safetensors file (without its length prefix).
st_header() { local n; n=$(od -An -t u8 -N8 "$1" | tr -d ' '); head -c $((n + 8)) "$1" | tail -c +9; }

for name in $(ls "$B" | grep '_fuzz$'); do
  if [ $FRESH = 1 ] && { [ -z "$ONLY" ] || [[ $name =~ $ONLY ]]; }; then rm -rf "$(corpus "$name")"; fi
  mkdir -p "$(corpus "$name")"
  seed "$name" "$R/${name%_fuzz}"-*
done
seed gguf_header_fuzz tests/fixtures/gguf/*.gguf $M/*.gguf tests/fixtures/regressions/*.imatrix
seed imatrix_fuzz tests/fixtures/regressions/*.imatrix
seed dqprofile_fuzz data/profiles/*.dqprofile
seed super_weight_mask_fuzz $S/mask.superweights.json
# The first byte picks plain text (0), .json (1) or .jsonl (2).
printf '\x00%s' "$(head -c 2000 tests/fixtures/text/tinystories_train.txt)" >"$(corpus calibration_fuzz)/text"
printf '\x01["Once upon a time", {"text": "there was a cat"}]' >"$(corpus calibration_fuzz)/json"
printf '\x02{"text": "one"}\n{"text": "two"}\n' >"$(corpus calibration_fuzz)/jsonl"
# safetensors: 0 + a whole file, else the JSON header alone (the target adds prefix and data).
for f in $M/*/*.safetensors; do st_header "$f" | seed_bytes safetensors_header_fuzz "header-$(basename "$f")" '\001' -; done
st='{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"format":"pt"}}'
{ printf '\000'; printf "\\$(printf %03o ${#st})"; printf '\000\000\000\000\000\000\000%s' "$st"; printf '\000\000\200\077\000\000\000\100'; } \
  >"$(corpus safetensors_header_fuzz)/whole"
seed safetensors_index_fuzz $M/*/model.safetensors.index.json
# config.json: the first byte picks the model (bit 0: tinyqwen-bpe) and no vocabulary (bit 1).
for b in 0 2; do seed_bytes hf_config_fuzz "llama-$b" "\\00$b" $M/tinyllama-spm/config.json; done
for b in 1 3; do seed_bytes hf_config_fuzz "qwen-$b" "\\00$b" $M/tinyqwen-bpe/config.json; done
seed_bytes hf_config_fuzz llama3 '\000' $S/config-llama3.json
seed_bytes hf_config_fuzz qwen-yarn '\001' $S/config-qwen-yarn.json
# Tokenizer JSON files: 0 tokenizer.json, 1/2 tokenizer_config.json (BPE/SPM), 3 added_tokens.json.
seed_bytes hf_tokenizer_json_fuzz tokenizer-small.json '\000' $S/tokenizer.json
seed_bytes hf_tokenizer_json_fuzz tokenizer_config-bpe.json '\001' $M/tinyqwen-bpe/tokenizer_config.json
seed_bytes hf_tokenizer_json_fuzz tokenizer_config-spm.json '\002' $M/tinyllama-spm/tokenizer_config.json
seed_bytes hf_tokenizer_json_fuzz added_tokens.json '\003' $S/added_tokens.json
seed hf_tokenizer_model_fuzz $M/tinyllama-spm/tokenizer.model
# Tokenizers: the first byte holds the flags (1 add_special, 2 parse_special, 4 remove_special,
# 8 render_special, 16 raw ids, 128 the qwen2 vocabulary for BPE).
for t in spm bpe; do
  for flags in 000 003 016; do  # octal: 0, 3 and 14
    seed_bytes tokenizer_${t}_fuzz "inp-$flags" "\\$flags" tests/fixtures/vocab/ggml-vocab-llama-spm.gguf.inp
    head -c 3000 tests/fixtures/text/tinystories_train.txt | seed_bytes tokenizer_${t}_fuzz "story-$flags" "\\$flags" -
  done
  printf '\x10\x01\x00\x00\x00\x0d\x00\x00\x00\xff\xff\x00\x00\x02\x00\x00\x00' >"$(corpus tokenizer_${t}_fuzz)/ids"
done
seed_bytes tokenizer_bpe_fuzz qwen-story '\203' tests/fixtures/text/tinystories_train.txt
seed checkpoint_fuzz $S/*.ckpt

printf "seed %s, %s\n" "$SEED" "$([ -n "$RUNS" ] && echo "$RUNS executions per target" || echo "${SECONDS_EACH} s per target")"

# One target: its log in build/fuzz/findings/<target>.log, its row of the table in <target>.row,
# 1 in <target>.found when libFuzzer found something (else 0).
run_target() {
  local target=$1 name log budget runs args start found took n edges features
  name=$(basename "$target")
  rm -rf "$B/findings/$name" && mkdir -p "$B/findings/$name"
  log="$B/findings/$name.log"
  budget=${BUDGET[$name]:-$SECONDS_EACH}
  runs=${RUNS_OF[$name]:-$RUNS}
  args=(-seed="$SEED" -max_len="${MAX_LEN[$name]:-65536}" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$B/findings/$name/"
        -print_final_stats=1)
  if [ -n "$runs" ]; then args+=(-runs="$runs"); else args+=(-max_total_time="$budget"); fi
  [ -n "${DICT[$name]:-}" ] && args+=(-dict="tests/fuzz/dicts/${DICT[$name]}.dict")
  start=$(date +%s)
  if "$target" "$(corpus "$name")" "${args[@]}" >"$log" 2>&1; then found=0; else found=1; fi
  took=$(($(date +%s) - start))
  n=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  edges=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
  features=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
  printf "%-24s %12s %8s %8s %8s %8s %s\n" "$name" "$n" "$took" "$(ls "$(corpus "$name")" | wc -l)" "$edges" "$features" \
    "$([ $found = 0 ] && echo none || echo "FOUND: see $log")" >"$B/findings/$name.row"
  echo $found >"$B/findings/$name.found"
}

# What a failed target found: the end of its log, each input it saved (base64) and how to replay it.
report() {
  local name=$1 f
  echo "---- $name: the end of $B/findings/$name.log"
  tail -n 40 "$B/findings/$name.log"
  for f in "$B/findings/$name"/*; do
    [ -f "$f" ] || continue
    echo "---- $f (replay: $B/$name $f), base64:"
    base64 -w 76 "$f"
  done
}

mkdir -p "$B/findings"
targets=()
for target in "$B"/*_fuzz; do
  [ -x "$target" ] || continue
  name=$(basename "$target")
  [ -n "$ONLY" ] && ! [[ $name =~ $ONLY ]] && continue
  targets+=("$target")
done
if [ ${#targets[@]} = 0 ]; then echo "run.sh: no fuzz target in $B${ONLY:+ matches $ONLY} (make fuzz-build)" >&2; exit 2; fi
for target in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  echo 1 >"$B/findings/$(basename "$target").found"
  run_target "$target" &
done
wait
printf "%-24s %12s %8s %8s %8s %8s %s\n" target executions seconds corpus edges features findings
status=0
failed=()
for target in "${targets[@]}"; do
  name=$(basename "$target")
  if [ "$(cat "$B/findings/$name.found")" != 0 ]; then status=1; failed+=("$name"); fi
  cat "$B/findings/$name.row"
done
for name in "${failed[@]}"; do report "$name"; done
exit $status
