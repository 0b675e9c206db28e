#include "llmq/plan/profile.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "llmq/error.hpp"

namespace llmq::plan {
namespace {

using nlohmann::json;

constexpr int kSchemaVersion = 1;

struct Context {
    const std::string& source;
    [[noreturn]] void bad(const std::string& field, const std::string& what) const {
        fail(ExitCode::Profile, "profile " + source + ": " + (field.empty() ? std::string() : field + ": ") + what,
             "see docs/profiles.md for the .dqprofile schema, or `llmq profile show balanced` for an example");
    }
};

std::string describe(const json& v) {
    std::string s = v.dump();
    return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

void only_fields(const Context& cx, const json& obj, const std::string& where, std::initializer_list<std::string_view> allowed) {
    for (const auto& [key, value] : obj.items()) {
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
            std::string list;
            for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
            cx.bad(where.empty() ? key : where + "." + key, "unknown field (known: " + list + ")");
        }
    }
}

std::string string_field(const Context& cx, const json& obj, const std::string& key, const std::string& where, bool required) {
    const auto it = obj.find(key);
    if (it == obj.end()) {
        if (required) cx.bad(where.empty() ? key : where + "." + key, "missing");
        return {};
    }
    if (!it->is_string()) cx.bad(where.empty() ? key : where + "." + key, "expected a string, got " + describe(*it));
    return it->get<std::string>();
}

double number_field(const Context& cx, const json& v, const std::string& field, double min, double max) {
    if (!v.is_number()) cx.bad(field, "expected a number, got " + describe(v));
    const double d = v.get<double>();
    if (!std::isfinite(d) || d < min || d > max) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "%g is outside [%g, %g]", d, min, max);
        cx.bad(field, buf);
    }
    return d;
}

GgmlType type_field(const Context& cx, const json& v, const std::string& field) {
    if (!v.is_string()) cx.bad(field, "expected a type name, got " + describe(v));
    const auto t = type_from_name(v.get<std::string>());
    if (!t || !traits(*t).quantize || t == GgmlType::F32) {
        cx.bad(field, "'" + v.get<std::string>() + "' is not a type llmq can write for a weight (e.g. q4_K, iq3_s, q8_0, f16)");
    }
    return *t;
}

std::vector<GgmlType> type_list(const Context& cx, const json& v, const std::string& field) {
    if (!v.is_array() || v.empty()) cx.bad(field, "expected a non-empty array of type names, got " + describe(v));
    std::vector<GgmlType> out;
    for (size_t i = 0; i < v.size(); ++i) {
        const GgmlType t = type_field(cx, v[i], field + "[" + std::to_string(i) + "]");
        if (std::find(out.begin(), out.end(), t) != out.end()) cx.bad(field + "[" + std::to_string(i) + "]", "repeats " + std::string(type_name(t)));
        out.push_back(t);
    }
    return out;
}

bool rule_matches(const ProfileRule& r, const std::string& name) {
    return std::regex_search(name, r.regex);
}

}  // namespace

std::vector<GgmlType> Profile::allowed(const std::string& tensor_name) const {
    std::vector<GgmlType> out;
    for (GgmlType t : candidates) {
        const double bpw = bits_per_weight(t);
        bool ok = true;
        for (const auto& r : rules) {
            if (!rule_matches(r, tensor_name)) continue;
            if (!r.types.empty() && std::find(r.types.begin(), r.types.end(), t) == r.types.end()) ok = false;
            if (bpw < r.min_bpw || bpw > r.max_bpw) ok = false;
        }
        if (ok) out.push_back(t);
    }
    return out;
}

double Profile::loss_weight(const std::string& tensor_name) const {
    double w = 1.0;
    for (const auto& r : rules)
        if (rule_matches(r, tensor_name)) w *= r.loss_weight;
    return w;
}

Profile parse_profile(std::string_view text, const std::string& source) {
    const Context cx{source};
    const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) cx.bad("", "not valid JSON");
    if (!doc.is_object()) cx.bad("", "the top level is not a JSON object");
    only_fields(cx, doc, "", {"llmq_profile", "name", "description", "candidates", "default_target", "rules", "notes"});

    const auto version = doc.find("llmq_profile");
    if (version == doc.end()) cx.bad("llmq_profile", "missing (the schema version, 1)");
    if (!version->is_number_integer() || version->get<int>() != kSchemaVersion)
        cx.bad("llmq_profile", "schema version " + describe(*version) + " is not supported (this llmq reads version 1)");

    Profile p;
    p.source = source;
    p.text = std::string(text);
    p.name = string_field(cx, doc, "name", "", true);
    if (p.name.empty() || p.name.find_first_of("/\\ ") != std::string::npos) cx.bad("name", "must be a non-empty word without spaces or slashes");
    p.description = string_field(cx, doc, "description", "", false);

    if (!doc.contains("candidates")) cx.bad("candidates", "missing (the types the solver may choose)");
    p.candidates = type_list(cx, doc["candidates"], "candidates");

    if (!doc.contains("default_target")) cx.bad("default_target", "missing (e.g. {\"bpw\": 4.5})");
    const json& target = doc["default_target"];
    if (!target.is_object()) cx.bad("default_target", "expected an object such as {\"bpw\": 4.5} or {\"ratio\": 0.3}");
    only_fields(cx, target, "default_target", {"bpw", "ratio", "size"});
    if (target.size() != 1) cx.bad("default_target", "give exactly one of bpw, ratio, size");
    if (target.contains("bpw")) p.default_target.bpw = number_field(cx, target["bpw"], "default_target.bpw", 1.0, 32.0);
    if (target.contains("ratio")) p.default_target.ratio = number_field(cx, target["ratio"], "default_target.ratio", 0.01, 2.0);
    if (target.contains("size")) {
        const json& v = target["size"];
        if (!v.is_number_unsigned() || v.get<uint64_t>() == 0)
            cx.bad("default_target.size", "expected a positive whole number of bytes, got " + describe(v));
        p.default_target.size = v.get<uint64_t>();
    }

    if (doc.contains("rules")) {
        const json& rules = doc["rules"];
        if (!rules.is_array()) cx.bad("rules", "expected an array of rule objects");
        for (size_t i = 0; i < rules.size(); ++i) {
            const std::string where = "rules[" + std::to_string(i) + "]";
            const json& r = rules[i];
            if (!r.is_object()) cx.bad(where, "expected an object");
            only_fields(cx, r, where, {"match", "types", "min_bpw", "max_bpw", "loss_weight", "note"});
            ProfileRule rule;
            rule.match = string_field(cx, r, "match", where, true);
            try {
                rule.regex = std::regex(rule.match, std::regex::ECMAScript);
            } catch (const std::regex_error&) {
                cx.bad(where + ".match", "'" + rule.match + "' is not a valid regular expression");
            }
            if (r.contains("types")) {
                rule.types = type_list(cx, r["types"], where + ".types");
                for (size_t k = 0; k < rule.types.size(); ++k) {
                    if (std::find(p.candidates.begin(), p.candidates.end(), rule.types[k]) == p.candidates.end())
                        cx.bad(where + ".types[" + std::to_string(k) + "]", std::string(type_name(rule.types[k])) + " is not among the candidates");
                }
            }
            if (r.contains("min_bpw")) rule.min_bpw = number_field(cx, r["min_bpw"], where + ".min_bpw", 0.0, 32.0);
            if (r.contains("max_bpw")) rule.max_bpw = number_field(cx, r["max_bpw"], where + ".max_bpw", 0.0, 32.0);
            if (rule.min_bpw > rule.max_bpw) cx.bad(where, "min_bpw is above max_bpw");
            if (r.contains("loss_weight")) rule.loss_weight = number_field(cx, r["loss_weight"], where + ".loss_weight", 1e-6, 1e6);
            rule.note = string_field(cx, r, "note", where, false);
            p.rules.push_back(std::move(rule));
        }
    }
    if (doc.contains("notes")) {
        const json& notes = doc["notes"];
        if (notes.is_string()) {
            p.notes.push_back(notes.get<std::string>());
        } else if (notes.is_array()) {
            for (size_t i = 0; i < notes.size(); ++i) {
                if (!notes[i].is_string()) cx.bad("notes[" + std::to_string(i) + "]", "expected a string");
                p.notes.push_back(notes[i].get<std::string>());
            }
        } else {
            cx.bad("notes", "expected a string or an array of strings");
        }
    }
    return p;
}

const BuiltinProfile* find_builtin_profile(std::string_view name) {
    for (const auto& b : builtin_profiles())
        if (b.name == name) return &b;
    return nullptr;
}

}  // namespace llmq::plan
