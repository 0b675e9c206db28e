#include "llmq/analysis/calibration.hpp"

#include <gtest/gtest.h>

#include "analysis/analysis_support.hpp"
#include "llmq/error.hpp"
#include "llmq/io/sha256.hpp"
#include "runtime/runtime_fixtures.hpp"

namespace llmq {
namespace {

ExitCode code_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Failure& e) {
        return e.error().code;
    }
    return ExitCode::Success;
}

std::string message_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Failure& e) {
        return e.error().message + " | " + e.error().suggestion;
    }
    return {};
}

const Tokenizer& spm() {
    static const ModelView model = test::open_fixture_model("tinyllama-spm");
    static const Tokenizer t = Tokenizer::from_metadata(model);
    return t;
}

TEST(CalibrationText, PlainTextIsTakenAsIs) {
    EXPECT_EQ(calibration_text("Once upon a time.\n\nThe end.", "story.txt"), "Once upon a time.\n\nThe end.");
    // A .json extension decides the parsing, not the content.
    EXPECT_EQ(calibration_text("[\"a\"]", "list.txt"), "[\"a\"]");
}

TEST(CalibrationText, JsonArraysOfStringsOrObjectsAreJoinedWithABlankLine) {
    EXPECT_EQ(calibration_text(R"(["one", "two"])", "c.json"), "one\n\ntwo");
    EXPECT_EQ(calibration_text(R"([{"text": "one", "id": 1}, {"text": "two"}])", "c.JSON"), "one\n\ntwo");
    EXPECT_EQ(calibration_text(R"(["one", {"text": "two"}])", "mixed.json"), "one\n\ntwo");
}

TEST(CalibrationText, JsonlTakesTheTextOfEachLine) {
    EXPECT_EQ(calibration_text("{\"text\": \"one\"}\n\n{\"text\": \"two\", \"x\": 2}\r\n", "c.jsonl"), "one\n\ntwo");
}

TEST(CalibrationText, MalformedJsonIsACalibrationError) {
    EXPECT_EQ(code_of([] { calibration_text("[\"a\", ", "c.json"); }), ExitCode::Calibration);
    EXPECT_EQ(code_of([] { calibration_text(R"({"text": "a"})", "c.json"); }), ExitCode::Calibration);  // not an array
    EXPECT_EQ(code_of([] { calibration_text(R"([{"content": "a"}])", "c.json"); }), ExitCode::Calibration);
    EXPECT_EQ(code_of([] { calibration_text(R"([3])", "c.json"); }), ExitCode::Calibration);
    const std::string m = message_of([] { calibration_text("{\"text\": \"a\"}\n{\"txt\": \"b\"}\n", "data.jsonl"); });
    EXPECT_NE(m.find("data.jsonl"), std::string::npos) << m;
    EXPECT_NE(m.find("line 2"), std::string::npos) << m;
    EXPECT_EQ(code_of([] { calibration_text("{\"text\": \"a\"}\nnot json\n", "c.jsonl"); }), ExitCode::Calibration);
}

TEST(CalibrationSequences, ConsecutiveChunksWithBosOverwritten) {
    std::vector<int32_t> tokens(128 * 4 + 3);
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>(i + 10);
    const auto seqs = calibration_sequences(tokens, 128, 4, 1, "t");
    ASSERT_EQ(seqs.size(), 128u);
    EXPECT_EQ(seqs[0], (std::vector<int32_t>{1, 11, 12, 13}));
    EXPECT_EQ(seqs[127], (std::vector<int32_t>{1, 10 + 127 * 4 + 1, 10 + 127 * 4 + 2, 10 + 127 * 4 + 3}));
    const auto no_bos = calibration_sequences(tokens, 128, 4, -1, "t");
    EXPECT_EQ(no_bos[1], (std::vector<int32_t>{14, 15, 16, 17}));
}

TEST(CalibrationSequences, SampleBoundsAndShortTextAreCalibrationErrors) {
    const std::vector<int32_t> tokens(1000, 5);
    EXPECT_EQ(code_of([&] { calibration_sequences(tokens, 127, 4, -1, "t"); }), ExitCode::Calibration);
    EXPECT_EQ(code_of([&] { calibration_sequences(tokens, 1025, 4, -1, "t"); }), ExitCode::Calibration);
    EXPECT_EQ(code_of([&] { calibration_sequences(tokens, 128, 8, -1, "t"); }), ExitCode::Calibration);  // 125 samples
    EXPECT_EQ(calibration_sequences(tokens, 142, 7, -1, "t").size(), 142u);
    // The message says what the text gives and what was asked.
    const std::string m = message_of([&] { calibration_sequences(tokens, 200, 7, -1, "short.txt"); });
    EXPECT_NE(m.find("short.txt"), std::string::npos) << m;
    EXPECT_NE(m.find("1000 tokens"), std::string::npos) << m;
    EXPECT_NE(m.find("142 samples"), std::string::npos) << m;
    EXPECT_NE(m.find("200 samples"), std::string::npos) << m;
}

TEST(LoadCalibration, TokenizesTheWholeTextOnceAsLlamaImatrix) {
    test::MemoryHost mem;
    const auto bytes = test::read_file(test::fixture("text/tinystories_heldout.txt"));
    mem.files["held.txt"] = bytes;
    const Calibration c = load_calibration({"held.txt", 128, 64}, spm(), mem.host);
    const std::string text(bytes.begin(), bytes.end());
    const auto tokens = spm().encode(text, true, false);
    EXPECT_EQ(c.text_tokens, static_cast<int64_t>(tokens.size()));
    EXPECT_EQ(c.sha256, sha256_hex(bytes));
    EXPECT_EQ(c.source, "held.txt");
    ASSERT_EQ(c.sequences.size(), 128u);
    ASSERT_EQ(spm().bos(), 1);
    for (size_t k = 0; k < c.sequences.size(); ++k) {
        ASSERT_EQ(c.sequences[k].size(), 64u);
        EXPECT_EQ(c.sequences[k][0], 1);
        EXPECT_TRUE(std::equal(c.sequences[k].begin() + 1, c.sequences[k].end(), tokens.begin() + static_cast<std::ptrdiff_t>(k * 64 + 1)));
    }
}

TEST(LoadCalibration, JsonlFileAndErrors) {
    test::MemoryHost mem;
    std::string jsonl;
    const auto bytes = test::read_file(test::fixture("text/tinystories_heldout.txt"));
    const std::string text(bytes.begin(), bytes.end());
    jsonl += nlohmann::json{{"text", text.substr(0, text.size() / 2)}}.dump() + "\n";
    jsonl += nlohmann::json{{"text", text.substr(text.size() / 2)}}.dump() + "\n";
    mem.add("d.jsonl", jsonl);
    const Calibration c = load_calibration({"d.jsonl", 128, 64}, spm(), mem.host);
    EXPECT_EQ(c.text_tokens,
              static_cast<int64_t>(spm().encode(text.substr(0, text.size() / 2) + "\n\n" + text.substr(text.size() / 2), true, false).size()));
    EXPECT_EQ(code_of([&] { load_calibration({"missing.txt", 128, 64}, spm(), mem.host); }), ExitCode::Calibration);
    mem.add("tiny.txt", "Once upon a time there was a cat.");
    const std::string m = message_of([&] { load_calibration({"tiny.txt", 128, 64}, spm(), mem.host); });
    EXPECT_NE(m.find("0 samples"), std::string::npos) << m;
    EXPECT_EQ(code_of([&] { load_calibration({"tiny.txt", 128, 64}, spm(), mem.host); }), ExitCode::Calibration);
    mem.add("empty.json", "[]");
    EXPECT_EQ(code_of([&] { load_calibration({"empty.json", 128, 64}, spm(), mem.host); }), ExitCode::Calibration);
}

}  // namespace
}  // namespace llmq
