// The super-weight mask: the JSON `quantize --protect-super-weights` reads. `protected` lists
// every weight to keep exact (the spike-traced super weights and the coverage set), once each,
// sorted by (tensor, row, col) so a reader can merge it with a tensor's rows in order.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "llmq/analysis/super_weights.hpp"
#include "llmq/error.hpp"

namespace llmq {

nlohmann::json super_weight_locations_json(const SuperWeightReport& report) {
    nlohmann::json locations = nlohmann::json::array();
    for (const SuperWeightLocation& l : report.locations) {
        locations.push_back({{"tensor", l.tensor},
                             {"layer", l.layer},
                             {"row", l.row},
                             {"col", l.col},
                             {"value", l.value},
                             {"activation", l.activation},
                             {"output_activation", l.output_activation}});
    }
    return locations;
}

void write_super_weight_mask(ByteSink& sink, const SuperWeightReport& report) {
    using nlohmann::json;
    const json locations = super_weight_locations_json(report);
    std::vector<std::tuple<std::string, int64_t, int64_t>> keep;
    keep.reserve(report.locations.size() + report.coverage_set.size());
    for (const SuperWeightLocation& l : report.locations) keep.emplace_back(l.tensor, l.row, l.col);
    for (const CoverageWeight& c : report.coverage_set) keep.emplace_back(c.tensor, c.row, c.col);
    std::sort(keep.begin(), keep.end());
    keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
    json protect = json::array();
    for (const auto& [tensor, row, col] : keep) protect.push_back({{"tensor", tensor}, {"row", row}, {"col", col}});
    // One protected weight per line: compact for large sets, still readable and diffable.
    std::string text = "{\"format\":\"llmq-super-weights\",\"version\":1,\"identified\":" + json(report.identified).dump() +
                       ",\"coverage\":" + json(report.coverage).dump() + ",\n\"super_weights\":" + locations.dump() + ",\n\"protected\":[";
    for (size_t i = 0; i < protect.size(); ++i) text += (i ? ",\n" : "\n") + protect[i].dump();
    text += "\n]}\n";
    sink.write(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

SuperWeightMask mask_of(const SuperWeightReport& report) {
    SuperWeightMask m;
    m.identified = report.identified;
    m.coverage = report.coverage;
    m.super_weights = report.locations;
    for (const CoverageWeight& c : report.coverage_set) m.protect[c.tensor].push_back({c.row, c.col, false});
    for (const SuperWeightLocation& l : report.locations) m.protect[l.tensor].push_back({l.row, l.col, true});
    for (auto& [name, list] : m.protect) {
        std::sort(list.begin(), list.end(), [](const ProtectedWeight& a, const ProtectedWeight& b) {
            return std::tie(a.row, a.col, b.super_weight) < std::tie(b.row, b.col, a.super_weight);
        });
        // One entry per weight; a super weight that is also in the coverage set stays a super weight.
        list.erase(std::unique(list.begin(), list.end(),
                               [](const ProtectedWeight& a, const ProtectedWeight& b) { return a.row == b.row && a.col == b.col; }),
                   list.end());
    }
    return m;
}

SuperWeightMask read_super_weight_mask(std::span<const uint8_t> bytes, const std::string& source) {
    using nlohmann::json;
    auto bad = [&](const std::string& what) {
        fail(ExitCode::CorruptInput, "super-weight mask " + source + ": " + what,
             "give the .superweights.json that `llmq analyze --identify-super-weights` wrote");
    };
    const json doc = json::parse(bytes.begin(), bytes.end(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) bad("not a JSON object");
    // value() throws when the key holds another type: compare the raw values instead.
    const auto field = [&](const char* key) { return doc.contains(key) ? doc.at(key) : json(nullptr); };
    if (field("format") != json("llmq-super-weights")) bad("not an llmq super-weight mask (format)");
    if (field("version") != json(1)) bad("version " + field("version").dump() + " (this llmq reads version 1)");
    SuperWeightMask m;
    try {
        m.identified = doc.at("identified").get<bool>();
        m.coverage = doc.at("coverage").get<double>();
        if (!doc.at("super_weights").is_array() || !doc.at("protected").is_array()) bad("super_weights and protected must be arrays");
        std::set<std::tuple<std::string, int64_t, int64_t>> supers;
        for (const auto& l : doc.at("super_weights")) {
            SuperWeightLocation s;
            s.tensor = l.at("tensor").get<std::string>();
            s.layer = l.at("layer").get<int64_t>();
            s.row = l.at("row").get<int64_t>();
            s.col = l.at("col").get<int64_t>();
            s.value = l.at("value").get<float>();
            s.activation = l.at("activation").get<float>();
            s.output_activation = l.at("output_activation").get<float>();
            if (s.row < 0 || s.col < 0) bad("negative row or column");
            supers.emplace(s.tensor, s.row, s.col);
            m.super_weights.push_back(std::move(s));
        }
        for (const auto& p : doc.at("protected")) {
            const std::string t = p.at("tensor").get<std::string>();
            const int64_t row = p.at("row").get<int64_t>(), col = p.at("col").get<int64_t>();
            if (row < 0 || col < 0) bad("negative row or column");
            m.protect[t].push_back({row, col, supers.count({t, row, col}) > 0});
        }
    } catch (const json::exception& e) {
        bad(std::string("malformed (") + e.what() + ")");
    }
    for (auto& [name, list] : m.protect) {
        std::sort(list.begin(), list.end(),
                  [](const ProtectedWeight& a, const ProtectedWeight& b) { return std::tie(a.row, a.col) < std::tie(b.row, b.col); });
    }
    return m;
}

}  // namespace llmq
