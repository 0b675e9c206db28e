#include "cli/report.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>
#include <vector>

namespace llmq::cli {
namespace {

std::string format(const char* fmt, auto... args) {
    char buf[512];
    std::snprintf(buf, sizeof buf, fmt, args...);
    return buf;
}

std::string shape_text(const nlohmann::json& shape) {
    std::string s;
    for (const auto& d : shape) s += (s.empty() ? "" : " x ") + std::to_string(d.get<int64_t>());
    return s;
}

}  // namespace

std::string human_size(double bytes) {
    const char* units[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (bytes >= 1000.0 && u < 4) {
        bytes /= 1000.0;
        ++u;
    }
    return u == 0 ? format("%.0f %s", bytes, units[u]) : format("%.2f %s", bytes, units[u]);
}

std::string quantize_report(const nlohmann::json& r, bool verbose) {
    std::ostringstream out;
    const bool dry = r.value("dry_run", false);
    const std::string level = r["profile"].is_string() ? "dynamic (" + r["profile"].get<std::string>() + ")" : r["level"].get<std::string>();
    out << (dry ? "plan for " : "quantized to ") << level << ": " << r["output_path"].get<std::string>() << (dry ? " (dry run: nothing written)" : "")
        << "\n";
    out << format("  size      %s -> %s%s (%.2fx smaller), %.3f bits per weight\n", human_size(r["input_size"].get<double>()).c_str(),
                  human_size(r["file_size"].get<double>()).c_str(),
                  dry ? format(" (%s bytes exactly)", std::to_string(r["predicted_size"].get<uint64_t>()).c_str()).c_str() : "",
                  r["compression_ratio"].get<double>(), r["effective_bpw"].get<double>());
    if (r.contains("dynamic") && r["dynamic"].is_object()) {
        const auto& d = r["dynamic"];
        const auto& m = d["measurement"];
        out << format("  target    %s: estimated KL divergence %.4g (sum over tensors, on the calibration text)\n",
                      d["target"].get<std::string>().c_str(), d["estimated_kld"].get<double>());
        if (d.contains("reachable")) {
            const auto& q = d["reachable"];
            out << format("  range     %s to %s (%.2f to %.2f bpw) with this profile\n", human_size(q["min_size"].get<double>()).c_str(),
                          human_size(q["max_size"].get<double>()).c_str(), q["min_bpw"].get<double>(), q["max_bpw"].get<double>());
        }
        if (m["source"] == "measured") {
            out << format("  measured  %.1f s weights + %.1f s model probes (%lld probes, %lld tokens, probes %s)\n",
                          m["weight_seconds"].get<double>(), m["kld_seconds"].get<double>(), static_cast<long long>(m["kld_probes"].get<int64_t>()),
                          static_cast<long long>(m["kld_tokens"].get<int64_t>()), m["probes"].get<std::string>().c_str());
        } else {
            out << "  measured  reused " << m["source"].get<std::string>() << "\n";
        }
    }
    if (r.contains("quality_report") && r["quality_report"].is_object()) {
        const auto& m = r["quality_report"]["metrics"];
        out << format("  quality   perplexity %.4g -> %.4g (%+.2f%%), mean KLD %.5f, top-1 %.1f%% (%lld chunks of %lld tokens)\n",
                      m["perplexity_original"].get<double>(), m["perplexity_quantized"].get<double>(), m["perplexity_delta_pct"].get<double>(),
                      m["kld_mean"].get<double>(), 100.0 * m["top1_agreement"].get<double>(),
                      static_cast<long long>(r["quality_report"]["text"]["chunks"].get<int64_t>()),
                      static_cast<long long>(r["quality_report"]["text"]["ctx"].get<int64_t>()));
    }
    out << format("  time      %.2f s, peak memory %s\n", r["duration_seconds"].get<double>(),
                  human_size(r["peak_memory_bytes"].get<double>()).c_str());
    if (!r["imatrix"].is_null()) out << "  imatrix   " << r["imatrix"].get<std::string>() << "\n";
    if (r["fallback_tensors"].get<int>() > 0)
        out << "  fallback  " << r["fallback_tensors"].get<int>() << " tensor(s) used a fallback type (row length)\n";

    // Types used, by share of the file.
    std::map<std::string, std::pair<uint64_t, int>> by_type;
    uint64_t total = 0;
    for (const auto& t : r["tensors"]) {
        auto& e = by_type[t["type"].get<std::string>()];
        e.first += t["bytes"].get<uint64_t>();
        e.second += 1;
        total += t["bytes"].get<uint64_t>();
    }
    out << "  types    ";
    for (const auto& [type, e] : by_type)
        out << format(" %s x%d (%.1f%%)", type.c_str(), e.second, 100.0 * static_cast<double>(e.first) / static_cast<double>(total));
    out << "\n  bits per layer:\n";
    for (const auto& l : r["layer_summary"]) {
        // One '#' per half bit, up to 16 bits; wider entries (f32 norms) end in '+'.
        const double bits = l["bit_width"].get<double>();
        const int bar = static_cast<int>(bits * 2.0 + 0.5);
        std::string drawn(static_cast<size_t>(std::min(bar, 32)), '#');
        if (bar > 32) drawn += '+';
        out << format("    %-22s %6.3f bpw %10s params  %s\n", l["layer_name"].get<std::string>().c_str(), bits,
                      std::to_string(l["parameter_count"].get<uint64_t>()).c_str(), drawn.c_str());
    }
    if (verbose) {
        out << "  tensors:\n";
        for (const auto& t : r["tensors"]) {
            out << format("    %-28s %-8s %-14s %10s  %s\n", t["name"].get<std::string>().c_str(), t["type"].get<std::string>().c_str(),
                          shape_text(t["shape"]).c_str(), human_size(t["bytes"].get<double>()).c_str(), t["reason"].get<std::string>().c_str());
        }
    }
    if (r.contains("coherence") && r["coherence"].is_object()) {
        // The overall score, then the weakest continuations: where a broken model shows first.
        const auto& c = r["coherence"];
        out << format("  coherence %.3f (threshold %.2f, %s) over %zu prompts, %.1f s\n", c["score"].get<double>(), c["threshold"].get<double>(),
                      c["passed"].get<bool>() ? "passed" : "FAILED", c["prompts"].size(), c["duration_seconds"].get<double>());
        std::vector<const nlohmann::json*> worst;
        for (const auto& p : c["prompts"]) worst.push_back(&p);
        std::sort(worst.begin(), worst.end(),
                  [](const nlohmann::json* a, const nlohmann::json* b) { return (*a)["score"].get<double>() < (*b)["score"].get<double>(); });
        for (size_t i = 0; i < std::min<size_t>(3, worst.size()); ++i) {
            const auto& p = *worst[i];
            std::string text = p["text"].get<std::string>();
            for (char& ch : text) ch = ch == '\n' ? ' ' : ch;
            if (text.size() > 70) {
                size_t cut = 67;
                while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
                text = text.substr(0, cut) + "...";
            }
            out << format("    %.2f  (rep %.2f, ppl %.1f, agree %.2f) %s -> %s\n", p["score"].get<double>(), p["repetition"].get<double>(),
                          p["original_ppl"].get<double>(), p["agreement"].get<double>(), p["prompt"].get<std::string>().c_str(), text.c_str());
        }
    }
    for (const auto& w : r["warnings"]) out << "warning: " << w.get<std::string>() << "\n";
    return out.str();
}

std::string inspect_report(const nlohmann::json& r, bool verbose) {
    std::ostringstream out;
    out << r["model_path"].get<std::string>() << "\n";
    out << format("  format %s, architecture %s, %s parameters, file %s, %.3f bits per weight\n", r["format"].get<std::string>().c_str(),
                  r["architecture"].get<std::string>().c_str(), std::to_string(r["parameter_count"].get<uint64_t>()).c_str(),
                  human_size(r["file_size"].get<double>()).c_str(), r["effective_bpw"].get<double>());
    out << "  tensor types:";
    for (const auto& [type, n] : r["type_counts"].items()) out << " " << type << " x" << n.get<int>();
    out << "\n  metadata:\n";
    for (const auto& [key, value] : r["metadata"].items()) {
        std::string text = value.dump();
        if (!verbose && text.size() > 100) text = text.substr(0, 97) + "...";
        out << "    " << key << " = " << text << "\n";
    }
    out << "  tensors (" << r["tensors"].size() << "):\n";
    size_t shown = 0;
    for (const auto& t : r["tensors"]) {
        if (!verbose && shown == 40) {
            out << "    ... " << (r["tensors"].size() - shown) << " more (use -v to list all)\n";
            break;
        }
        out << format("    %-32s %-8s %-16s %10s %7.3f bpw\n", t["name"].get<std::string>().c_str(), t["type"].get<std::string>().c_str(),
                      shape_text(t["shape"]).c_str(), human_size(t["bytes"].get<double>()).c_str(), t["bpw"].get<double>());
        ++shown;
    }
    return out.str();
}

}  // namespace llmq::cli
