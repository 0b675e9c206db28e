#include "cli/help.hpp"

#include <map>

namespace llmq::cli {

std::string general_help() {
    return R"(llmq — quantize large language models (GGUF), natively, in Node and in the browser

Usage: llmq <command> [arguments] [options]

Commands:
  quantize MODEL -q LEVEL [-o OUT]   quantize a GGUF model with a llama.cpp preset (Q4_K_M, Q8_0, ...)
  inspect MODEL                      show metadata, tensors, types, sizes and bits per weight
  analyze, profile, quality, convert, perplexity, generate
                                     planned (see docs/cli.md); they answer with exit code 2 for now

Global options (before or after the command):
  --format human|json   human text on stderr (default), or one JSON result on stdout
  -v, --verbose         more detail (per-tensor table, decisions)
  --debug               everything, including internal steps
  --quiet               errors only
  -t, --threads N       worker threads (default: all cores); output is identical for any N
  --help                help for llmq or for one command (llmq quantize --help)
  --version             print the version

Exit codes: 0 ok, 1 error, 2 usage, 3 model not found, 6 unsupported, 7 cannot write output,
8 corrupt input, 10 importance matrix problem, 130 interrupted. Full list: docs/cli.md.

Examples:
  llmq inspect model.gguf
  llmq quantize model.gguf -q Q4_K_M
  llmq quantize model.gguf -q Q4_K_M --imatrix model.imatrix -o model-Q4_K_M.gguf --format json
)";
}

std::string command_help(const std::string& command) {
    static const std::map<std::string, std::string> texts = {
        {"quantize", R"(llmq quantize MODEL -q LEVEL [-o OUT] [options]

Quantizes a GGUF model (F32/F16/BF16, or quantized with --allow-requantize) with one of llama.cpp's
presets. The per-tensor types are those llama.cpp's llama-quantize chooses (mixture rules and shape
fallbacks), and the bytes are identical to its output. Tensors are streamed in bounded row chunks,
so memory stays small whatever the model size. The output is written to OUT.part and renamed to OUT
only when complete, then re-opened and validated.

  -q, --level LEVEL       F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q2_K_S Q3_K_S Q3_K_M Q3_K_L
                          Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K (case-insensitive; Q3_K/Q4_K/Q5_K are
                          aliases of the _M variants). Good defaults: Q4_K_M (size/quality),
                          Q5_K_M or Q6_K (quality), Q8_0 (near-lossless).
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

Examples:
  llmq quantize model.gguf -q Q4_K_M
  llmq quantize model.gguf -q Q2_K --imatrix model.imatrix -o small.gguf
  llmq quantize model.gguf -q Q4_K_M --format json | jq .effective_bpw
)"},
        {"inspect", R"(llmq inspect MODEL

Shows a GGUF model's architecture, metadata (long arrays summarised), and every tensor with its
type, shape, size and bits per weight. Only the header is read.

Examples:
  llmq inspect model.gguf
  llmq inspect model.gguf --format json | jq '.tensors[] | select(.type=="q6_K") | .name'
)"},
    };
    auto it = texts.find(command);
    return it == texts.end() ? std::string() : it->second;
}

}  // namespace llmq::cli
