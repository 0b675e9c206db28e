// Super-weight masks from untrusted files: the inputs fuzzing found (tests/fixtures/regressions/
// fuzz/super_weight_mask-*) are rejected as corrupt input (exit 8), never with another exception.
#include <gtest/gtest.h>

#include <filesystem>

#include "llmq/analysis/super_weights.hpp"
#include "llmq/error.hpp"
#include "support/fixtures.hpp"

namespace llmq {
namespace {

TEST(SuperWeightMask, FuzzFindingsAreCorruptInput) {
    int files = 0;
    for (const auto& e : std::filesystem::directory_iterator(test::fixture("regressions/fuzz"))) {
        if (e.path().filename().string().rfind("super_weight_mask-", 0) != 0) continue;
        ++files;
        SCOPED_TRACE(e.path().string());
        const auto bytes = test::read_file(e.path());
        try {
            (void)read_super_weight_mask(bytes, e.path().string());
            ADD_FAILURE() << "accepted";
        } catch (const Failure& f) {
            EXPECT_EQ(f.error().code, ExitCode::CorruptInput) << f.error().message;
        }
    }
    EXPECT_GE(files, 1);
}

TEST(SuperWeightMask, WrongTypesAreCorruptInput) {
    for (const char* text : {R"({"format":"llmq-super-weights","version":[1]})", R"({"format":7,"version":1})",
                             R"({"format":"llmq-super-weights","version":"1"})", R"({"format":"llmq-super-weights","version":1,"identified":3})",
                             R"({"format":"llmq-super-weights","version":1,"identified":true,"coverage":0.1,"super_weights":{},"protected":[]})"}) {
        SCOPED_TRACE(text);
        const std::string s(text);
        try {
            (void)read_super_weight_mask(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()), "mask.json");
            ADD_FAILURE() << "accepted";
        } catch (const Failure& f) {
            EXPECT_EQ(f.error().code, ExitCode::CorruptInput);
        }
    }
}

}  // namespace
}  // namespace llmq
