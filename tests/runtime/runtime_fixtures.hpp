// The fixture models and their transformers reference outputs, for the runtime tests.
#pragma once

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llmq/format/huggingface.hpp"
#include "llmq/format/model.hpp"
#include "posix_io.hpp"
#include "support/fixtures.hpp"

namespace llmq::test {

inline const nlohmann::json& reference_outputs() {
    static const nlohmann::json ref = [] {
        const auto bytes = read_file(fixture("models/reference-outputs.json"));
        return nlohmann::json::parse(bytes.begin(), bytes.end());
    }();
    return ref;
}

// "tinyllama-spm" or "tinyqwen-bpe": the llama.cpp-converted GGUF, or with hf the
// HuggingFace directory (converted on the fly by the reader).
inline ModelView open_fixture_model(const std::string& name, bool hf = false) {
    if (hf) {
        auto files = std::make_shared<native::DiskFileSet>(fixture("models/" + name));
        return open_hf_model(files, HfOptions{}, nullptr);
    }
    return open_gguf_model(std::make_shared<native::FileSource>(fixture("models/" + name + ".bf16.gguf")));
}

// max |a - b| divided by the range of the reference logits (the acceptance measure).
inline double relative_logit_error(const std::vector<float>& got, const std::vector<double>& ref) {
    const auto [lo, hi] = std::minmax_element(ref.begin(), ref.end());
    double worst = 0.0;
    for (size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(got[i]) - ref[i]));
    return worst / (*hi - *lo);
}

inline int32_t argmax(std::span<const float> v) {
    return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

}  // namespace llmq::test
