#include "llmq/report/quality.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <vector>

#include "util/printf.hpp"

namespace llmq::report {
namespace {

using nlohmann::json;

std::string escape(std::string_view text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string num(const json& v, const char* f = "%.4g") {
    return v.is_number() ? strprintf(f, v.get<double>()) : "–";
}

std::string bytes_text(double n) {
    if (n >= 1e9) return strprintf("%.2f GB", n / 1e9);
    if (n >= 1e6) return strprintf("%.2f MB", n / 1e6);
    if (n >= 1e3) return strprintf("%.1f kB", n / 1e3);
    return strprintf("%.0f B", n);
}

std::string base_name(const std::string& path) {
    std::string p = path;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    const size_t slash = p.find_last_of('/');
    return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string card(const std::string& label, const std::string& value, const char* cls = "") {
    return std::string("<div class=\"q-card") + (*cls ? std::string(" ") + cls : "") + "\"><div class=\"q-label\">" + escape(label) +
           "</div><div class=\"q-value\">" + escape(value) + "</div></div>";
}

// A readable axis top: 1, 2 or 5 times a power of ten at or above v.
double nice_top(double v) {
    if (!(v > 0)) return 1.0;
    const double p = std::pow(10.0, std::floor(std::log10(v)));
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (m * p >= v) return m * p;
    return 10.0 * p;
}

// Bars of values (one per label), with a title per bar.
std::string bar_chart(const std::vector<std::string>& labels, const std::vector<double>& values, const std::string& axis, const char* cls,
                      const std::vector<std::string>& titles) {
    const double W = 960, H = 230, left = 62, right = 10, top_pad = 16, bottom = 34;
    const double plot_w = W - left - right, plot_h = H - top_pad - bottom;
    double biggest = 0;
    for (double v : values) biggest = std::max(biggest, std::isfinite(v) ? v : 0.0);
    const double top = nice_top(biggest);
    const auto y = [&](double v) { return top_pad + plot_h - std::clamp(v / top, 0.0, 1.0) * plot_h; };
    std::ostringstream s;
    s << "<div class=\"q-chart\"><svg viewBox=\"0 0 " << W << " " << H << "\" role=\"img\" aria-label=\"" << escape(axis) << "\">";
    for (int k = 0; k <= 4; ++k) {
        const double t = top * k / 4;
        s << "<line class=\"" << (k ? "q-grid" : "q-axis") << "\" x1=\"" << left << "\" x2=\"" << W - right << "\" y1=\"" << y(t) << "\" y2=\""
          << y(t) << "\"/>";
        s << "<text x=\"" << left - 6 << "\" y=\"" << y(t) + 4 << "\" text-anchor=\"end\">" << strprintf("%.3g", t) << "</text>";
    }
    s << "<text x=\"12\" y=\"" << top_pad + plot_h / 2 << "\" transform=\"rotate(-90 12 " << top_pad + plot_h / 2 << ")\" text-anchor=\"middle\">"
      << escape(axis) << "</text>";
    const double step = plot_w / std::max<size_t>(1, values.size());
    const double bar_w = std::clamp(step * 0.7, 2.0, 36.0);
    const size_t label_every = (values.size() + 39) / 40;
    for (size_t i = 0; i < values.size(); ++i) {
        const double v = std::isfinite(values[i]) ? values[i] : 0.0;
        const double cx = left + step * (static_cast<double>(i) + 0.5);
        s << "<rect class=\"" << cls << "\" x=\"" << cx - bar_w / 2 << "\" y=\"" << y(v) << "\" width=\"" << bar_w << "\" height=\""
          << std::max(1.0, top_pad + plot_h - y(v)) << "\" rx=\"2\"><title>" << escape(titles[i]) << "</title></rect>";
        if (i % std::max<size_t>(1, label_every) == 0)
            s << "<text x=\"" << cx << "\" y=\"" << H - bottom + 16 << "\" text-anchor=\"middle\">" << escape(labels[i]) << "</text>";
    }
    s << "</svg></div>";
    return s.str();
}

std::string short_layer(const std::string& name) {
    if (name.rfind("blk.", 0) == 0) return name.substr(4);
    if (name.rfind("token_embd", 0) == 0) return "embd";
    if (name.rfind("output_norm", 0) == 0) return "norm";
    if (name.rfind("output", 0) == 0) return "out";
    return name.substr(0, 8);
}

std::string report_fragment(const json& r) {
    const json& m = r["metrics"];
    std::ostringstream s;
    s << "<section class=\"llmq-quality\" data-kind=\"report\">";
    s << "<h2>Quality of " << escape(base_name(r["quantized_model"].get<std::string>())) << "</h2>";
    s << "<p class=\"q-sub\">against " << escape(r["original_model"].get<std::string>()) << " · "
      << escape(base_name(r["text"]["source"].get<std::string>())) << ", " << r["text"]["chunks"].get<int64_t>() << " chunks of "
      << r["text"]["ctx"].get<int64_t>() << " tokens (" << r["text"]["scored_tokens"].get<int64_t>() << " scored)"
      << (r.contains("timestamp") ? " · " + escape(r["timestamp"].get<std::string>()) : "") << "</p>";
    const double delta = m["perplexity_delta_pct"].get<double>();
    s << "<div class=\"q-cards\">";
    s << card("perplexity",
              strprintf("%.4g", m["perplexity_original"].get<double>()) + " → " + strprintf("%.4g", m["perplexity_quantized"].get<double>()));
    s << card("perplexity change", strprintf("%+.2f %%", delta), delta > 20 ? "q-bad" : delta < 5 ? "q-good" : "");
    s << card("KL divergence (mean)", strprintf("%.5f", m["kld_mean"].get<double>()) + " ± " + strprintf("%.5f", m["kld_uncertainty"].get<double>()));
    s << card("KLD median / p99 / max", strprintf("%.4f", m["kld_median"].get<double>()) + " / " + strprintf("%.4f", m["kld_p99"].get<double>()) +
                                            " / " + strprintf("%.3f", m["kld_max"].get<double>()));
    s << card("top-1 agreement", strprintf("%.2f %%", 100 * m["top1_agreement"].get<double>()));
    s << card("Δp RMS", strprintf("%.3f %%", 100 * m["delta_p_rms"].get<double>()));
    s << card("size", bytes_text(m["original_size"].get<double>()) + " → " + bytes_text(m["quantized_size"].get<double>()));
    s << card("bits per weight", strprintf("%.3f", m["effective_bpw"].get<double>()));
    s << card("smaller by", strprintf("%.2f×", m["compression_ratio"].get<double>()));
    if (r["coherence_score"].is_number()) s << card("coherence", strprintf("%.3f", r["coherence_score"].get<double>()));
    s << "</div>";
    if (r["layer_errors"].is_array() && !r["layer_errors"].empty()) {
        // Importance-weighted where the importance matrix covers the layer (the blocks), else relative.
        bool weighted = false;
        for (const auto& l : r["layer_errors"]) weighted = weighted || !l["weighted_error"].is_null();
        const auto error_of = [](const json& l) {
            return l["weighted_error"].is_null() ? l["relative_error"].get<double>() : l["weighted_error"].get<double>();
        };
        std::vector<std::string> labels, titles;
        std::vector<double> errors, bits;
        for (const auto& l : r["layer_errors"]) {
            const std::string name = l["layer_name"].get<std::string>();
            if (l["types"].size() == 1 && (l["types"][0] == "f32") && error_of(l) == 0.0) continue;  // norms kept as they were
            labels.push_back(short_layer(name));
            errors.push_back(100.0 * error_of(l));
            bits.push_back(l["bit_width"].get<double>());
            titles.push_back(name + ": " + strprintf("%.3f %% ", 100.0 * error_of(l)) +
                             (l["weighted_error"].is_null() ? "relative" : "importance-weighted") + " error, " +
                             strprintf("%.2f bits/weight", l["bit_width"].get<double>()));
        }
        s << "<h3>Error per layer (" << (weighted ? "importance-weighted " : "") << "squared error of the weights, % of their energy)</h3>";
        s << bar_chart(labels, errors, weighted ? "weighted error %" : "relative error %", "q-bar", titles);
        s << "<h3>Bits per weight per layer</h3>";
        s << bar_chart(labels, bits, "bits / weight", "q-bar2", titles);
        s << "<details open><summary>Layers</summary><table><thead><tr><th>layer</th><th>types</th><th class=\"q-num\">parameters</th><th "
             "class=\"q-num\">bits/weight</th><th class=\"q-num\">MSE</th><th class=\"q-num\">max error</th><th class=\"q-num\">relative</th><th "
             "class=\"q-num\">weighted</th></tr></thead><tbody>";
        for (const auto& l : r["layer_errors"]) {
            std::string types;
            for (const auto& t : l["types"]) types += (types.empty() ? "" : ", ") + t.get<std::string>();
            s << "<tr><td class=\"q-mono\">" << escape(l["layer_name"].get<std::string>()) << "</td><td class=\"q-mono\">" << escape(types)
              << "</td><td class=\"q-num\">" << l["parameter_count"].get<uint64_t>() << "</td><td class=\"q-num\">" << num(l["bit_width"], "%.3f")
              << "</td><td class=\"q-num\">" << num(l["mse"]) << "</td><td class=\"q-num\">" << num(l["max_error"]) << "</td><td class=\"q-num\">"
              << num(l["relative_error"]) << "</td><td class=\"q-num\">" << num(l["weighted_error"]) << "</td></tr>";
        }
        s << "</tbody></table></details>";
    }
    const json& k = r["kld"]["kld"];
    s << "<details open><summary>KL divergence and Δp</summary><table><tbody>";
    for (const char* p : {"mean", "median", "p90", "p95", "p99", "p99_9", "max"})
        s << "<tr><td>KLD " << p << "</td><td class=\"q-num\">" << num(k[p], "%.6f") << "</td></tr>";
    const json& dp = r["kld"]["delta_p"];
    for (const char* p : {"mean", "rms", "p1", "median", "p99"})
        s << "<tr><td>Δp " << p << "</td><td class=\"q-num\">" << (dp[p].is_number() ? strprintf("%.4f %%", 100 * dp[p].get<double>()) : "–")
          << "</td></tr>";
    s << "</tbody></table></details>";
    s << "<p class=\"q-note\">Perplexity and KL divergence follow llama-perplexity (--kl-divergence): the second half of each chunk is "
         "scored; Δp is the change of the probability of the right next token.</p>";
    s << "</section>";
    return s.str();
}

// Size (x) against a quality figure (y) for each file; the Pareto front connected.
std::string scatter(const json& rows, const char* key, const std::string& axis, double baseline) {
    const double W = 960, H = 300, left = 62, right = 40, top_pad = 16, bottom = 40;
    const double plot_w = W - left - right, plot_h = H - top_pad - bottom;
    // x from 0 (sizes compare as ratios); y over the values' own range, so close files stay apart.
    double xmax = 0, ymin = baseline > 0 ? baseline : INFINITY, ymax = baseline;
    for (const auto& r : rows) {
        xmax = std::max(xmax, r["size"].get<double>());
        ymin = std::min(ymin, r[key].get<double>());
        ymax = std::max(ymax, r[key].get<double>());
    }
    const double span = ymax > ymin ? ymax - ymin : std::max(std::fabs(ymax) * 0.1, 1e-6);
    const double y_lo = std::max(0.0, ymin - 0.08 * span), y_hi = ymax + 0.08 * span;
    const double xt = nice_top(xmax);
    const auto x = [&](double v) { return left + v / xt * plot_w; };
    const auto y = [&](double v) { return top_pad + plot_h - std::clamp((v - y_lo) / (y_hi - y_lo), 0.0, 1.0) * plot_h; };
    const double yt = y_hi - y_lo;
    std::ostringstream s;
    s << "<div class=\"q-chart\"><svg viewBox=\"0 0 " << W << " " << H << "\" role=\"img\" aria-label=\"size against " << escape(axis) << "\">";
    for (int k = 0; k <= 4; ++k) {
        const double v = y_lo + yt * k / 4;
        s << "<line class=\"" << (k ? "q-grid" : "q-axis") << "\" x1=\"" << left << "\" x2=\"" << W - right << "\" y1=\"" << y(v) << "\" y2=\""
          << y(v) << "\"/><text x=\"" << left - 6 << "\" y=\"" << y(v) + 4 << "\" text-anchor=\"end\">" << strprintf("%.4g", v) << "</text>";
        s << "<text x=\"" << x(xt * k / 4) << "\" y=\"" << H - bottom + 16 << "\" text-anchor=\"middle\">" << escape(bytes_text(xt * k / 4))
          << "</text>";
    }
    s << "<text x=\"12\" y=\"" << top_pad + plot_h / 2 << "\" transform=\"rotate(-90 12 " << top_pad + plot_h / 2 << ")\" text-anchor=\"middle\">"
      << escape(axis) << "</text><text x=\"" << left + plot_w / 2 << "\" y=\"" << H - 4 << "\" text-anchor=\"middle\">file size</text>";
    if (baseline > 0)
        s << "<line class=\"q-grid\" x1=\"" << left << "\" x2=\"" << W - right << "\" y1=\"" << y(baseline) << "\" y2=\"" << y(baseline) << "\"/>";
    std::string front;
    for (const auto& r : rows)
        if (r["pareto"].get<bool>())
            front += (front.empty() ? "" : " ") + strprintf("%.1f", x(r["size"].get<double>())) + "," + strprintf("%.1f", y(r[key].get<double>()));
    if (!front.empty()) s << "<polyline class=\"q-front\" points=\"" << front << "\"/>";
    for (const auto& r : rows) {
        const double px = x(r["size"].get<double>()), py = y(r[key].get<double>());
        const std::string name = base_name(r["model"].get<std::string>());
        s << "<circle class=\"q-point" << (r["pareto"].get<bool>() ? " q-pareto" : "") << "\" cx=\"" << px << "\" cy=\"" << py << "\" r=\"5\"><title>"
          << escape(name + ": " + bytes_text(r["size"].get<double>()) + ", " + axis + " " + strprintf("%.4g", r[key].get<double>()))
          << "</title></circle>";
        s << "<text class=\"q-label-text\" x=\"" << px + 7 << "\" y=\"" << py - 6 << "\">"
          << escape(name.size() > 28 ? name.substr(0, 27) + "…" : name) << "</text>";
    }
    s << "</svg></div>";
    return s.str();
}

std::string compare_fragment(const json& c) {
    std::ostringstream s;
    s << "<section class=\"llmq-quality\" data-kind=\"compare\">";
    s << "<h2>Quality of " << c["rows"].size() << " quantizations</h2>";
    s << "<p class=\"q-sub\">of " << escape(c["original_model"].get<std::string>()) << " (" << escape(bytes_text(c["original_size"].get<double>()))
      << ", perplexity " << strprintf("%.4g", c["perplexity_original"].get<double>()) << ") · "
      << escape(base_name(c["text"]["source"].get<std::string>())) << ", " << c["text"]["chunks"].get<int64_t>() << " chunks of "
      << c["text"]["ctx"].get<int64_t>() << " tokens" << (c.contains("timestamp") ? " · " + escape(c["timestamp"].get<std::string>()) : "") << "</p>";
    s << "<h3>Size against perplexity</h3>" << scatter(c["rows"], "perplexity", "perplexity", c["perplexity_original"].get<double>());
    s << "<h3>Size against KL divergence</h3>" << scatter(c["rows"], "kld_mean", "mean KL divergence", 0.0);
    s << "<table><thead><tr><th>file</th><th class=\"q-num\">size</th><th class=\"q-num\">bits/weight</th><th class=\"q-num\">perplexity</th><th "
         "class=\"q-num\">Δ perplexity</th><th class=\"q-num\">mean KLD</th><th class=\"q-num\">top-1</th><th>Pareto</th></tr></thead><tbody>";
    for (const auto& r : c["rows"]) {
        const bool p = r["pareto"].get<bool>();
        s << "<tr" << (p ? " class=\"q-pareto\"" : "") << "><td class=\"q-mono\">" << escape(base_name(r["model"].get<std::string>()))
          << "</td><td class=\"q-num\">" << escape(bytes_text(r["size"].get<double>())) << "</td><td class=\"q-num\">" << num(r["bpw"], "%.3f")
          << "</td><td class=\"q-num\">" << num(r["perplexity"], "%.4f") << "</td><td class=\"q-num\">" << num(r["perplexity_delta_pct"], "%+.2f %%")
          << "</td><td class=\"q-num\">" << num(r["kld_mean"], "%.5f") << "</td><td class=\"q-num\">"
          << strprintf("%.2f %%", 100 * r["top1_agreement"].get<double>()) << "</td><td>" << (p ? "★ optimal" : "") << "</td></tr>";
    }
    s << "</tbody></table>";
    s << "<p class=\"q-note\">★: no other file is at most as large with at most its perplexity and KL divergence. The original's logits are "
         "computed once and every file is scored on the same chunks.</p>";
    s << "</section>";
    return s.str();
}

}  // namespace

std::string quality_fragment(const json& result) {
    return result.contains("rows") ? compare_fragment(result) : report_fragment(result);
}

std::string quality_document(const json& result) {
    const std::string title = result.contains("rows") ? "llmq quality comparison" : "llmq quality report";
    return "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, "
           "initial-scale=1\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n<title>" +
           title + "</title>\n<style>\nbody { margin: 24px auto; max-width: 1000px; padding: 0 16px; background: #fff; }\n" +
           std::string(report_css()) + "</style>\n</head>\n<body>\n" + quality_fragment(result) + "\n</body>\n</html>\n";
}

std::string compare_csv(const json& c) {
    // The columns of the metrics asked for (all by default), in a fixed order.
    std::vector<std::string> metrics = {"perplexity", "kld", "size", "bpw"};
    if (c.contains("metrics")) metrics = c["metrics"].get<std::vector<std::string>>();
    const auto has = [&](const char* m) { return std::find(metrics.begin(), metrics.end(), m) != metrics.end(); };
    std::vector<const char*> columns;
    if (has("size")) columns.insert(columns.end(), {"size", "compression_ratio"});
    if (has("bpw")) columns.push_back("bpw");
    if (has("perplexity")) columns.insert(columns.end(), {"perplexity", "perplexity_delta_pct"});
    if (has("kld")) columns.insert(columns.end(), {"kld_mean", "kld_p99", "top1_agreement"});
    std::ostringstream s;
    s << "model";
    for (const char* k : columns) s << "," << k;
    s << ",pareto\n";
    const auto field = [](const std::string& v) {
        if (v.find_first_of(",\"\n") == std::string::npos) return v;
        std::string q = "\"";
        for (char ch : v) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
        return q + "\"";
    };
    for (const auto& r : c["rows"]) {
        s << field(r["model"].get<std::string>());
        for (const char* k : columns) s << "," << r[k].dump();
        s << "," << (r["pareto"].get<bool>() ? "true" : "false") << "\n";
    }
    return s.str();
}

}  // namespace llmq::report
