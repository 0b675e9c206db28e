// User overrides of tensor types: --tensor-type patterns and the type checks of every override.
#include <cctype>

#include "llmq/error.hpp"
#include "plan/internal.hpp"

namespace llmq::plan::detail {

void check_storage_type(GgmlType type, std::string_view option) {
    const TypeTraits* t = find_traits(static_cast<uint32_t>(type));
    const std::string what = std::string(option) + ": ";
    if (!t) fail(ExitCode::Usage, what + "unknown ggml type id " + std::to_string(static_cast<uint32_t>(type)));
    // Q8_1/Q8_K only exist as matmul activations; integer and f64 tensors are not weights.
    const bool storable = t->quantized ? (type != GgmlType::Q8_1 && type != GgmlType::Q8_K)
                                       : (type == GgmlType::F32 || type == GgmlType::F16 || type == GgmlType::BF16);
    if (!storable) {
        fail(ExitCode::Usage, what + "type " + std::string(t->name) + " cannot be used for model weights",
             "use a float type (f32, f16, bf16) or a quantized type such as q8_0 or q4_K");
    }
}

std::vector<TypeOverride> compile_overrides(const std::vector<std::pair<std::string, GgmlType>>& items) {
    std::vector<TypeOverride> out;
    out.reserve(items.size());
    for (const auto& [raw, type] : items) {
        check_storage_type(type, "--tensor-type " + raw);
        std::string pattern = raw;
        for (char& c : pattern) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (pattern.empty()) fail(ExitCode::Usage, "--tensor-type: empty pattern", "write REGEX=TYPE, e.g. attn_v=q8_0");
        try {
            out.push_back({pattern, std::regex(pattern, std::regex::ECMAScript), type});
        } catch (const std::regex_error&) {
            // Our own words: the standard libraries of native and wasm builds word what() differently.
            fail(ExitCode::Usage, "--tensor-type: invalid regular expression '" + raw + "'",
                 "patterns are ECMAScript regular expressions searched in tensor names, e.g. "
                 "blk\\.0\\.attn_v");
        }
    }
    return out;
}

const TypeOverride* match_override(std::span<const TypeOverride> overrides, const std::string& name) {
    for (const auto& o : overrides)
        if (std::regex_search(name, o.regex)) return &o;
    return nullptr;
}

}  // namespace llmq::plan::detail
