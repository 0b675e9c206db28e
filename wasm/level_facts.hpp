// Facts about a quantization level that a level picker shows before any model is chosen.
#pragma once

#include "llmq/plan/plan.hpp"

namespace llmq::wasm {

// True when the level's mixture gives some tensor of an ordinary llama-shaped model a type that
// needs an importance matrix (the plan's own rule, §5.5), so quantizing without one fails.
bool level_needs_imatrix(const plan::Preset& preset);

}  // namespace llmq::wasm
