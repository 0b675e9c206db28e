#include "cli/quality_command.hpp"

#include <cstdio>
#include <sstream>

#include "cli/args.hpp"
#include "cli/report.hpp"
#include "llmq/error.hpp"
#include "llmq/jobs/quality.hpp"
#include "util/printf.hpp"

namespace llmq::cli {
namespace {

using nlohmann::json;

constexpr const char* kUsage =
    "usage: llmq quality report ORIGINAL QUANTIZED [-f TEXT] [--ctx N] [--chunks N] [--include-layers] [--coherence] [-o report.json|report.html]\n"
    "       llmq quality compare ORIGINAL QUANTIZED... [-f TEXT] [--metrics perplexity,kld,size,bpw] [--format human|json|csv] [-o compare.html]";

const std::vector<std::string> kMetrics = {"perplexity", "kld", "size", "bpw"};

bool ends_with_html(const std::string& p) {
    const auto lower = [](std::string s) {
        for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    };
    const std::string l = lower(p);
    return l.ends_with(".html") || l.ends_with(".htm");
}

}  // namespace

json run_quality_command(const std::vector<std::string>& args, Host& host) {
    if (args.empty()) fail(ExitCode::Usage, "quality needs a subcommand: report or compare", kUsage);
    const std::string sub = args[0];
    if (sub != "report" && sub != "compare") fail(ExitCode::Usage, "unknown quality subcommand '" + sub + "'", kUsage);
    std::vector<OptionSpec> specs = {{{"-f", "--file", "--calibration-data"}, true, false},
                                     {{"--ctx", "-c"}, true, false},
                                     {{"--chunks", "--calibration-samples"}, true, false},
                                     {{"-o", "--output"}, true, false},
                                     {{"--numerics"}, true, false}};
    if (sub == "report") {
        specs.push_back({{"--include-layers"}, false, false});
        specs.push_back({{"--imatrix"}, true, false});
        specs.push_back({{"--coherence"}, false, false});
    } else {
        specs.push_back({{"--metrics"}, true, false});
    }
    const auto p = parse_args(std::vector<std::string>(args.begin() + 1, args.end()), specs, "quality " + sub);
    QualityOptions o;
    if (sub == "report" && p.positionals.size() != 2) fail(ExitCode::Usage, "quality report needs ORIGINAL and QUANTIZED", kUsage);
    if (sub == "compare" && p.positionals.size() < 2) fail(ExitCode::Usage, "quality compare needs ORIGINAL and at least one QUANTIZED file", kUsage);
    o.original_path = p.positionals[0];
    o.quantized_paths.assign(p.positionals.begin() + 1, p.positionals.end());
    o.text_path = p.value("-f").value_or("");
    if (auto v = p.value("--ctx")) o.n_ctx = parse_int(*v, "--ctx", 4, 1 << 20);
    if (auto v = p.value("--chunks")) o.max_chunks = parse_int(*v, "--chunks", 0, 1 << 30);
    o.output_path = p.value("-o").value_or("");
    o.numerics = parse_numerics(p.value("--numerics"), o.numerics);
    std::vector<std::string> metrics = kMetrics;
    if (sub == "report") {
        // The HTML report shows the per-layer errors unless they were not asked for explicitly.
        o.include_layers = p.has("--include-layers") || ends_with_html(o.output_path);
        o.imatrix_path = p.value("--imatrix").value_or("");
        o.coherence = p.has("--coherence");
    } else if (auto v = p.value("--metrics")) {
        metrics.clear();
        std::stringstream list(*v);
        for (std::string m; std::getline(list, m, ',');) {
            if (std::find(kMetrics.begin(), kMetrics.end(), m) == kMetrics.end())
                fail(ExitCode::Usage, "invalid metric '" + m + "' in --metrics", "choose from perplexity,kld,size,bpw");
            if (std::find(metrics.begin(), metrics.end(), m) == metrics.end()) metrics.push_back(m);
        }
        if (metrics.empty()) fail(ExitCode::Usage, "--metrics names no metric", "choose from perplexity,kld,size,bpw");
    }
    json r = sub == "report" ? run_quality_report(o, host) : run_quality_compare(o, host);
    if (sub == "compare") r["metrics"] = metrics;
    r["subcommand"] = sub;
    return r;
}

std::string quality_text(const json& r, bool verbose) {
    std::ostringstream out;
    if (r.value("subcommand", "") == "report") {
        const json& m = r["metrics"];
        out << "quality of " << r["quantized_model"].get<std::string>() << " against " << r["original_model"].get<std::string>() << "\n";
        out << "  text         " << r["text"]["source"].get<std::string>() << ", " << r["text"]["chunks"].get<int64_t>() << " chunks of "
            << r["text"]["ctx"].get<int64_t>() << " tokens (" << r["text"]["scored_tokens"].get<int64_t>() << " scored)\n";
        out << "  perplexity   " << strprintf("%.4f", m["perplexity_original"].get<double>()) << " -> "
            << strprintf("%.4f", m["perplexity_quantized"].get<double>()) << " (" << strprintf("%+.2f%%", m["perplexity_delta_pct"].get<double>())
            << ")\n";
        out << "  KLD          mean " << strprintf("%.6f", m["kld_mean"].get<double>()) << " +/- "
            << strprintf("%.6f", m["kld_uncertainty"].get<double>()) << ", median " << strprintf("%.6f", m["kld_median"].get<double>()) << ", p99 "
            << strprintf("%.5f", m["kld_p99"].get<double>()) << ", max " << strprintf("%.4f", m["kld_max"].get<double>()) << "\n";
        out << "  top-1        " << strprintf("%.2f%%", 100 * m["top1_agreement"].get<double>()) << " agreement; delta-p RMS "
            << strprintf("%.3f%%", 100 * m["delta_p_rms"].get<double>()) << "\n";
        out << "  size         " << human_size(m["original_size"].get<double>()) << " -> " << human_size(m["quantized_size"].get<double>()) << ", "
            << strprintf("%.3f", m["effective_bpw"].get<double>()) << " bits per weight, " << strprintf("%.2fx", m["compression_ratio"].get<double>())
            << " smaller\n";
        if (r["coherence_score"].is_number()) out << "  coherence    " << strprintf("%.3f", r["coherence_score"].get<double>()) << "\n";
        if (r["layer_errors"].is_array()) {
            out << "  error per layer (squared error of the weights over their energy; w: weighted by the importance of each column):\n";
            for (const auto& l : r["layer_errors"]) {
                const bool w = !l["weighted_error"].is_null();
                const std::string name = l["layer_name"].get<std::string>();
                out << "    " << name << std::string(name.size() < 22 ? 22 - name.size() : 1, ' ')
                    << strprintf("%6.3f bpw", l["bit_width"].get<double>()) << "  "
                    << strprintf("%.3e", (w ? l["weighted_error"] : l["relative_error"]).get<double>()) << (w ? " w" : "") << "\n";
            }
            if (verbose) {
                for (const auto& t : r["tensor_errors"])
                    out << "    " << t["name"].get<std::string>() << " " << t["type"].get<std::string>() << " mse "
                        << strprintf("%.3e", t["mse"].get<double>()) << " max " << strprintf("%.3e", t["max_error"].get<double>()) << "\n";
            }
        }
    } else {
        std::vector<std::string> metrics;
        for (const auto& m : r["metrics"]) metrics.push_back(m.get<std::string>());
        const auto has = [&](const char* m) { return std::find(metrics.begin(), metrics.end(), m) != metrics.end(); };
        out << "quality of " << r["rows"].size() << " file(s) against " << r["original_model"].get<std::string>() << " (perplexity "
            << strprintf("%.4f", r["perplexity_original"].get<double>()) << "; " << r["text"]["chunks"].get<int64_t>() << " chunks of "
            << r["text"]["ctx"].get<int64_t>() << " tokens)\n";
        std::string head = "  file                                      ";
        if (has("size")) head += "         size";
        if (has("bpw")) head += "      bpw";
        if (has("perplexity")) head += "   perplexity    delta";
        if (has("kld")) head += "     mean KLD    top-1";
        out << head << "  pareto\n";
        for (const auto& row : r["rows"]) {
            std::string name = row["model"].get<std::string>();
            if (name.size() > 40) name = "..." + name.substr(name.size() - 37);
            std::string line = "  " + name + std::string(name.size() < 40 ? 40 - name.size() : 0, ' ') + "  ";
            if (has("size")) line += strprintf("%13.0f", row["size"].get<double>());
            if (has("bpw")) line += strprintf("%9.4f", row["bpw"].get<double>());
            if (has("perplexity"))
                line += strprintf("%13.4f", row["perplexity"].get<double>()) + strprintf("%+8.2f%%", row["perplexity_delta_pct"].get<double>());
            if (has("kld"))
                line += strprintf("%13.6f", row["kld_mean"].get<double>()) + strprintf("%8.2f%%", 100 * row["top1_agreement"].get<double>());
            out << line << (row["pareto"].get<bool>() ? "  *" : "") << "\n";
        }
        out << "  (*: Pareto-optimal: no other file is as small with at most its perplexity and KL divergence)\n";
    }
    if (!r["output_path"].is_null()) out << "wrote " << r["output_path"].get<std::string>() << "\n";
    return out.str();
}

}  // namespace llmq::cli
