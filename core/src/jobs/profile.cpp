#include "llmq/jobs/profile.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "analysis/weight_rows.hpp"
#include "jobs/cache.hpp"
#include "jobs/dynamic.hpp"
#include "llmq/error.hpp"
#include "llmq/format/imatrix.hpp"
#include "llmq/jobs/inspect.hpp"
#include "llmq/plan/allocate.hpp"
#include "util/printf.hpp"

namespace llmq {
namespace {

using nlohmann::json;

json target_json(const plan::ProfileTarget& t) {
    if (t.bpw) return {{"bpw", *t.bpw}};
    if (t.ratio) return {{"ratio", *t.ratio}};
    if (t.size) return {{"size", *t.size}};
    return nullptr;
}

json summary(const plan::Profile& p) {
    json types = json::array();
    for (GgmlType t : p.candidates) types.push_back(type_name(t));
    json rules = json::array();
    for (const auto& r : p.rules) {
        json allowed = json::array();
        for (GgmlType t : r.types) allowed.push_back(type_name(t));
        rules.push_back({{"match", r.match},
                         {"types", allowed},
                         {"min_bpw", r.min_bpw},
                         {"max_bpw", r.max_bpw < 1e8 ? json(r.max_bpw) : json(nullptr)},
                         {"loss_weight", r.loss_weight},
                         {"note", r.note}});
    }
    return {{"name", p.name},     {"description", p.description},
            {"source", p.source}, {"candidates", types},
            {"rules", rules},     {"default_target", target_json(p.default_target)},
            {"notes", p.notes}};
}

}  // namespace

json run_profile_list(Host& host) {
    json list = json::array();
    for (const auto& b : plan::builtin_profiles()) list.push_back(summary(plan::parse_profile(b.text, "built-in " + std::string(b.name))));
    const std::string dir = jobs::profile_dir(host);
    json custom = json::array();
    if (!dir.empty() && host.open_files && host.exists(dir)) {
        try {
            const auto files = host.open_files(dir);
            auto names = files->list();
            std::sort(names.begin(), names.end());
            for (const auto& name : names) {
                if (!name.ends_with(".dqprofile") || name.find('/') != std::string::npos) continue;
                const std::string path = (std::filesystem::path(dir) / name).string();
                try {
                    custom.push_back(summary(jobs::load_profile(path, host)));
                } catch (const Failure& f) {
                    custom.push_back({{"name", name.substr(0, name.size() - 10)}, {"source", path}, {"error", f.error().message}});
                }
            }
        } catch (const Failure&) {
            // An unreadable profile directory lists nothing from it.
        }
    }
    for (auto& c : custom) list.push_back(std::move(c));
    return {{"status", "success"}, {"profile_dir", dir.empty() ? json(nullptr) : json(dir)}, {"profiles", list}};
}

json run_profile_show(const std::string& spec, Host& host) {
    const plan::Profile p = jobs::load_profile(spec, host);
    json r = summary(p);
    r["status"] = "success";
    r["document"] = p.text;
    return r;
}

json run_profile_create(const ProfileCreateOptions& o, Host& host) {
    if (o.name.empty() || o.name.find_first_of("/\\ ") != std::string::npos)
        fail(ExitCode::Usage, "profile create needs --name NAME (one word, no slashes)",
             "e.g. llmq profile create --imatrix m.imatrix --name mymodel");
    if (o.target_bpw && o.target_size) fail(ExitCode::Usage, "--target-bpw and --target-size both given", "give one default target");
    std::unique_ptr<ByteSource> src;
    try {
        src = host.open_file(o.imatrix_path);
    } catch (const Failure&) {
        fail(ExitCode::Imatrix, o.imatrix_path + ": importance matrix not found", "compute one with `llmq analyze MODEL -o model.imatrix`");
    }
    const ImatrixData data = read_imatrix(*src);
    if (data.entries.empty()) fail(ExitCode::Imatrix, o.imatrix_path + ": the importance matrix has no entries");

    // Concentration of each matrix's importance: the largest column over the mean. Outlier
    // input channels make low-bit types lose most, so the most concentrated tenth of the
    // matrices keep at least 4.5 bits.
    struct Score {
        std::string name;
        double ratio;
    };
    std::vector<Score> scores;
    for (const auto& [name, values] : data.entries) {
        double sum = 0.0, mx = 0.0;
        for (float v : values) {
            sum += v;
            mx = std::max<double>(mx, v);
        }
        const double mean = sum / static_cast<double>(std::max<size_t>(1, values.size()));
        if (mean > 0) scores.push_back({name, mx / mean});
    }
    std::sort(scores.begin(), scores.end(),
              [](const Score& a, const Score& b) { return a.ratio > b.ratio || (a.ratio == b.ratio && a.name < b.name); });
    const size_t keep = std::max<size_t>(1, scores.size() / 10);

    const auto* base = plan::find_builtin_profile("balanced");
    json doc = json::parse(base->text);
    doc["name"] = o.name;
    doc["description"] = "Tuned from " + std::filesystem::path(o.imatrix_path).filename().string() +
                         ": balanced, with the matrices whose importance is most concentrated kept at 4.5 bits or more.";
    if (o.target_bpw) doc["default_target"] = {{"bpw", *o.target_bpw}};
    if (o.target_size) doc["default_target"] = {{"size", *o.target_size}};
    json rules = doc.value("rules", json::array());
    json protected_list = json::array();
    for (size_t i = 0; i < keep && i < scores.size(); ++i) {
        std::string escaped;
        for (char c : scores[i].name) {
            if (c == '.') escaped += '\\';
            escaped += c;
        }
        rules.push_back({{"match", "^" + escaped + "$"},
                         {"min_bpw", 4.5},
                         {"note", strprintf("importance concentrated: the largest column is %.0fx the mean", scores[i].ratio)}});
        protected_list.push_back({{"tensor", scores[i].name}, {"max_over_mean", scores[i].ratio}});
    }
    doc["rules"] = rules;
    doc["notes"] = json::array({"Created by `llmq profile create` from " + o.imatrix_path + "."});
    const std::string text = doc.dump(2) + "\n";
    (void)plan::parse_profile(text, o.name);  // what we write must read back

    const std::string out = o.output_path.empty() ? o.name + ".dqprofile" : o.output_path;
    jobs::write_whole(out, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()), host);
    return {{"status", "success"}, {"output_path", out}, {"name", o.name}, {"kept_wide", protected_list}, {"default_target", doc["default_target"]}};
}

json run_profile_validate(const std::string& spec, const std::string& model_path, Host& host) {
    const plan::Profile p = jobs::load_profile(spec, host);
    const ModelView model = open_model(model_path, host);
    std::vector<gguf::KeyValue> kv = model.metadata;
    kv.push_back({"llmq.profile", gguf::Value::string(p.name)});
    kv.push_back({"llmq.target", gguf::Value::string(jobs::describe_target({}, p))});
    const jobs::DynamicSetup setup = jobs::dynamic_setup(model, kv, gguf::kDefaultAlignment, {});
    std::vector<plan::TensorChoices> choices;
    json untyped = json::array();
    for (size_t index : setup.quantizable) {
        const ModelTensor& t = model.tensors[index];
        plan::TensorChoices ch;
        ch.name = t.name;
        for (GgmlType type : jobs::candidate_types(p, t, analysis::block_index(t.name).has_value())) {
            const uint64_t bytes = row_size(type, t.ne[0]) * static_cast<uint64_t>(t.n_rows());
            ch.options.push_back({type, (bytes + 31) / 32 * 32, 0.0});
        }
        if (ch.options.empty()) {
            untyped.push_back({{"tensor", t.name}, {"row_length", t.ne[0]}});
            continue;
        }
        choices.push_back(std::move(ch));
    }
    const uint64_t base = setup.fixed.header_bytes + setup.fixed.kept_bytes;
    const uint64_t smallest = base + plan::min_bytes(choices);
    const uint64_t largest = base + plan::max_bytes(choices);
    const double params = static_cast<double>(setup.fixed.total_params);
    uint64_t target = 0;
    if (p.default_target.size) {
        target = *p.default_target.size;
    } else if (p.default_target.ratio) {
        target = static_cast<uint64_t>(*p.default_target.ratio * (static_cast<double>(setup.fixed.header_bytes) + 2.0 * params));
    } else {
        target = setup.fixed.header_bytes + static_cast<uint64_t>(*p.default_target.bpw * params / 8.0);
    }
    const bool reachable = untyped.empty() && target >= smallest;
    json r = {{"status", "success"},
              {"profile", p.name},
              {"model_path", model_path},
              {"valid", reachable},
              {"quantizable_tensors", setup.quantizable.size()},
              {"tensors_without_a_type", untyped},
              {"smallest_size", smallest},
              {"largest_size", largest},
              {"smallest_bpw", 8.0 * static_cast<double>(smallest - setup.fixed.header_bytes) / params},
              {"default_target", target_json(p.default_target)},
              {"default_target_size", std::clamp(target, smallest, largest)},
              {"input_size", model.source_bytes}};
    if (!untyped.empty()) {
        fail(ExitCode::Profile,
             "profile " + p.name + " cannot be met on " + model_path + ": no candidate type fits " + untyped[0]["tensor"].get<std::string>() +
                 " (rows of " + std::to_string(untyped[0]["row_length"].get<int64_t>()) + ")" +
                 (untyped.size() > 1 ? " and " + std::to_string(untyped.size() - 1) + " more" : ""),
             "add a type with a 32-element block (q4_0, iq4_nl, q5_0, q8_0) to its candidates");
    }
    if (target < smallest) {
        fail(ExitCode::Profile,
             "profile " + p.name + " cannot be met on " + model_path + ": its default target gives " + std::to_string(target) +
                 " bytes, but the smallest mix it allows is " + std::to_string(smallest),
             "raise default_target, or give --target-size " + std::to_string(smallest) + " or more when quantizing");
    }
    return r;
}

}  // namespace llmq
