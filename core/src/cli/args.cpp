#include "cli/args.hpp"

#include <charconv>

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

}  // namespace llmq::cli
