// A horizontal bar chart as inline SVG markup (no scripts, no external references), used by the
// HTML report. One row per item: a label at the left, one bar per series, a value text at the right.
#pragma once

#include <string>
#include <vector>

namespace bitsmith::report_detail {

struct BarSeries {
  std::string name;   // legend text
  std::string color;  // fill, e.g. "#1a73e8"
};

struct BarRow {
  std::string label;           // shown (front-truncated to ~38 characters); full text as tooltip
  std::vector<double> values;  // one per series, in axis units; NaN or <= 0 draws no bar
  std::string value_text;      // shown right of the plot area
};

enum class AxisFormat { kBytes, kNumber };

struct BarChart {
  std::string title;    // accessible name of the figure
  std::string x_label;  // caption under the axis, units included
  std::vector<BarSeries> series;
  std::vector<BarRow> rows;
  AxisFormat axis = AxisFormat::kNumber;
};

// Linear axis from 0 to a rounded maximum, with gridlines. All text is escaped.
std::string render_bar_chart(const BarChart& chart);

}  // namespace bitsmith::report_detail
