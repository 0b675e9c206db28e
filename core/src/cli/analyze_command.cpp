#include "cli/analyze_command.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "cli/args.hpp"
#include "cli/report.hpp"
#include "llmq/error.hpp"
#include "llmq/jobs/analyze.hpp"

namespace llmq::cli {
namespace {

using nlohmann::json;

std::string format(const char* fmt, auto... args) {
    char buf[512];
    std::snprintf(buf, sizeof buf, fmt, args...);
    return buf;
}

double parse_number(const std::string& text, const std::string& option) {
    double v = 0.0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc() || ptr != end || !std::isfinite(v))
        fail(ExitCode::Usage, "invalid value '" + text + "' for " + option, "expected a number");
    return v;
}

double number_or(const json& j, double fallback) {
    return j.is_number() ? j.get<double>() : fallback;
}

}  // namespace

json run_analyze_command(const std::vector<std::string>& args, Host& host) {
    const std::vector<OptionSpec> specs = {
        {{"-o", "--output"}, true, false},     {{"--method"}, true, false},
        {{"--calibration-data"}, true, false}, {{"--calibration-samples"}, true, false},
        {{"-c", "--ctx"}, true, false},        {{"--identify-super-weights"}, false, false},
        {{"--coverage"}, true, false},         {{"--imatrix-format"}, true, false},
        {{"--checkpoint-dir"}, true, false},   {{"--resume"}, true, false},
        {{"--no-cache"}, false, false},
    };
    const auto p = parse_args(args, specs, "analyze");
    if (p.positionals.empty())
        fail(ExitCode::Usage, "analyze needs a MODEL", "usage: llmq analyze MODEL [-o OUT.imatrix] [--calibration-data F] [--ctx N]");
    if (p.positionals.size() > 1) fail(ExitCode::Usage, "unexpected argument '" + p.positionals[1] + "'", "see `llmq analyze --help`");
    AnalyzeOptions o;
    o.model_path = p.positionals[0];
    o.output_path = p.value("-o").value_or("");
    o.method = p.value("--method").value_or("activation");
    o.calibration_path = p.value("--calibration-data").value_or("");
    // Out-of-range sample counts are calibration errors (15), checked by the job; only
    // non-numbers are usage errors here.
    if (auto v = p.value("--calibration-samples")) o.samples = parse_int(*v, "--calibration-samples", -(1ll << 40), 1ll << 40);
    if (auto v = p.value("-c")) o.ctx = parse_int(*v, "--ctx", kMinAnalyzeCtx, kMaxAnalyzeCtx);
    o.identify_super_weights = p.has("--identify-super-weights");
    if (auto v = p.value("--coverage")) {
        if (!o.identify_super_weights) fail(ExitCode::Usage, "--coverage needs --identify-super-weights", "see `llmq analyze --help`");
        o.coverage = parse_number(*v, "--coverage");
    }
    o.imatrix_format = p.value("--imatrix-format").value_or("gguf");
    o.checkpoint_dir = p.value("--checkpoint-dir").value_or("");
    o.resume_dir = p.value("--resume").value_or("");
    o.use_cache = !p.has("--no-cache");
    return run_analyze(o, host);
}

std::string analyze_report(const json& r, bool verbose) {
    std::string out =
        format("importance matrix (%s, %s): %s%s\n", r["method"].get<std::string>().c_str(), r["imatrix_format"].get<std::string>().c_str(),
               r["output_path"].get<std::string>().c_str(), r["cached"].get<bool>() ? "  (from cache)" : "");
    const json& cal = r["calibration"];
    out += format("  calibration  %s: %lld samples x %lld tokens (sha256 %.12s...)\n", cal["source"].get<std::string>().c_str(),
                  r["calibration_samples"].get<long long>(), r["ctx"].get<long long>(), cal["sha256"].get<std::string>().c_str());
    const json& g = r["global_statistics"];
    if (g["mean"].is_number()) {
        out += format("  values       min %.4g  max %.4g  mean %.4g  std %.4g\n", g["min"].get<double>(), g["max"].get<double>(),
                      g["mean"].get<double>(), g["std"].get<double>());
    }
    out += format("  time         %.2f s", r["duration_seconds"].get<double>());
    if (!r["cached"].get<bool>()) out += format(", %.0f tokens/s", r["tokens_per_second"].get<double>());
    out += format(", peak memory %s\n", human_size(r["peak_memory_bytes"].get<double>()).c_str());

    const json& layers = r["layer_importance"];
    if (!layers.empty()) {
        double top = 0.0;
        for (const auto& l : layers) top = std::max(top, number_or(l["score"], 0.0));
        out += "  layer importance (block influence = 1 - cos(input, output); sensitivity = imatrix-weighted Q4 error)\n";
        out += "    layer  influence  sensitivity\n";
        for (const auto& l : layers) {
            const double s = number_or(l["score"], 0.0);
            const int bar = top > 0 ? static_cast<int>(std::lround(24.0 * s / top)) : 0;
            out += format("    %5lld  %9.5f  %11.6f  %s\n", l["layer"].get<long long>(), s, number_or(l["sensitivity"], 0.0),
                          std::string(static_cast<size_t>(bar), '#').c_str());
        }
    }
    const json& sw = r["super_weights"];
    if (sw.is_object()) {
        if (!sw["identified"].get<bool>()) {
            out += "  super weights: none stood out (no activation spike in the down-projections)\n";
        } else {
            out += "  super weights (tensor, row, col: weight, input activation):\n";
            const auto& locs = sw["locations"];
            const size_t shown = verbose ? locs.size() : std::min<size_t>(locs.size(), 8);
            for (size_t i = 0; i < shown; ++i) {
                const auto& l = locs[i];
                out += format("    %s [%lld, %lld]: %.4g, %.4g\n", l["tensor"].get<std::string>().c_str(), l["row"].get<long long>(),
                              l["col"].get<long long>(), l["value"].get<double>(), l["activation"].get<double>());
            }
            if (shown < locs.size()) out += format("    ... %zu more (--verbose)\n", locs.size() - shown);
        }
        out += format("  protected weights: %lld (coverage %g)", sw["total_protected"].get<long long>(), sw["coverage"].get<double>());
        if (sw.contains("mask_path")) out += ", mask " + sw["mask_path"].get<std::string>();
        out += "\n";
    }
    return out;
}

}  // namespace llmq::cli
