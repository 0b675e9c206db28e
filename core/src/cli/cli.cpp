#include "llmq/cli/cli.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/analyze_command.hpp"
#include "cli/args.hpp"
#include "cli/convert_report.hpp"
#include "cli/help.hpp"
#include "cli/profile_command.hpp"
#include "cli/quality_command.hpp"
#include "cli/report.hpp"
#include "cli/runtime_commands.hpp"
#include "llmq/error.hpp"
#include "llmq/jobs/convert.hpp"
#include "llmq/jobs/inspect.hpp"
#include "llmq/jobs/quantize.hpp"
#include "llmq/report/quality.hpp"

namespace llmq {
namespace {

using cli::OptionSpec;
using nlohmann::json;

const std::set<std::string> kPlannedCommands = {"web"};

struct Invocation {
    GlobalOptions global;
    bool help = false;
    bool version = false;
    std::string command;
    std::vector<std::string> rest;  // command arguments without the global options
};

// Global options may stand anywhere; they are taken out before the command parses its own.
Invocation split_globals(const std::vector<std::string>& args) {
    Invocation inv;
    for (size_t i = 0; i < args.size(); ++i) {
        std::string a = args[i];
        std::optional<std::string> inline_value;
        if (a.rfind("--", 0) == 0) {
            if (auto eq = a.find('='); eq != std::string::npos) {
                inline_value = a.substr(eq + 1);
                a = a.substr(0, eq);
            }
        }
        auto take_value = [&]() -> std::string {
            if (inline_value) return *inline_value;
            if (i + 1 >= args.size()) fail(ExitCode::Usage, "option " + a + " needs a value", "see `llmq --help`");
            return args[++i];
        };
        if (a == "--format") {
            const std::string v = take_value();
            if (v == "human") {
                inv.global.format = OutputFormat::Human;
            } else if (v == "json") {
                inv.global.format = OutputFormat::Json;
            } else if (v == "csv") {
                inv.global.format = OutputFormat::Csv;
            } else {
                fail(ExitCode::Usage, "invalid value '" + v + "' for --format", "use --format human or --format json (csv: quality compare)");
            }
        } else if (a == "-v" || a == "--verbose") {
            inv.global.verbosity = Verbosity::Verbose;
        } else if (a == "--debug") {
            inv.global.verbosity = Verbosity::Debug;
        } else if (a == "--quiet") {
            inv.global.verbosity = Verbosity::Quiet;
        } else if (a == "-t" || a == "--threads") {
            inv.global.threads = static_cast<unsigned>(cli::parse_int(take_value(), "--threads", 1, 1024));
        } else if (a == "-h" || a == "--help") {
            inv.help = true;
        } else if (a == "--version") {
            inv.version = true;
        } else if (inv.command.empty() && !a.empty() && a[0] != '-') {
            inv.command = a;
        } else {
            inv.rest.push_back(args[i]);
        }
    }
    return inv;
}

GgmlType parse_type(const std::string& text, const std::string& option) {
    auto t = type_from_name(text);
    if (!t || !traits(*t).quantize) {
        fail(ExitCode::Usage, "invalid tensor type '" + text + "' for " + option,
             "use a ggml type name llmq can write: f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q2_K q3_K q4_K q5_K q6_K "
             "iq1_s iq1_m iq2_xxs iq2_xs iq2_s iq3_xxs iq3_s iq4_nl iq4_xs tq1_0 tq2_0 mxfp4 nvfp4 q1_0 q2_0");
    }
    return *t;
}

json run_quantize_command(const std::vector<std::string>& args, Host& host) {
    const std::vector<OptionSpec> specs = {
        {{"-q", "--level"}, true, false},
        {{"-o", "--output"}, true, false},
        {{"--imatrix"}, true, false},
        {{"--tensor-type"}, true, true},
        {{"--output-tensor-type"}, true, false},
        {{"--token-embedding-type"}, true, false},
        {{"--pure"}, false, false},
        {{"--leave-output-tensor"}, false, false},
        {{"--allow-requantize"}, false, false},
        {{"--chunk-mb"}, true, false},
        {{"--coherence-check"}, false, false},
        {{"--quality-report"}, false, false},
        {{"--strict"}, false, false},
        {{"--no-coherence-check"}, false, false},
        {{"--dynamic"}, false, false},
        {{"--profile"}, true, false},
        {{"--target-bpw"}, true, false},
        {{"--target-size"}, true, false},
        {{"--measurements"}, true, false},
        {{"--calibration-data"}, true, false},
        {{"--dry-run"}, false, false},
        {{"--no-cache"}, false, false},
        {{"--calibration-samples"}, true, false},
        {{"--probes"}, true, false},
        {{"--protect-super-weights"}, false, false},
        {{"--protection-coverage"}, true, false},
        {{"--super-weights"}, true, false},
    };
    const auto p = cli::parse_args(args, specs, "quantize");
    QuantizeOptions o;
    if (p.positionals.empty()) fail(ExitCode::Usage, "quantize needs a MODEL", "usage: llmq quantize MODEL -q LEVEL [-o OUT]");
    o.model_path = p.positionals[0];
    if (p.positionals.size() > 2) fail(ExitCode::Usage, "unexpected argument '" + p.positionals[2] + "'", "see `llmq quantize --help`");
    if (p.positionals.size() == 2) {
        if (p.positionals[1] != "gguf") {
            fail(ExitCode::Usage, "output format '" + p.positionals[1] + "' is not available in this build",
                 "llmq writes GGUF for now (smoothquant, gptq and awq are planned)");
        }
    }
    auto level = p.value("-q");
    if (p.has("--dynamic")) {
        if (level &&
            !(level->size() == 7 && std::equal(level->begin(), level->end(), "dynamic", [](char a, char b) { return std::tolower(a) == b; })))
            fail(ExitCode::Usage, "--dynamic and -q " + *level + " contradict each other",
                 "use -q dynamic --profile NAME, or a preset without --dynamic");
        level = "dynamic";
    }
    if (!level)
        fail(ExitCode::Usage, "quantize needs a level (-q LEVEL)",
             "for example -q Q4_K_M or -q dynamic --profile balanced; see `llmq quantize --help`");
    o.level = *level;
    o.profile = p.value("--profile").value_or("");
    if (auto v = p.value("--target-bpw")) o.target_bpw = cli::parse_number(*v, "--target-bpw", 1.0, 32.0);
    if (auto v = p.value("--target-size")) o.target_size = cli::parse_size(*v, "--target-size");
    o.measurements_path = p.value("--measurements").value_or("");
    o.calibration_path = p.value("--calibration-data").value_or("");
    if (auto v = p.value("--calibration-samples")) o.calibration_samples = cli::parse_int(*v, "--calibration-samples", 1, 1024);
    if (auto v = p.value("--probes")) {
        if (*v != "auto" && *v != "none" && *v != "one" && *v != "two" && *v != "all")
            fail(ExitCode::Usage, "invalid value '" + *v + "' for --probes", "use auto (default), none, one, two or all");
        o.probes = *v;
    }
    o.dry_run = p.has("--dry-run");
    o.protect_super_weights = p.has("--protect-super-weights");
    if (auto v = p.value("--protection-coverage")) {
        o.protection_coverage = cli::parse_number(*v, "--protection-coverage", 0.0, 1.0);
        if (!o.protect_super_weights) fail(ExitCode::Usage, "--protection-coverage needs --protect-super-weights", "add --protect-super-weights");
    }
    o.super_weights_path = p.value("--super-weights").value_or("");
    o.use_cache = !p.has("--no-cache");
    o.output_path = p.value("-o").value_or("");
    o.imatrix_path = p.value("--imatrix").value_or("");
    for (const auto& spec : p.values("--tensor-type")) {
        const auto eq = spec.rfind('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
            fail(ExitCode::Usage, "invalid --tensor-type '" + spec + "'", "expected REGEX=TYPE, e.g. --tensor-type 'attn_v=q8_0'");
        }
        o.tensor_types.emplace_back(spec.substr(0, eq), parse_type(spec.substr(eq + 1), "--tensor-type"));
    }
    if (auto t = p.value("--output-tensor-type")) o.output_tensor_type = parse_type(*t, "--output-tensor-type");
    if (auto t = p.value("--token-embedding-type")) o.token_embedding_type = parse_type(*t, "--token-embedding-type");
    o.pure = p.has("--pure");
    o.leave_output_tensor = p.has("--leave-output-tensor");
    o.allow_requantize = p.has("--allow-requantize");
    o.coherence_check = p.has("--coherence-check");
    o.quality_report = p.has("--quality-report");
    o.quality_strict = p.has("--strict");
    o.no_coherence_check = p.has("--no-coherence-check");
    if (o.coherence_check && o.no_coherence_check) {
        fail(ExitCode::Usage, "--coherence-check and --no-coherence-check contradict each other", "keep one of them");
    }
    if (auto c = p.value("--chunk-mb")) o.chunk_bytes = static_cast<uint64_t>(cli::parse_int(*c, "--chunk-mb", 1, 65536)) << 20;
    return run_quantize(o, host);
}

json run_convert_command(const std::vector<std::string>& args, Host& host) {
    const std::vector<OptionSpec> specs = {
        {{"-o", "--output"}, true, false},
        {{"--outtype"}, true, false},
        {{"--no-vocab"}, false, false},
        {{"--chunk-mb"}, true, false},
    };
    const auto p = cli::parse_args(args, specs, "convert");
    if (p.positionals.empty())
        fail(ExitCode::Usage, "convert needs a MODEL", "usage: llmq convert MODEL_DIR -o OUT.gguf [--outtype f32|f16|bf16|auto]");
    if (p.positionals.size() > 1) fail(ExitCode::Usage, "unexpected argument '" + p.positionals[1] + "'", "see `llmq convert --help`");
    ConvertOptions o;
    o.model_path = p.positionals[0];
    o.output_path = p.value("-o").value_or("");
    if (auto t = p.value("--outtype")) {
        const auto outtype = parse_outtype(*t);
        if (!outtype) fail(ExitCode::Usage, "invalid value '" + *t + "' for --outtype", "use f32, f16, bf16 or auto");
        o.outtype = *outtype;
    }
    o.vocab = !p.has("--no-vocab");
    if (auto c = p.value("--chunk-mb")) o.chunk_bytes = static_cast<uint64_t>(cli::parse_int(*c, "--chunk-mb", 1, 65536)) << 20;
    return run_convert(o, host);
}

json run_inspect_command(const std::vector<std::string>& args, Host& host) {
    const auto p = cli::parse_args(args, {}, "inspect");
    if (p.positionals.size() != 1) fail(ExitCode::Usage, "inspect needs exactly one MODEL", "usage: llmq inspect MODEL");
    return run_inspect(p.positionals[0], host);
}

void print_error(const Error& e, OutputFormat format, CliEnvironment& env) {
    env.write_stderr("error: " + e.message + "\n");
    if (!e.suggestion.empty()) env.write_stderr("hint: " + e.suggestion + "\n");
    if (format == OutputFormat::Json) {
        json j = {{"status", "error"},
                  {"error_code", static_cast<int>(e.code)},
                  {"error_type", error_type_name(e.code)},
                  {"message", e.message},
                  {"suggestion", e.suggestion.empty() ? json(nullptr) : json(e.suggestion)}};
        env.write_stdout(j.dump() + "\n");
    }
}

}  // namespace

int run_cli(const std::vector<std::string>& args, CliEnvironment& env) {
    OutputFormat format = OutputFormat::Human;
    try {
        Invocation inv = split_globals(args);
        format = inv.global.format;
        if (inv.version) {
            env.write_stdout(std::string("llmq ") + LLMQ_VERSION + "\n");
            return 0;
        }
        if (inv.command.empty() || inv.command == "help") {
            const std::string topic = inv.command == "help" && !inv.rest.empty() ? inv.rest.front() : "";
            const std::string text = topic.empty() ? cli::general_help() : cli::command_help(topic);
            if (inv.help || inv.command == "help") {
                env.write_stdout(text.empty() ? cli::general_help() : text);
                return 0;
            }
            env.write_stderr(cli::general_help());
            return static_cast<int>(ExitCode::Usage);
        }
        if (inv.help) {
            const std::string text = cli::command_help(inv.command);
            env.write_stdout(text.empty() ? cli::general_help() : text);
            return text.empty() && !kPlannedCommands.count(inv.command) ? static_cast<int>(ExitCode::Usage) : 0;
        }
        if (format == OutputFormat::Csv && inv.command != "quality")
            fail(ExitCode::Usage, "--format csv is for quality compare", "use --format human or --format json");
        if (env.configure) env.configure(inv.global);
        const bool verbose = inv.global.verbosity == Verbosity::Verbose || inv.global.verbosity == Verbosity::Debug;
        json result;
        std::string human;
        if (inv.command == "quantize") {
            result = run_quantize_command(inv.rest, *env.host);
            human = cli::quantize_report(result, verbose);
        } else if (inv.command == "inspect") {
            result = run_inspect_command(inv.rest, *env.host);
            human = cli::inspect_report(result, verbose);
        } else if (inv.command == "convert") {
            result = run_convert_command(inv.rest, *env.host);
            human = cli::convert_report(result, verbose);
        } else if (inv.command == "perplexity") {
            result = cli::run_perplexity_command(inv.rest, *env.host);
            human = cli::perplexity_report(result, verbose);
        } else if (inv.command == "generate") {
            result = cli::run_generate_command(inv.rest, *env.host);
            human = cli::generate_report(result, verbose);
            // The continuation is the command's product: stdout, like any text tool.
            if (format == OutputFormat::Human) env.write_stdout(result["text"].get<std::string>() + "\n");
        } else if (inv.command == "analyze") {
            result = cli::run_analyze_command(inv.rest, *env.host);
            human = cli::analyze_report(result, verbose);
        } else if (inv.command == "profile") {
            result = cli::run_profile_command(inv.rest, *env.host);
            human = cli::profile_report(result, verbose);
            // `profile show` prints the document itself: the command's product, on stdout.
            if (format == OutputFormat::Human && result["subcommand"] == "show") {
                env.write_stdout(human);
                human.clear();
            }
        } else if (inv.command == "quality") {
            if (format == OutputFormat::Csv && (inv.rest.empty() || inv.rest.front() != "compare"))
                fail(ExitCode::Usage, "--format csv is for quality compare", "use --format human or --format json");
            result = cli::run_quality_command(inv.rest, *env.host);
            // The report or table is the command's product: stdout.
            if (format == OutputFormat::Csv) {
                env.write_stdout(report::compare_csv(result));
                return 0;
            }
            if (format == OutputFormat::Human) {
                env.write_stdout(cli::quality_text(result, verbose));
                return 0;
            }
        } else if (kPlannedCommands.count(inv.command)) {
            fail(ExitCode::Usage, "'" + inv.command + "' is not available in this version of llmq yet",
                 "available now: quantize, convert, inspect, perplexity, generate, analyze, profile, quality (see `llmq --help`)");
        } else {
            fail(ExitCode::Usage, "unknown command '" + inv.command + "'", "see `llmq --help` for the commands");
        }
        if (format == OutputFormat::Json) {
            env.write_stdout(result.dump() + "\n");
        } else if (inv.global.verbosity != Verbosity::Quiet) {
            env.write_stderr(human);
        }
        return 0;
    } catch (const Failure& f) {
        print_error(f.error(), format, env);
        return static_cast<int>(f.error().code);
    } catch (const std::bad_alloc&) {
        print_error({ExitCode::OutOfMemory, "out of memory", "use a smaller --chunk-mb or fewer threads"}, format, env);
        return static_cast<int>(ExitCode::OutOfMemory);
    } catch (const std::exception& e) {
        print_error({ExitCode::General, std::string("internal error: ") + e.what(), "please report this with the command line"}, format, env);
        return static_cast<int>(ExitCode::General);
    }
}

}  // namespace llmq
