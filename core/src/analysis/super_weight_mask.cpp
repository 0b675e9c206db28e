// The super-weight mask: the JSON `quantize --protect-super-weights` reads. `protected` lists
// every weight to keep exact (the spike-traced super weights and the coverage set), once each,
// sorted by (tensor, row, col) so a reader can merge it with a tensor's rows in order.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <tuple>

#include "llmq/analysis/super_weights.hpp"

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

}  // namespace llmq
