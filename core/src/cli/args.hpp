// A small argv scanner: options with or without a value, positionals, and clear usage errors.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "llmq/runtime/config.hpp"

namespace llmq::cli {

struct OptionSpec {
    std::vector<std::string> names;  // "-q", "--level"
    bool takes_value = false;
    bool repeatable = false;
};

struct ParsedArgs {
    std::vector<std::string> positionals;
    // canonical name (first of names) -> values (empty string for flags)
    std::map<std::string, std::vector<std::string>> options;

    bool has(const std::string& name) const { return options.count(name) != 0; }
    std::optional<std::string> value(const std::string& name) const;
    std::vector<std::string> values(const std::string& name) const;
};

// Throws Failure(Usage) for unknown options, missing values and repeats of single options.
// command names the command for messages ("quantize").
ParsedArgs parse_args(const std::vector<std::string>& args, const std::vector<OptionSpec>& specs, const std::string& command);

// Parses a whole number in [min, max] for an option; Failure(Usage) otherwise.
long long parse_int(const std::string& text, const std::string& option, long long min, long long max);

// --numerics exact|ggml (absent: fallback); Failure(Usage) for anything else.
Numerics parse_numerics(const std::optional<std::string>& value, Numerics fallback = Numerics::Exact);

// Parses a decimal number in [min, max]; Failure(Usage) otherwise.
double parse_number(const std::string& text, const std::string& option, double min, double max);

// parse_size (byte counts with units) is declared in llmq/cli/cli.hpp: the wasm API uses it too.

}  // namespace llmq::cli
