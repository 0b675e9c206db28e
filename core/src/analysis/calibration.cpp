#include "llmq/analysis/calibration.hpp"

#include <nlohmann/json.hpp>

#include "llmq/error.hpp"
#include "llmq/io/sha256.hpp"

namespace llmq {
namespace {

using nlohmann::json;

bool ends_with_ci(std::string_view s, std::string_view suffix) {
    if (s.size() < suffix.size()) return false;
    for (size_t i = 0; i < suffix.size(); ++i) {
        char c = s[s.size() - suffix.size() + i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != suffix[i]) return false;
    }
    return true;
}

[[noreturn]] void bad_json(std::string_view path, const std::string& what) {
    fail(ExitCode::Calibration, "calibration data " + std::string(path) + ": " + what,
         "a .json file must hold an array of strings or of objects with a \"text\" string; a .jsonl file one such object per line");
}

std::string text_of(const json& item, std::string_view path, const std::string& where) {
    if (item.is_string()) return item.get<std::string>();
    if (item.is_object()) {
        auto it = item.find("text");
        if (it != item.end() && it->is_string()) return it->get<std::string>();
        bad_json(path, where + " has no \"text\" string");
    }
    bad_json(path, where + " is neither a string nor an object with \"text\"");
}

void append(std::string& all, const std::string& text) {
    if (!all.empty()) all += "\n\n";
    all += text;
}

}  // namespace

std::string calibration_text(std::string_view bytes, std::string_view path) {
    if (ends_with_ci(path, ".jsonl")) {
        std::string all;
        size_t line_no = 0;
        for (size_t pos = 0; pos <= bytes.size();) {
            size_t end = bytes.find('\n', pos);
            if (end == std::string_view::npos) end = bytes.size();
            std::string_view line = bytes.substr(pos, end - pos);
            ++line_no;
            pos = end + 1;
            if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
            const json item = json::parse(line, nullptr, /*allow_exceptions=*/false);
            if (item.is_discarded()) bad_json(path, "line " + std::to_string(line_no) + " is not valid JSON");
            if (!item.is_object()) bad_json(path, "line " + std::to_string(line_no) + " is not a JSON object");
            append(all, text_of(item, path, "line " + std::to_string(line_no)));
        }
        return all;
    }
    if (ends_with_ci(path, ".json")) {
        const json doc = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
        if (doc.is_discarded()) bad_json(path, "not valid JSON");
        if (!doc.is_array()) bad_json(path, "the top level is not an array");
        std::string all;
        for (size_t i = 0; i < doc.size(); ++i) append(all, text_of(doc[i], path, "item " + std::to_string(i)));
        return all;
    }
    return std::string(bytes);
}

std::vector<std::vector<int32_t>> calibration_sequences(std::span<const int32_t> tokens, int64_t samples, int64_t ctx, int32_t bos,
                                                        std::string_view source) {
    if (samples < kMinCalibrationSamples || samples > kMaxCalibrationSamples) {
        fail(ExitCode::Calibration,
             "--calibration-samples " + std::to_string(samples) + " is outside the accepted range " + std::to_string(kMinCalibrationSamples) + ".." +
                 std::to_string(kMaxCalibrationSamples),
             "use from 128 to 1024 samples (default 512)");
    }
    if (ctx < 1) fail(ExitCode::Usage, "--ctx must be positive");
    const int64_t n = static_cast<int64_t>(tokens.size());
    const int64_t available = n / ctx;
    if (available < samples) {
        const bool enough_for_min = available >= kMinCalibrationSamples;
        fail(ExitCode::Calibration,
             "calibration data " + std::string(source) + " gives " + std::to_string(n) + " tokens = " + std::to_string(available) + " samples of " +
                 std::to_string(ctx) + " tokens, but " + std::to_string(samples) + " samples (" + std::to_string(samples * ctx) +
                 " tokens) were asked",
             enough_for_min ? "use --calibration-samples " + std::to_string(available) + " or less, a smaller --ctx, or a longer text"
                            : "use a longer text or a smaller --ctx (at least 128 samples are needed)");
    }
    std::vector<std::vector<int32_t>> seqs;
    seqs.reserve(static_cast<size_t>(samples));
    for (int64_t k = 0; k < samples; ++k) {
        seqs.emplace_back(tokens.begin() + k * ctx, tokens.begin() + (k + 1) * ctx);
        if (bos >= 0) seqs.back()[0] = bos;
    }
    return seqs;
}

Calibration load_calibration(const CalibrationRequest& request, const Tokenizer& tokenizer, Host& host) {
    const std::string& path = request.path;
    if (!host.exists(path))
        fail(ExitCode::Calibration, "calibration data " + path + " not found", "pass an existing text, .json or .jsonl file with --calibration-data");
    const auto source = host.open_file(path);
    if (source->size() > kMaxCalibrationBytes) {
        fail(ExitCode::Calibration, "calibration data " + path + " is " + std::to_string(source->size()) + " bytes, more than the 1 GiB llmq reads",
             "use a smaller excerpt of the text");
    }
    std::string bytes(source->size(), '\0');
    source->read(0, std::span<uint8_t>(reinterpret_cast<uint8_t*>(bytes.data()), bytes.size()));

    Calibration c;
    c.source = path;
    c.bytes = bytes.size();
    c.ctx = request.ctx;
    Sha256 hash;
    hash.update(bytes);
    c.sha256 = hash.hex();
    const std::string text = calibration_text(bytes, path);
    const std::vector<int32_t> tokens = tokenizer.encode(text, /*add_special=*/true, /*parse_special=*/false);
    c.text_tokens = static_cast<int64_t>(tokens.size());
    c.sequences = calibration_sequences(tokens, request.samples, request.ctx, tokenizer.add_bos() ? tokenizer.bos() : -1, path);
    return c;
}

}  // namespace llmq
