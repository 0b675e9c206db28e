// F32, F16 and BF16 "codecs": element-wise conversions (imatrix has no effect on them).
#include <cstring>

#include "quant/codecs.hpp"
#include "quant/scalar.hpp"

namespace llmq::quant {

void quantize_f32(std::span<const float> src, std::span<uint8_t> dst, int64_t, std::span<const float>) {
    std::memcpy(dst.data(), src.data(), src.size_bytes());
}
void dequantize_f32(std::span<const uint8_t> src, std::span<float> dst) {
    std::memcpy(dst.data(), src.data(), dst.size_bytes());
}

void quantize_f16(std::span<const float> src, std::span<uint8_t> dst, int64_t, std::span<const float>) {
    for (size_t i = 0; i < src.size(); ++i) store_u16(dst.data() + 2 * i, fp32_to_fp16(src[i]));
}
void dequantize_f16(std::span<const uint8_t> src, std::span<float> dst) {
    for (size_t i = 0; i < dst.size(); ++i) dst[i] = fp16_to_fp32(load_u16(src.data() + 2 * i));
}

void quantize_bf16(std::span<const float> src, std::span<uint8_t> dst, int64_t, std::span<const float>) {
    for (size_t i = 0; i < src.size(); ++i) store_u16(dst.data() + 2 * i, fp32_to_bf16(src[i]));
}
void dequantize_bf16(std::span<const uint8_t> src, std::span<float> dst) {
    for (size_t i = 0; i < dst.size(); ++i) dst[i] = bf16_to_fp32(load_u16(src.data() + 2 * i));
}

}  // namespace llmq::quant
