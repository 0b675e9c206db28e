#include "cli/runtime_commands.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "cli/args.hpp"
#include "llmq/error.hpp"
#include "llmq/jobs/generate.hpp"
#include "llmq/jobs/perplexity.hpp"

namespace llmq::cli {
namespace {

using nlohmann::json;

double parse_real(const std::string& text, const std::string& option, double min, double max) {
    double v = 0.0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc() || ptr != end || !std::isfinite(v) || v < min || v > max) {
        fail(ExitCode::Usage, "invalid value '" + text + "' for " + option,
             "expected a number from " + std::to_string(min) + " to " + std::to_string(max));
    }
    return v;
}

RopeFrequencies parse_rope_frequencies(const std::optional<std::string>& value) {
    if (!value) return RopeFrequencies::Exact;
    const auto f = rope_frequencies_from_name(*value);
    if (!f) fail(ExitCode::Usage, "invalid value '" + *value + "' for --rope-freqs", "use exact (the default) or bf16");
    return *f;
}

std::string format(const char* fmt, auto... args) {
    char buf[512];
    std::snprintf(buf, sizeof buf, fmt, args...);
    return buf;
}

}  // namespace

json run_perplexity_command(const std::vector<std::string>& args, Host& host) {
    const std::vector<OptionSpec> specs = {
        {{"-f", "--file"}, true, false}, {{"-c", "--ctx"}, true, false},  {{"--chunks"}, true, false},
        {{"--kld-base"}, true, false},   {{"--rope-freqs"}, true, false}, {{"--numerics"}, true, false},
    };
    const auto p = parse_args(args, specs, "perplexity");
    if (p.positionals.empty())
        fail(ExitCode::Usage, "perplexity needs a MODEL", "usage: llmq perplexity MODEL -f TEXT [--ctx N] [--chunks N] [--kld-base ORIGINAL]");
    if (p.positionals.size() > 1) fail(ExitCode::Usage, "unexpected argument '" + p.positionals[1] + "'", "see `llmq perplexity --help`");
    PerplexityOptions o;
    o.model_path = p.positionals[0];
    o.text_path = p.value("-f").value_or("");
    if (auto v = p.value("-c")) o.n_ctx = parse_int(*v, "--ctx", 4, 1 << 20);
    if (auto v = p.value("--chunks")) o.max_chunks = parse_int(*v, "--chunks", 1, 1ll << 40);
    o.kld_base_path = p.value("--kld-base").value_or("");
    o.rope_frequencies = parse_rope_frequencies(p.value("--rope-freqs"));
    o.numerics = parse_numerics(p.value("--numerics"));
    return run_perplexity(o, host);
}

json run_generate_command(const std::vector<std::string>& args, Host& host) {
    const std::vector<OptionSpec> specs = {
        {{"-p", "--prompt"}, true, false}, {{"-n", "--n-predict"}, true, false}, {{"--temp"}, true, false},
        {{"--seed"}, true, false},         {{"--ignore-eos"}, false, false},     {{"--rope-freqs"}, true, false},
    };
    const auto p = parse_args(args, specs, "generate");
    if (p.positionals.empty()) fail(ExitCode::Usage, "generate needs a MODEL", "usage: llmq generate MODEL -p PROMPT [-n N] [--temp T] [--seed S]");
    if (p.positionals.size() > 1)
        fail(ExitCode::Usage, "unexpected argument '" + p.positionals[1] + "'", "see `llmq generate --help` (quote a prompt with spaces)");
    GenerateOptions o;
    o.model_path = p.positionals[0];
    auto prompt = p.value("-p");
    if (!prompt) fail(ExitCode::Usage, "generate needs a prompt (-p PROMPT)", "for example: llmq generate model.gguf -p \"Once upon a time\"");
    o.prompt = *prompt;
    if (auto v = p.value("-n")) o.max_tokens = parse_int(*v, "-n", 0, 1 << 20);
    if (auto v = p.value("--temp")) o.temperature = parse_real(*v, "--temp", 0.0, 100.0);
    if (auto v = p.value("--seed")) o.seed = static_cast<uint64_t>(parse_int(*v, "--seed", 0, (1ll << 53)));
    o.ignore_eos = p.has("--ignore-eos");
    o.rope_frequencies = parse_rope_frequencies(p.value("--rope-freqs"));
    return run_generate(o, host);
}

std::string perplexity_report(const json& r, bool verbose) {
    std::string out = format("%s: %lld tokens, %lld chunks of %lld, %lld scored%s\n", r["text_path"].get<std::string>().c_str(),
                             r["tokens"].get<long long>(), r["chunks"].get<long long>(), r["ctx"].get<long long>(),
                             r["scored_tokens"].get<long long>(), r["bos_at_chunk_start"].get<bool>() ? " (BOS at each chunk start)" : "");
    if (verbose) {
        const auto& running = r["chunk_perplexities"];
        for (size_t i = 0; i < running.size(); ++i) out += format("[%zu]%.4f,", i + 1, running[i].get<double>());
        out += "\n";
    }
    out += format("Final estimate: PPL = %.4f +/- %.5f\n", r["perplexity"].get<double>(), r["perplexity_uncertainty"].get<double>());
    if (r["kld"].is_object() && !r["kld"].empty()) {
        const json& k = r["kld"];
        const json& kl = k["kld"];
        const json& dp = k["delta_p"];
        out += format("\nKL divergence against %s (%lld tokens)\n", r["kld_base_path"].get<std::string>().c_str(), k["tokens"].get<long long>());
        out += format("Mean PPL(Q)                   : %10.6f ± %10.6f\n", k["ppl"].get<double>(), k["ppl_uncertainty"].get<double>());
        out += format("Mean PPL(base)                : %10.6f ± %10.6f\n", k["ppl_base"].get<double>(), k["ppl_base_uncertainty"].get<double>());
        out += format("Cor(ln(PPL(Q)), ln(PPL(base))): %6.2f%%\n", 100.0 * k["ln_ppl_correlation"].get<double>());
        out +=
            format("Mean ln(PPL(Q)/PPL(base))     : %10.6f ± %10.6f\n", k["ln_ppl_ratio"].get<double>(), k["ln_ppl_ratio_uncertainty"].get<double>());
        out += format("Mean PPL(Q)/PPL(base)         : %10.6f ± %10.6f\n", k["ppl_ratio"].get<double>(), k["ppl_ratio_uncertainty"].get<double>());
        out += format("Mean PPL(Q)-PPL(base)         : %10.6f ± %10.6f\n", k["ppl_difference"].get<double>(),
                      k["ppl_difference_uncertainty"].get<double>());
        out += format("\nMean    KLD: %10.6f ± %10.6f\n", kl["mean"].get<double>(), kl["uncertainty"].get<double>());
        const std::pair<const char*, const char*> kld_rows[] = {{"Maximum KLD", "max"},  {"99.9%   KLD", "p99_9"}, {"99.0%   KLD", "p99"},
                                                                {"95.0%   KLD", "p95"},  {"90.0%   KLD", "p90"},   {"Median  KLD", "median"},
                                                                {"10.0%   KLD", "p10"},  {" 5.0%   KLD", "p5"},    {" 1.0%   KLD", "p1"},
                                                                {" 0.1%   KLD", "p0_1"}, {"Minimum KLD", "min"}};
        for (const auto& [label, key] : kld_rows) out += format("%s: %10.6f\n", label, kl[key].get<double>());
        out += format("\nMean    Δp: %6.3f ± %5.3f %%\n", 100.0 * dp["mean"].get<double>(), 100.0 * dp["uncertainty"].get<double>());
        const std::pair<const char*, const char*> dp_rows[] = {
            {"Maximum Δp", "max"}, {"99.9%   Δp", "p99_9"},  {"99.0%   Δp", "p99"}, {"95.0%   Δp", "p95"}, {"90.0%   Δp", "p90"},
            {"75.0%   Δp", "p75"}, {"Median  Δp", "median"}, {"25.0%   Δp", "p25"}, {"10.0%   Δp", "p10"}, {" 5.0%   Δp", "p5"},
            {" 1.0%   Δp", "p1"},  {" 0.1%   Δp", "p0_1"},   {"Minimum Δp", "min"}};
        for (const auto& [label, key] : dp_rows) out += format("%s: %6.3f%%\n", label, 100.0 * dp[key].get<double>());
        out += format("RMS Δp    : %6.3f ± %5.3f %%\n", 100.0 * dp["rms"].get<double>(), 100.0 * dp["rms_uncertainty"].get<double>());
        out += format("Same top p: %6.3f ± %5.3f %%\n", 100.0 * k["top1_agreement"].get<double>(),
                      100.0 * k["top1_agreement_uncertainty"].get<double>());
    }
    out += format("(%.1f s)\n", r["duration_seconds"].get<double>());
    return out;
}

std::string generate_report(const json& r, bool verbose) {
    std::string out = format("generated %lld tokens (%s), %.1f tokens/s; prompt %zu tokens at %.1f tokens/s\n", r["n_generated"].get<long long>(),
                             r["stop_reason"].get<std::string>().c_str(), r["tokens_per_second"].get<double>(), r["prompt_tokens"].size(),
                             r["prompt_tokens_per_second"].get<double>());
    if (verbose) out += "token ids: " + r["tokens"].dump() + "\n";
    return out;
}

}  // namespace llmq::cli
