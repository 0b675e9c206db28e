#include "cli/help.hpp"

#include <map>

namespace llmq::cli {

std::string general_help() {
    return R"(llmq — quantize large language models (GGUF), natively, in Node and in the browser

Usage: llmq <command> [arguments] [options]

Commands:
  quantize MODEL -q LEVEL [-o OUT]   quantize a model with a llama.cpp preset (Q4_K_M, Q8_0, ...)
           -q dynamic --profile P    or with measured per-tensor types to a size you choose
  convert MODEL_DIR -o OUT.gguf      convert a HuggingFace model directory to GGUF (f32/f16/bf16)
  inspect MODEL                      show metadata, tensors, types, sizes and bits per weight
  perplexity MODEL [-f TEXT]         perplexity as llama-perplexity computes it; --kld-base for KLD
  generate MODEL -p PROMPT           continue a prompt (greedy by default) to check a model's output
  analyze MODEL [-o OUT.imatrix]     importance matrix (llama-imatrix's), layer importance, super weights
  profile list|show|create|validate  the profiles of dynamic quantization (attention-high, balanced, ...)
  quality report|compare             perplexity, KL divergence, per-layer error of quantized files

Global options (before or after the command):
  --format human|json   human text on stderr (default), or one JSON result on stdout
  -v, --verbose         more detail (per-tensor table, decisions)
  --debug               everything, including internal steps
  --quiet               errors only
  -t, --threads N       worker threads (default: all cores); output is identical for any N
  --help                help for llmq or for one command (llmq quantize --help)
  --version             print the version

MODEL is a .gguf file or a HuggingFace directory (config.json, *.safetensors, tokenizer.model or
tokenizer.json); directories are read directly, without an intermediate file.

Exit codes: 0 ok, 1 error, 2 usage, 3 model not found, 6 unsupported, 7 cannot write output,
8 corrupt input, 10 importance matrix problem, 13 profile problem, 130 interrupted. Full list: docs/cli.md.

Examples:
  llmq inspect model.gguf
  llmq quantize model.gguf -q Q4_K_M
  llmq quantize model.gguf -q Q4_K_M --imatrix model.imatrix -o model-Q4_K_M.gguf --format json
  llmq quantize ./Qwen3-0.6B -q Q4_K_M          (straight from a HuggingFace directory)
  llmq quantize model.gguf -q dynamic --profile balanced --target-size 3.2GB --imatrix model.imatrix
  llmq convert ./Qwen3-0.6B -o qwen3-0.6b-bf16.gguf --outtype bf16
)";
}

std::string command_help(const std::string& command) {
    static const std::map<std::string, std::string> texts = {
        {"quantize", R"(llmq quantize MODEL -q LEVEL [-o OUT] [options]

Quantizes a GGUF model (F32/F16/BF16, or quantized with --allow-requantize) with one of llama.cpp's
presets, or (-q dynamic) with a type per tensor chosen by measurement for a size you set. The per-tensor types are those llama.cpp's llama-quantize chooses (mixture rules and shape
fallbacks), and the bytes are identical to its output. Tensors are streamed in bounded row chunks,
so memory stays small whatever the model size. The output is written to OUT.part and renamed to OUT
only when complete, then re-opened and validated.

  -q, --level LEVEL       F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q2_K_S Q3_K_S Q3_K_M Q3_K_L
                          Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K, ultra-low-bit IQ1_S IQ1_M IQ2_XXS
                          IQ2_XS IQ2_S IQ2_M IQ3_XXS IQ3_XS IQ3_S IQ3_M IQ4_NL IQ4_XS, ternary
                          TQ1_0 TQ2_0 (TERNARY = TQ1_0) (case-insensitive; Q3_K/Q4_K/Q5_K are
                          aliases of the _M variants). Good defaults: Q4_K_M (size/quality),
                          Q5_K_M or Q6_K (quality), Q8_0 (near-lossless). IQ1_*, IQ2_XXS, IQ2_XS
                          (and IQ2_S, IQ2_M, IQ3_XXS, Q2_K_S) need --imatrix.
  -o, --output OUT        output file (default: <model-name>-<LEVEL>.gguf in the current directory)
  --imatrix FILE          importance matrix (llama.cpp GGUF .imatrix or legacy .dat) that weights
                          the quantization error; improves low-bit levels noticeably
  --tensor-type REGEX=TYPE
                          force the type of tensors whose name matches REGEX (repeatable; first
                          match wins), e.g. --tensor-type 'attn_v=q8_0' --tensor-type 'blk\.0\.=q6_K'
  --output-tensor-type T  type of output.weight (e.g. q8_0)
  --token-embedding-type T
                          type of token_embd.weight
  --pure                  no mixture rules: every quantizable tensor gets the level's base type
  --leave-output-tensor   keep output.weight as it is
  --allow-requantize      accept an already quantized input (decoded to f32 first; loses quality)
  --chunk-mb N            row buffer size per chunk in MiB (default 64)
  --coherence-check       afterwards, generate from 24 fixed prompts and score the text in [0,1]
                          (repetition, the original model's perplexity of it, agreement with
                          its greedy tokens); below LLM_QUANTIZE_COHERENCE_THRESHOLD (default
                          0.5) exit 12, keeping the file. IQ1_S, IQ1_M, TQ1_0, TQ2_0 are
                          checked anyway (warning only). TQ1_0/TQ2_0 also warn before starting
                          when the weights are not ternary-trained.
  --no-coherence-check    skip the automatic check (it is skipped with a warning anyway when
                          the input is over 4 GB; --coherence-check forces it)
  --dry-run               print the plan (every tensor's type and why) and the exact output
                          size, write nothing
  --quality-report        afterwards, measure the file against its input (`llmq quality report`
                          on 32 chunks of 512 tokens of the bundled text, or --calibration-data):
                          perplexity, KL divergence, top-1; above LLM_QUANTIZE_QUALITY_THRESHOLD
                          (default 20) percent more perplexity it warns
  --strict                with --quality-report: exit 11 above the threshold (the file is kept)

Dynamic quantization (-q dynamic, or --dynamic): every tensor is quantized and dequantized at each
type its profile allows, the error weighted by the importance matrix; the model itself is run
over calibration text with single tensors quantized (KL-divergence probes) to learn what each
tensor's error costs; then a knapsack solver picks the types with the least estimated loss that
fit the target. The file is plain GGUF (llama.cpp, Ollama, LM Studio load it).
  --profile NAME|FILE     attention-high, balanced, compression-max, a .dqprofile file, or NAME
                          from $LLM_QUANTIZE_PROFILE_DIR (see `llmq profile list`, docs/profiles.md)
  --target-size SIZE      the file's size: 3.2GB, 800MiB or bytes; never exceeded, within 1%
  --target-bpw X          bits per weight over all tensors (±0.02); without a target, the profile's
  --imatrix FILE          strongly recommended (`llmq analyze`); without one, one is accumulated
                          on the calibration samples
  --calibration-data F    text the probes run on (default: the text the imatrix was computed on
                          when it can be read, else the bundled WikiText-2)
  --calibration-samples N samples of 256 tokens for the probes (default 8)
  --probes MODE           auto (default: two per tensor, fewer on large models), none, one, two, all
  --measurements FILE     keep the measurement in FILE and reuse it when it exists: a new target
                          re-solves in well under a second. Measurements are also cached next to
                          importance matrices ($LLM_QUANTIZE_IMATRIX_CACHE); --no-cache skips that

Examples:
  llmq quantize model.gguf -q Q4_K_M
  llmq quantize model.gguf -q Q2_K --imatrix model.imatrix -o small.gguf
  llmq quantize model.gguf -q Q4_K_M --format json | jq .effective_bpw
  llmq quantize model.gguf -q dynamic --profile balanced --target-size 3.2GB --imatrix model.imatrix
  llmq quantize model.gguf -q dynamic --profile compression-max --imatrix m.imatrix --dry-run
  llmq quantize model.gguf -q Q4_K_M --dry-run --format json | jq .predicted_size
)"},
        {"profile", R"(llmq profile list | show NAME|FILE | create --imatrix F --name N [--target-bpw X|--target-size B] [-o F]
             | validate PROFILE MODEL

Profiles steer dynamic quantization (-q dynamic): which types the solver may choose, per-tensor
rules by regex (allowed types, minimum and maximum bits, how much a class's loss counts) and the
default target. They are JSON documents (.dqprofile; schema in docs/profiles.md). Built in:
attention-high, balanced, compression-max. Your own are used by path, or by name from
$LLM_QUANTIZE_PROFILE_DIR (default ~/.config/llmq/profiles).

  list                    the built-in profiles and those in the profile directory
  show NAME|FILE          print the document (with --format json: the parsed profile)
  create --imatrix F --name N
                          write N.dqprofile: balanced, with the matrices whose importance is most
                          concentrated (outlier input columns) kept at 4.5 bits or more;
                          --target-bpw/--target-size set its default target, -o its path
  validate PROFILE MODEL  can the profile be met on MODEL? Every tensor needs a type that fits
                          its rows; prints the smallest and largest file it allows and the size
                          of its default target (exit 13 when it cannot be met)

Examples:
  llmq profile list
  llmq profile show balanced > mine.dqprofile      (edit, then --profile mine.dqprofile)
  llmq profile create --imatrix model.imatrix --name mymodel --target-size 4GB
  llmq profile validate compression-max model.gguf
)"},
        {"quality", R"(llmq quality report ORIGINAL QUANTIZED [-f TEXT] [--ctx N] [--chunks N] [--include-layers]
                    [--imatrix F] [--coherence] [-o report.json|report.html]
llmq quality compare ORIGINAL QUANTIZED... [-f TEXT] [--ctx N] [--chunks N]
                    [--metrics perplexity,kld,size,bpw] [--format human|json|csv] [-o compare.html|.csv|.json]

How much a quantization costs, in one command. Both models score the same chunks of a text as
llama-perplexity does (the second half of each chunk; --kl-divergence semantics): perplexity of
each, its change in percent, the KL divergence of the quantized model's next-token
distributions from the original's (mean ± uncertainty, median, p99, max), top-1 agreement, Δp,
the sizes, bits per weight and compression. Models run one layer at a time (memory: a layer of
each plus the hidden states), so size does not matter; inputs are GGUF files or HuggingFace
folders, and the quantized files must be quantizations of ORIGINAL (same architecture,
vocabulary and tensors; else exit 2 naming the difference).

report                    one file. --include-layers (on by default for .html) adds, per tensor
                          and per layer, the error of the dequantized weights: MSE, max error,
                          squared error over the weights' energy, and the same weighted by the
                          importance of each column (from --imatrix, else accumulated on the
                          original's run). --coherence adds the coherence check's score.
compare                   several files: one row each, sorted by size; ★ marks the Pareto-optimal
                          files (no other is as small with at most its perplexity and KLD). The
                          original's logits are computed once for all files.

  -f, --calibration-data F   text to score (default: the bundled WikiText-2 test text)
  --ctx N                 tokens per chunk (default 512)
  --chunks N              chunks scored (default 32; 0: the whole text, as llama-perplexity)
  -o FILE                 also write the result: .html (self-contained, inline SVG charts,
                          prints well), .json, or .csv (compare)
  --format csv            compare's table as CSV on stdout (the JSON's numbers)
  --numerics MODE         ggml (default): round as llama.cpp's CPU backend does (each matmul's
                          activations to 8-bit blocks, bf16 or fp16 as the weight's type asks; K
                          and V in fp16), so the figures are the ones llama.cpp measures; its
                          KL divergence depends on that rounding. exact: float arithmetic.

Examples:
  llmq quality report model.gguf model-Q4_K_M.gguf -o report.html
  llmq quality compare model.gguf model-Q2_K.gguf model-Q4_K_M.gguf model-dynamic-balanced.gguf
  llmq quality compare model.gguf *.gguf --format csv > sizes.csv
  llmq quantize model.gguf -q Q3_K_M --quality-report --strict      (exit 11 above the threshold)
)"},
        {"convert", R"(llmq convert MODEL_DIR -o OUT.gguf [--outtype f32|f16|bf16|auto] [--no-vocab]

Converts a HuggingFace model directory to GGUF, with the tensor names, Q/K row order, metadata
and vocabulary llama.cpp's convert_hf_to_gguf.py writes. No Python, no intermediate copy: each
tensor is read from the safetensors shards in bounded row chunks and written straight out.
Supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM with F32,
F16 or BF16 weights, single or sharded (model.safetensors.index.json); tokenizer.model
(SentencePiece) or tokenizer.json (byte-level BPE). The output is written to OUT.part, renamed
to OUT when complete, then re-opened and validated.

To quantize a directory you do not need convert: `llmq quantize MODEL_DIR -q Q4_K_M` reads it
directly and gives the same bytes as converting first.

  -o, --output OUT        output file (default: <model-name>-<TYPE>.gguf in the current directory)
  --outtype T             type of the weight matrices: f32, f16, bf16, or auto (default: bf16
                          for BF16 models, f16 otherwise). Norms and biases are always f32.
  --no-vocab              write no vocabulary (tokenizer.ggml.model = "none"); without a
                          tokenizer file the same happens, with a warning
  --chunk-mb N            row buffer size per chunk in MiB (default 64)

Examples:
  llmq convert ./TinyLlama -o tinyllama-bf16.gguf --outtype bf16
  llmq convert ./Qwen2.5-0.5B -o qwen.gguf --format json | jq .tensors[0]
)"},
        {"perplexity",
         R"(llmq perplexity MODEL [-f TEXT] [--ctx N] [--chunks N] [--kld-base ORIGINAL] [--rope-freqs exact|bf16]
                [--numerics exact|ggml]

Measures perplexity with llama.cpp's llama-perplexity procedure, so the numbers compare with
published llama.cpp figures: the whole text is tokenized once (BOS first when the vocabulary adds
one), cut into consecutive chunks of N tokens (the remainder is dropped), the first token of
every chunk is replaced by BOS when the vocabulary adds one, and the second half of each chunk
is scored. Prints `Final estimate: PPL = X +/- U`. The model is streamed one layer at a time,
so memory stays near one layer plus the activations, whatever the model size.

  -f, --file TEXT         plain-text file to evaluate (default: the bundled WikiText-2 test
                          text, data/wikitext-2-test.raw, CC BY-SA 3.0)
  -c, --ctx N             tokens per chunk (default 512); the text needs at least 2N tokens
  --chunks N              evaluate only the first N chunks (default: all)
  --kld-base ORIGINAL     also run ORIGINAL (the unquantized model) on the same chunks and report
                          the KL divergence of MODEL's next-token distributions from it: mean ±
                          uncertainty and percentiles, top-1 agreement, Δp statistics, and the
                          PPL ratio (as llama-perplexity --kl-divergence, without a logits file)
  --rope-freqs MODE       exact (default): RoPE frequencies as the model defines them. bf16: each
                          rounded to bfloat16, as transformers computes with a model that was cast
                          to bfloat16 and back to float32; use it to reproduce such a run's
                          numbers exactly (the difference is ~1e-3 of the logits)
  --numerics MODE         exact (default): float arithmetic. ggml: activations rounded as
                          llama.cpp's CPU backend rounds them (8-bit blocks for quantized weights,
                          bf16/fp16 for 16-bit ones) and K/V kept in fp16, to reproduce
                          llama-perplexity's figures (a KL divergence especially)

Use --verbose for the running perplexity after each chunk.

Examples:
  llmq perplexity model-Q4_K_M.gguf -f wiki.test.raw
  llmq perplexity model-Q4_K_M.gguf -f wiki.test.raw --ctx 256 --chunks 20 --kld-base model-f16.gguf
  llmq perplexity model.gguf -f text.txt --format json | jq .perplexity
)"},
        {"generate", R"(llmq generate MODEL -p PROMPT [-n N] [--temp T] [--seed S] [--ignore-eos]

Continues PROMPT with the model and prints prompt + continuation on stdout (statistics on
stderr). The prompt gets BOS when the vocabulary adds one; special tokens written in it (e.g.
<|im_start|>) are recognised. Generation stops after N tokens or at the end-of-sequence token.

  -p, --prompt PROMPT     the text to continue (required)
  -n, --n-predict N       tokens to generate (default 64)
  --temp T                sampling temperature (default 0: greedy, always the most likely token)
  --seed S                seed of the sampler for --temp > 0 (default 0); the same seed gives the
                          same text on every platform and thread count
  --ignore-eos            keep generating past the end-of-sequence token (always N tokens)
  --rope-freqs MODE       exact (default) or bf16: RoPE frequencies rounded to bfloat16, to
                          reproduce a transformers run of a model cast to bfloat16 and back

Examples:
  llmq generate model-Q4_K_M.gguf -p "Once upon a time" -n 32
  llmq generate model.gguf -p "The capital of France is" --temp 0.8 --seed 7
  llmq generate model.gguf -p "Hello" --format json | jq -r .completion
)"},
        {"analyze", R"(llmq analyze MODEL [-o OUT.imatrix] [options]

Computes an importance matrix from calibration text, exactly as llama.cpp's llama-imatrix defines
it (per weight matrix of the blocks, the per-column sums of squared inputs and the token count),
for `llmq quantize --imatrix` and llama-quantize. The model is streamed one layer at a time:
memory is one layer plus the hidden states of the calibration tokens, whatever the model size.
Also reports per layer the block influence (1 - cosine of the layer's input and output hidden
states) and the imatrix-weighted quantization sensitivity.

The text is tokenized once (BOS first when the vocabulary adds one) and cut into consecutive
samples of --ctx tokens; each sample's first token is replaced by BOS when the vocabulary adds one.

  -o, --output OUT        output file (default: <model-name>.imatrix in the current directory)
  --method M              activation (default). gradient and fisher are not implemented (exit 2)
  --calibration-data F    plain text, .json (array of strings or of objects with "text") or
                          .jsonl (one object with "text" per line); JSON texts are joined with a
                          blank line. Default: the bundled WikiText-2 test text (CC BY-SA 3.0)
  --calibration-samples N samples to use (default 512, 128..1024; exit 15 outside or when the
                          text is too short — the message says how many samples it gives)
  -c, --ctx N             tokens per sample (default 512, 16..65536)
  --imatrix-format F      gguf (default; llama.cpp's current format) or dat (legacy)
  --identify-super-weights
                          find super weights (Yu et al. 2024: activation spikes at early
                          down-projections) and the top --coverage fraction by |w|^2 * imatrix;
                          writes the mask OUT.superweights.json (for quantize's
                          --protect-super-weights, which is not in this version yet)
  --coverage F            fraction of weights protected (default 0.0001, at most 0.01)
  --checkpoint-dir D      write a checkpoint to D after each layer (hidden states + statistics);
                          Ctrl-C exits 130 keeping it; the files are deleted after success
  --resume D              continue an interrupted run from D (same model, text and options;
                          otherwise exit 2). The result is byte-identical to an uninterrupted run
  --no-cache              neither read nor write the cache. Results are cached under
                          $LLM_QUANTIZE_IMATRIX_CACHE (default ~/.cache/llmq/imatrix), keyed by
                          the model (path, header, size), the text's SHA-256 and the options;
                          a hit copies the cached file to OUT ("cached": true in the JSON).
                          Runs with --identify-super-weights are not cached

Examples:
  llmq analyze model.gguf --calibration-data train.txt --ctx 256 -o model.imatrix
  llmq quantize model.gguf -q IQ2_XXS --imatrix model.imatrix
  llmq analyze model.gguf --checkpoint-dir ckpt      (interrupted? add --resume ckpt)
  llmq analyze model.gguf --identify-super-weights --format json | jq .super_weights
)"},
        {"inspect", R"(llmq inspect MODEL

Shows a model's architecture, metadata (long arrays summarised), and every tensor with its
type, shape, size and bits per weight. Only headers are read. For a HuggingFace directory it
shows the GGUF that `llmq convert` would write (weights in their stored type).

Examples:
  llmq inspect model.gguf
  llmq inspect model.gguf --format json | jq '.tensors[] | select(.type=="q6_K") | .name'
  llmq inspect ./Qwen3-0.6B
)"},
    };
    auto it = texts.find(command);
    return it == texts.end() ? std::string() : it->second;
}

}  // namespace llmq::cli
