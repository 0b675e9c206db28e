#include "cli/convert_report.hpp"

#include <cstdio>
#include <map>
#include <sstream>

#include "cli/report.hpp"

namespace llmq::cli {

std::string convert_report(const nlohmann::json& r, bool verbose) {
    std::ostringstream out;
    char line[512];
    out << "converted " << r["architecture"].get<std::string>() << " (" << r["source_format"].get<std::string>() << ") to "
        << r["outtype"].get<std::string>() << ": " << r["output_path"].get<std::string>() << "\n";
    std::snprintf(line, sizeof line, "  size      %s -> %s, %s parameters, %zu tensors\n", human_size(r["input_size"].get<double>()).c_str(),
                  human_size(r["file_size"].get<double>()).c_str(), std::to_string(r["parameter_count"].get<uint64_t>()).c_str(),
                  r["tensors"].size());
    out << line;
    std::snprintf(line, sizeof line, "  time      %.2f s, peak memory %s\n", r["duration_seconds"].get<double>(),
                  human_size(r["peak_memory_bytes"].get<double>()).c_str());
    out << line;
    std::map<std::string, int> types;
    for (const auto& t : r["tensors"]) ++types[t["type"].get<std::string>()];
    out << "  types    ";
    for (const auto& [type, n] : types) out << " " << type << " x" << n;
    out << "\n";
    if (verbose) {
        out << "  tensors:\n";
        for (const auto& t : r["tensors"]) {
            std::string shape;
            for (const auto& d : t["shape"]) shape += (shape.empty() ? "" : " x ") + std::to_string(d.get<int64_t>());
            std::snprintf(line, sizeof line, "    %-32s %-6s %-16s %10s\n", t["name"].get<std::string>().c_str(),
                          t["type"].get<std::string>().c_str(), shape.c_str(), human_size(t["bytes"].get<double>()).c_str());
            out << line;
        }
    }
    return out.str();
}

}  // namespace llmq::cli
