// The HTML report's charts: data chosen from the report JSON, drawn by svg_chart.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "report/render_internal.h"
#include "report/svg_chart.h"

namespace bitsmith::report_detail {
namespace {

using nlohmann::json;

// Charts show at most this many rows so that models with thousands of tensors stay readable.
constexpr size_t kMaxRows = 40;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr const char* kArrow = " \xE2\x86\x92 ";  // " → "

std::string figure(const BarChart& chart, const std::string& caption) {
  return "<figure>\n<h3>" + html_escape(chart.title) + "</h3>\n" + render_bar_chart(chart) + "<figcaption>" +
         html_escape(caption) + "</figcaption>\n</figure>\n";
}

std::string omitted(const std::string& sentence) { return "<p class=\"note\">" + html_escape(sentence) + "</p>\n"; }

std::string shown_of(size_t shown, size_t total, const std::string& what) {
  if (shown == total) return "All " + std::to_string(total) + " " + what + " are shown.";
  return "Showing " + std::to_string(shown) + " of " + std::to_string(total) + " " + what + ".";
}

std::string size_chart(const json& report) {
  const json& tensors = array(member(report, "size"), "tensors");
  std::vector<const json*> rows;
  for (const json& t : tensors)
    if (number(t, "bytes_before")) rows.push_back(&t);
  if (rows.empty()) return omitted("No per-tensor sizes were recorded, so there is no size chart.");
  std::stable_sort(rows.begin(), rows.end(), [](const json* a, const json* b) {
    return *number(*a, "bytes_before") > *number(*b, "bytes_before");
  });
  const size_t total = rows.size();
  rows.resize(std::min(rows.size(), kMaxRows));

  BarChart c;
  c.title = "Size per tensor";
  c.x_label = "bytes (linear scale)";
  c.axis = AxisFormat::kBytes;
  c.series = {{"before", "#9aa0a6"}, {"after", "#1a73e8"}};
  for (const json* t : rows) {
    const auto before = number(*t, "bytes_before");
    const bool folded = !present(*t, "dtype_after");
    const auto after = folded ? std::optional<double>(0) : number(*t, "bytes_after");
    std::string value = fmt_bytes(before) + kArrow + (folded ? std::string("folded") : fmt_bytes(after));
    if (!folded && after && *after == *before) value += " (unchanged)";
    else if (!folded && after && *after > 0) value += " (" + fmt_size_ratio(*before / *after) + ")";
    c.rows.push_back({text(*t, "name"), {*before, after ? *after : kNaN}, value});
  }
  return figure(c, "Bytes of each weight tensor before (grey) and after (blue), largest first. " +
                       shown_of(rows.size(), total, "tensors"));
}

std::string error_chart(const json& report) {
  const json& tensors = array(member(report, "size"), "tensors");
  std::vector<const json*> measured, exact;
  for (const json& t : tensors) {
    if (number(t, "sqnr_db")) measured.push_back(&t);
    else if (present(t, "dtype_after") && text(t, "dtype_after") == text(t, "dtype_before")) exact.push_back(&t);
  }
  if (measured.empty())
    return omitted("No tensor has a measured quantization error (all unchanged or not measured), so there is no "
                   "error chart.");
  std::stable_sort(measured.begin(), measured.end(),
                   [](const json* a, const json* b) { return *number(*a, "sqnr_db") < *number(*b, "sqnr_db"); });
  const size_t total = measured.size() + exact.size();
  std::vector<const json*> rows = measured;
  rows.insert(rows.end(), exact.begin(), exact.end());
  rows.resize(std::min(rows.size(), kMaxRows));

  BarChart c;
  c.title = "Error per tensor";
  c.x_label = "SQNR in dB (higher is better)";
  c.series = {{"SQNR vs original weights", "#188038"}};
  for (const json* t : rows) {
    const auto db = number(*t, "sqnr_db");
    c.rows.push_back({text(*t, "name"), {db ? *db : kNaN}, db ? fmt_db(db) : std::string("exact (bit-identical)")});
  }
  return figure(c, "Signal-to-quantization-noise ratio of each weight tensor against the original, worst first; "
                   "bit-identical tensors are marked exact. " + shown_of(rows.size(), total, "tensors"));
}

std::string sensitivity_chart(const json& report) {
  const json& sens = member(report, "sensitivity");
  std::vector<const json*> rows;
  if (sens.is_array())
    for (const json& r : sens)
      if (number(r, "kld_mean")) rows.push_back(&r);
  if (rows.empty())
    return omitted(sens.is_array() ? "No layer sensitivity values were recorded, so there is no sensitivity chart."
                                   : "Sensitivity analysis was not run, so there is no sensitivity chart.");
  const size_t total = rows.size();
  rows.resize(std::min(rows.size(), kMaxRows));

  BarChart c;
  c.title = "KL divergence per layer";
  c.x_label = "KL divergence mean, nats (lower is better)";
  c.series = {{"output KL divergence caused by this layer", "#d93025"}};
  for (const json* r : rows) {
    const std::string op = text(*r, "op");
    std::string value = fmt_sig3(number(*r, "kld_mean"));
    if (const auto agree = number(*r, "top1_agreement")) value += ", top-1 agreement " + fmt_pct(agree);
    c.rows.push_back({text(*r, "node") + (op.empty() ? "" : " (" + op + ")"), {*number(*r, "kld_mean")}, value});
  }
  return figure(c, "Output KL divergence attributed to each layer, most damaging first. " +
                       shown_of(rows.size(), total, "layers"));
}

}  // namespace

std::string chart_html(ChartId id, const json& report) {
  switch (id) {
    case ChartId::kSize: return size_chart(report);
    case ChartId::kError: return error_chart(report);
    case ChartId::kSensitivity: return sensitivity_chart(report);
  }
  return "";
}

}  // namespace bitsmith::report_detail
