#include "report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "report/render_internal.h"

namespace bitsmith::report_detail {
namespace {

// Layout in SVG user units (px at 100%).
constexpr double kWidth = 960, kLabelWidth = 260, kPlotWidth = 460, kTop = 34, kBarHeight = 10, kRowGap = 7;
constexpr size_t kLabelChars = 38;

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// A step of 1, 2 or 5 times a power of ten giving about five ticks up to `max_value`.
double tick_step(double max_value) {
  const double raw = max_value / 5;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

std::string tick_text(double v, AxisFormat axis) {
  if (axis == AxisFormat::kBytes) return fmt_bytes(v);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string text_el(double x, double y, const std::string& anchor, const std::string& body,
                    const std::string& extra = "") {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" text-anchor=\"" + anchor + "\"" + extra + ">" +
         html_escape(body) + "</text>\n";
}

std::string rect(double x, double y, double w, double h, const std::string& fill) {
  return "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w) + "\" height=\"" + num(h) + "\" fill=\"" +
         html_escape(fill) + "\"/>\n";
}

}  // namespace

std::string render_bar_chart(const BarChart& chart) {
  const size_t nseries = std::max<size_t>(1, chart.series.size());
  const double row_h = static_cast<double>(nseries) * (kBarHeight + 1) + kRowGap;
  const double plot_x = kLabelWidth, plot_top = kTop;
  const double plot_bottom = plot_top + row_h * static_cast<double>(chart.rows.size());
  const double height = plot_bottom + 44;

  double max_value = 0;
  for (const BarRow& r : chart.rows)
    for (double v : r.values)
      if (std::isfinite(v)) max_value = std::max(max_value, v);
  if (max_value <= 0) max_value = 1;
  const double step = tick_step(max_value);
  const double axis_max = step * std::ceil(max_value / step - 1e-9);

  std::string out = "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 " + num(kWidth) + " " + num(height) +
                    "\" width=\"" + num(kWidth) + "\" height=\"" + num(height) +
                    "\" font-family=\"sans-serif\" font-size=\"11\" aria-label=\"" + html_escape(chart.title) + "\">\n";
  out += "<title>" + html_escape(chart.title) + "</title>\n";

  // Legend.
  double lx = plot_x;
  for (const BarSeries& s : chart.series) {
    out += rect(lx, 10, 12, 12, s.color);
    out += text_el(lx + 16, 20, "start", s.name);
    lx += 30 + 7.0 * static_cast<double>(s.name.size());
  }

  // Gridlines and ticks.
  for (int i = 0; step * i <= axis_max * (1 + 1e-9); ++i) {
    const double v = step * i;
    const double x = plot_x + v / axis_max * kPlotWidth;
    out += "<line x1=\"" + num(x) + "\" y1=\"" + num(plot_top - 4) + "\" x2=\"" + num(x) + "\" y2=\"" +
           num(plot_bottom + 4) + "\" stroke=\"#dadce0\" stroke-width=\"1\"/>\n";
    out += text_el(x, plot_bottom + 16, "middle", tick_text(v, chart.axis), " fill=\"#5f6368\"");
  }
  out += "<line x1=\"" + num(plot_x) + "\" y1=\"" + num(plot_top - 4) + "\" x2=\"" + num(plot_x) + "\" y2=\"" +
         num(plot_bottom + 4) + "\" stroke=\"#5f6368\" stroke-width=\"1\"/>\n";
  out += text_el(plot_x + kPlotWidth / 2, plot_bottom + 36, "middle", chart.x_label, " font-weight=\"bold\"");

  // Rows.
  for (size_t r = 0; r < chart.rows.size(); ++r) {
    const BarRow& row = chart.rows[r];
    const double y0 = plot_top + row_h * static_cast<double>(r);
    const double mid = y0 + (row_h - kRowGap) / 2;
    out += "<g>\n<title>" + html_escape(row.label + ": " + row.value_text) + "</title>\n";
    out += text_el(plot_x - 6, mid + 4, "end", truncate_front(row.label, kLabelChars));
    for (size_t s = 0; s < row.values.size() && s < nseries; ++s) {
      const double v = row.values[s];
      if (!std::isfinite(v) || v <= 0) continue;
      const double w = std::max(1.0, std::min(v, axis_max) / axis_max * kPlotWidth);
      const std::string color = s < chart.series.size() ? chart.series[s].color : "#1a73e8";
      out += rect(plot_x, y0 + static_cast<double>(s) * (kBarHeight + 1), w, kBarHeight, color);
    }
    out += text_el(plot_x + kPlotWidth + 10, mid + 4, "start", row.value_text);
    out += "</g>\n";
  }
  out += "</svg>\n";
  return out;
}

}  // namespace bitsmith::report_detail
