// The one renderer of quality reports: JSON (run_quality_report / run_quality_compare) to an
// HTML fragment with inline SVG charts (the page shows it as is), to a self-contained HTML file
// (the fragment with the stylesheet, no scripts), and a comparison to CSV.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace llmq::report {

// <section class="llmq-quality">…</section> of a report or a comparison (told apart by "rows").
std::string quality_fragment(const nlohmann::json& result);

// A whole HTML document: the fragment, data/report.css inline, readable when printed.
std::string quality_document(const nlohmann::json& result);

// One line per file of a comparison, with a header; numbers as in the JSON.
std::string compare_csv(const nlohmann::json& compare);

// data/report.css (embedded at build time).
std::string_view report_css();

}  // namespace llmq::report
