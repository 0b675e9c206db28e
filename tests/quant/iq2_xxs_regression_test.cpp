// IQ2_XXS against llama-quantize where llmq once differed: ggml re-snaps every group of 32 at the
// fitted scale even when the winning scale trial was on the grid. The blocks are the one
// llama-quantize quantized differently in tinyllama-spm (blk.1.ffn_up.weight, row 613, with
// llama-imatrix's matrix) and those a differential search over 20 000 random blocks found; the
// whole-model case compares with the sha256 of llama-quantize's tensor data.
#include <gtest/gtest.h>

#include <cstring>

#include "llmq/format/gguf.hpp"
#include "llmq/io/memory.hpp"
#include "llmq/io/sha256.hpp"
#include "llmq/quant/codec.hpp"
#include "quant/iq_simd_switch.hpp"
#include "support/fixtures.hpp"
#include "support/run_cli.hpp"

namespace llmq {
namespace {

constexpr size_t kFloats = 256, kBlockBytes = 66, kRecord = 2 * kFloats * sizeof(float) + kBlockBytes;

TEST(Iq2XxsRegression, BlocksAreGgmlsBytes) {
    const auto data = test::read_file(test::fixture("regressions/iq2_xxs_blocks.bin"));
    ASSERT_EQ(data.size() % kRecord, 0u);
    ASSERT_GE(data.size() / kRecord, 8u);
    for (bool simd : {false, true}) {
        quant::set_iquant_simd(simd);
        for (size_t r = 0; r < data.size() / kRecord; ++r) {
            SCOPED_TRACE("block " + std::to_string(r) + (simd ? " simd" : " scalar"));
            std::vector<float> x(kFloats), w(kFloats);
            std::memcpy(x.data(), data.data() + r * kRecord, kFloats * sizeof(float));
            std::memcpy(w.data(), data.data() + r * kRecord + kFloats * sizeof(float), kFloats * sizeof(float));
            const uint8_t* expected = data.data() + r * kRecord + 2 * kFloats * sizeof(float);
            std::vector<uint8_t> y(kBlockBytes);
            quantize_rows(GgmlType::IQ2_XXS, x, y, static_cast<int64_t>(kFloats), w);
            EXPECT_EQ(std::vector<uint8_t>(expected, expected + kBlockBytes), y);
        }
    }
    quant::set_iquant_simd(true);
}

// llama-quantize IQ2_XXS of tinyllama-spm with llama-imatrix's matrix (the first 300 KB of
// tinystories_train.txt, ctx 256), llama.cpp 80fb11ac.
TEST(Iq2XxsRegression, TinyllamaFileIsLlamaQuantizes) {
    const auto dir = test::temp_dir("iq2xxs-regression");
    const auto out = dir / "iq2_xxs.gguf";
    auto r = test::run_llmq({"quantize", test::kLlamaModel, "-q", "IQ2_XXS", "--imatrix",
                             test::fixture("regressions/tinyllama-spm.llama-imatrix.imatrix").string(), "-o", out.string(), "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // The tensor data (the header names the imatrix by the path each tool was given).
    const auto bytes = test::read_file(out);
    MemorySource src(bytes, out.string());
    const gguf::Header h = gguf::read_header(src);
    ASSERT_LT(h.data_offset, bytes.size());
    EXPECT_EQ(sha256_hex(std::span<const uint8_t>(bytes).subspan(h.data_offset)), "276b425fab1d00537dadacf59c2573a3e6adc1244070776ad82ef33b8ce09de6");
}

}  // namespace
}  // namespace llmq
