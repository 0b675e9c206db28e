#include "cli/profile_command.hpp"

#include <cstdio>
#include <sstream>

#include "cli/args.hpp"
#include "cli/report.hpp"
#include "llmq/cli/cli.hpp"
#include "llmq/error.hpp"
#include "llmq/jobs/profile.hpp"

namespace llmq::cli {
namespace {

using nlohmann::json;

constexpr const char* kUsage =
    "usage: llmq profile list | show NAME|FILE | create --imatrix F --name N [--target-bpw X|--target-size B] [-o F] | validate PROFILE MODEL";

std::string target_text(const json& t) {
    if (t.contains("bpw")) return std::to_string(t["bpw"].get<double>()).substr(0, 5) + " bpw";
    if (t.contains("ratio")) return std::to_string(t["ratio"].get<double>()).substr(0, 5) + " of the 16-bit size";
    if (t.contains("size")) return human_size(t["size"].get<double>());
    return "-";
}

}  // namespace

json run_profile_command(const std::vector<std::string>& args, Host& host) {
    if (args.empty()) fail(ExitCode::Usage, "profile needs a subcommand", kUsage);
    const std::string sub = args[0];
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    json r;
    if (sub == "list") {
        const auto p = parse_args(rest, {}, "profile list");
        if (!p.positionals.empty()) fail(ExitCode::Usage, "unexpected argument '" + p.positionals[0] + "'", kUsage);
        r = run_profile_list(host);
    } else if (sub == "show") {
        const auto p = parse_args(rest, {}, "profile show");
        if (p.positionals.size() != 1) fail(ExitCode::Usage, "profile show needs one NAME or FILE", kUsage);
        r = run_profile_show(p.positionals[0], host);
    } else if (sub == "create") {
        const std::vector<OptionSpec> specs = {{{"--imatrix"}, true, false},
                                               {{"--name"}, true, false},
                                               {{"--target-bpw"}, true, false},
                                               {{"--target-size"}, true, false},
                                               {{"-o", "--output"}, true, false}};
        const auto p = parse_args(rest, specs, "profile create");
        if (!p.positionals.empty()) fail(ExitCode::Usage, "unexpected argument '" + p.positionals[0] + "'", kUsage);
        ProfileCreateOptions o;
        const auto imatrix = p.value("--imatrix");
        if (!imatrix) fail(ExitCode::Usage, "profile create needs --imatrix F", kUsage);
        o.imatrix_path = *imatrix;
        o.name = p.value("--name").value_or("");
        if (auto v = p.value("--target-bpw")) o.target_bpw = parse_number(*v, "--target-bpw", 1.0, 32.0);
        if (auto v = p.value("--target-size")) o.target_size = parse_size(*v, "--target-size");
        o.output_path = p.value("-o").value_or("");
        r = run_profile_create(o, host);
    } else if (sub == "validate") {
        const auto p = parse_args(rest, {}, "profile validate");
        if (p.positionals.size() != 2) fail(ExitCode::Usage, "profile validate needs a PROFILE and a MODEL", kUsage);
        r = run_profile_validate(p.positionals[0], p.positionals[1], host);
    } else {
        fail(ExitCode::Usage, "unknown profile subcommand '" + sub + "'", kUsage);
    }
    r["subcommand"] = sub;
    return r;
}

std::string profile_report(const json& r, bool verbose) {
    std::ostringstream out;
    const std::string sub = r.value("subcommand", "");
    if (sub == "list") {
        for (const auto& p : r["profiles"]) {
            if (p.contains("error")) {
                out << "  " << p["name"].get<std::string>() << "  (" << p["source"].get<std::string>() << ": " << p["error"].get<std::string>()
                    << ")\n";
                continue;
            }
            char line[512];
            std::snprintf(line, sizeof line, "  %-16s %-24s %s\n", p["name"].get<std::string>().c_str(), target_text(p["default_target"]).c_str(),
                          p["description"].get<std::string>().c_str());
            out << line;
            if (verbose) out << "                   from " << p["source"].get<std::string>() << "\n";
        }
        if (!r["profile_dir"].is_null()) out << "custom profiles: " << r["profile_dir"].get<std::string>() << "/NAME.dqprofile\n";
    } else if (sub == "show") {
        out << r["document"].get<std::string>();
        if (!r["document"].get<std::string>().ends_with("\n")) out << "\n";
    } else if (sub == "create") {
        out << "wrote profile " << r["name"].get<std::string>() << " to " << r["output_path"].get<std::string>() << " (default target "
            << target_text(r["default_target"]) << ")\n";
        for (const auto& k : r["kept_wide"]) out << "  kept at 4.5+ bits: " << k["tensor"].get<std::string>() << "\n";
    } else if (sub == "validate") {
        out << "profile " << r["profile"].get<std::string>() << " on " << r["model_path"].get<std::string>() << ": "
            << (r["valid"].get<bool>() ? "can be met" : "cannot be met") << "\n";
        out << "  sizes     " << human_size(r["smallest_size"].get<double>()) << " (smallest mix) to " << human_size(r["largest_size"].get<double>())
            << " (largest)\n";
        out << "  default   " << target_text(r["default_target"]) << " -> about " << human_size(r["default_target_size"].get<double>()) << "\n";
    }
    return out.str();
}

}  // namespace llmq::cli
