#include "cli/args.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "llmq/cli/cli.hpp"
#include "llmq/error.hpp"

namespace llmq::cli {

std::optional<std::string> ParsedArgs::value(const std::string& name) const {
    auto it = options.find(name);
    if (it == options.end() || it->second.empty()) return std::nullopt;
    return it->second.back();
}

std::vector<std::string> ParsedArgs::values(const std::string& name) const {
    auto it = options.find(name);
    return it == options.end() ? std::vector<std::string>{} : it->second;
}

ParsedArgs parse_args(const std::vector<std::string>& args, const std::vector<OptionSpec>& specs, const std::string& command) {
    ParsedArgs parsed;
    const std::string help_hint = "see `llmq " + command + " --help`";
    bool only_positionals = false;
    for (size_t i = 0; i < args.size(); ++i) {
        std::string arg = args[i];
        if (only_positionals || arg.size() < 2 || arg[0] != '-' || (arg[1] >= '0' && arg[1] <= '9')) {
            parsed.positionals.push_back(arg);
            continue;
        }
        if (arg == "--") {
            only_positionals = true;
            continue;
        }
        std::optional<std::string> inline_value;
        if (arg.rfind("--", 0) == 0) {
            if (auto eq = arg.find('='); eq != std::string::npos) {
                inline_value = arg.substr(eq + 1);
                arg = arg.substr(0, eq);
            }
        }
        const OptionSpec* spec = nullptr;
        for (const auto& s : specs)
            for (const auto& n : s.names)
                if (n == arg) spec = &s;
        if (!spec) fail(ExitCode::Usage, "unknown option " + arg + " for '" + command + "'", help_hint);
        const std::string& canonical = spec->names.front();
        if (parsed.has(canonical) && !spec->repeatable) {
            fail(ExitCode::Usage, "option " + arg + " given twice", help_hint);
        }
        if (spec->takes_value) {
            if (!inline_value) {
                if (i + 1 >= args.size()) fail(ExitCode::Usage, "option " + arg + " needs a value", help_hint);
                inline_value = args[++i];
            }
            parsed.options[canonical].push_back(*inline_value);
        } else {
            if (inline_value) fail(ExitCode::Usage, "option " + arg + " takes no value", help_hint);
            parsed.options[canonical].push_back("");
        }
    }
    return parsed;
}

long long parse_int(const std::string& text, const std::string& option, long long min, long long max) {
    long long v = 0;
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc() || ptr != end || v < min || v > max) {
        fail(ExitCode::Usage, "invalid value '" + text + "' for " + option,
             "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max));
    }
    return v;
}

Numerics parse_numerics(const std::optional<std::string>& value, Numerics fallback) {
    if (!value) return fallback;
    const auto n = numerics_from_name(*value);
    if (!n) {
        fail(ExitCode::Usage, "invalid value '" + *value + "' for --numerics",
             "use exact (float arithmetic) or ggml (llama.cpp's CPU rounding, to reproduce its numbers)");
    }
    return *n;
}

}  // namespace llmq::cli

namespace llmq::cli {

double parse_number(const std::string& text, const std::string& option, double min, double max) {
    char* end = nullptr;
    const double v = text.empty() ? NAN : std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v) || v < min || v > max) {
        char range[96];
        std::snprintf(range, sizeof range, "expected a number from %g to %g", min, max);
        fail(ExitCode::Usage, "invalid value '" + text + "' for " + option, range);
    }
    return v;
}

uint64_t parse_size(const std::string& text, const std::string& option) {
    // A number, then an optional unit: B, KB/MB/GB/TB (powers of 1000), KiB/MiB/GiB/TiB (1024).
    size_t i = 0;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    std::string unit = text.substr(i);
    for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    struct Unit {
        const char* name;
        double factor;
    };
    static constexpr Unit units[] = {
        {"", 1},     {"B", 1},    {"K", 1e3},   {"KB", 1e3},     {"M", 1e6},         {"MB", 1e6},           {"G", 1e9},
        {"GB", 1e9}, {"T", 1e12}, {"TB", 1e12}, {"KIB", 1024.0}, {"MIB", 1048576.0}, {"GIB", 1073741824.0}, {"TIB", 1099511627776.0}};
    const std::string number = text.substr(0, i);
    char* end = nullptr;
    const double v = number.empty() ? NAN : std::strtod(number.c_str(), &end);
    const Unit* u = nullptr;
    for (const auto& c : units)
        if (unit == c.name) u = &c;
    if (number.empty() || end != number.c_str() + number.size() || !u || !(v > 0) || v * u->factor >= 1.8e19) {
        fail(ExitCode::Usage, "invalid size '" + text + "' for " + option, "give bytes, optionally with a unit: 3.2GB, 800MiB, 1500000000");
    }
    return static_cast<uint64_t>(std::llround(v * u->factor));
}

}  // namespace llmq::cli
