#include "analysis/coherence_gate.hpp"

#include <algorithm>
#include <cstdio>

#include "llmq/analysis/coherence.hpp"
#include "llmq/error.hpp"
#include "llmq/jobs/inspect.hpp"

namespace llmq {
namespace {

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

// The alternatives worth trying, without the level that just failed.
std::string suggestion_for(const std::string& level) {
    std::string s;
    for (const char* l : {"IQ1_M", "Q2_K"}) {
        if (level != l) s += std::string(s.empty() ? "" : ", ") + l;
    }
    return "try a level with more bits (" + s + ") or a dynamic profile (--dynamic --profile NAME), which keeps the sensitive layers wider";
}

std::string worst_prompt(const CoherenceReport& r) {
    const auto it = std::min_element(r.prompts.begin(), r.prompts.end(), [](const auto& a, const auto& b) { return a.score < b.score; });
    if (it == r.prompts.end()) return "";
    std::string text = it->text;
    if (text.size() > 60) {
        size_t cut = 57;
        while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
        text = text.substr(0, cut) + "...";
    }
    std::replace(text.begin(), text.end(), '\n', ' ');
    return "; worst: \"" + it->prompt + "\" -> \"" + text + "\" (" + fixed(it->score, 2) + ")";
}

}  // namespace

bool coherence_automatic(GgmlType t) {
    return t == GgmlType::IQ1_S || t == GgmlType::IQ1_M || t == GgmlType::TQ1_0 || t == GgmlType::TQ2_0;
}

nlohmann::json run_coherence_gate(const ModelView& original, const std::string& output_path, const std::string& level, bool requested,
                                  double threshold, Host& host, std::vector<std::string>& warnings) {
    auto warn = [&](const std::string& message) {
        warnings.push_back(message);
        if (host.log) host.log(LogLevel::Warning, message);
    };
    CoherenceReport report;
    try {
        const ModelView quantized = open_model(output_path, host);
        CoherenceOptions options;
        options.threshold = threshold;
        report = check_coherence(original, quantized, options, host);
    } catch (const Failure& f) {
        if (f.error().code == ExitCode::Interrupted) throw;
        const std::string message = "the coherence check could not run on " + output_path + ": " + f.error().message;
        if (requested) fail(f.error().code, message + " (the quantized file is kept)", f.error().suggestion);
        warn(message);
        return nullptr;
    }
    if (!report.passed) {
        const std::string message =
            output_path + ": coherence score " + fixed(report.score, 3) + " is below the threshold " + fixed(threshold, 3) + " (" +
            std::to_string(std::count_if(report.prompts.begin(), report.prompts.end(), [&](const auto& p) { return p.score >= threshold; })) +
            " of " + std::to_string(report.prompts.size()) + " prompts pass" + worst_prompt(report) + "): the model may write incoherent text";
        if (requested) fail(ExitCode::CoherenceFailed, message + "; the quantized file is kept for inspection", suggestion_for(level));
        warn(message + " — " + suggestion_for(level));
    }
    return report.to_json();
}

}  // namespace llmq
