// HTML rendering of the report Document (see bitsmith/report/render.h): one self-contained file,
// inline CSS and SVG only, XHTML syntax (every element closed, attributes quoted) so it parses as
// XML. Every piece of text from the report goes through html_escape.
#include <string>

#include "bitsmith/report/render.h"
#include "report/render_internal.h"

namespace bitsmith {
namespace {

using report_detail::Block;
using report_detail::html_escape;
using report_detail::Table;

// No '<' or '&' in here: the style element must stay well-formed XML.
constexpr const char* kCss = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #202124; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #dadce0; padding-bottom: 0.2em; margin-top: 1.8em; }
h3 { font-size: 1.05em; margin: 1.2em 0 0.4em; }
.badge { display: inline-block; padding: 0.15em 0.7em; border-radius: 1em; font-weight: bold; color: #fff; }
.badge.passed { background: #188038; } .badge.failed { background: #d93025; } .badge.unknown { background: #5f6368; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #dadce0; padding: 0.25em 0.6em; vertical-align: top; }
th { background: #f1f3f4; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.pass td { background: #e6f4ea; } tr.fail td { background: #fce8e6; }
li.pass { color: #137333; } li.fail { color: #c5221f; font-weight: bold; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.92em; }
td code { word-break: break-all; }
pre { background: #f8f9fa; border: 1px solid #dadce0; padding: 0.8em; overflow-x: auto; }
figure { margin: 1em 0; } figcaption, p.note { color: #5f6368; font-size: 0.9em; }
svg.chart { max-width: 100%; height: auto; display: block; }
)";

std::string html_table(const Table& t) {
  std::string out = "<table>\n<thead><tr>";
  for (const std::string& h : t.header) out += "<th>" + html_escape(h) + "</th>";
  out += "</tr></thead>\n<tbody>\n";
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const std::string& cls = r < t.row_class.size() ? t.row_class[r] : std::string();
    out += cls.empty() ? "<tr>" : "<tr class=\"" + html_escape(cls) + "\">";
    for (size_t i = 0; i < t.header.size(); ++i) {
      const bool num = i < t.right_align.size() && t.right_align[i];
      out += num ? "<td class=\"num\">" : "<td>";
      if (i < t.rows[r].size()) {
        const report_detail::Cell& c = t.rows[r][i];
        if (c.text.empty()) out += report_detail::kDash;
        else out += c.code ? "<code>" + html_escape(c.text) + "</code>" : html_escape(c.text);
      }
      out += "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</tbody>\n</table>\n";
}

std::string html_block(const Block& b, const nlohmann::json& report) {
  switch (b.kind) {
    case Block::Kind::kParagraph: return "<p>" + html_escape(b.text) + "</p>\n";
    case Block::Kind::kList: {
      std::string out = "<ul>\n";
      for (const std::string& item : b.items) out += "<li>" + html_escape(item) + "</li>\n";
      return out + "</ul>\n";
    }
    case Block::Kind::kTable: return html_table(b.table);
    case Block::Kind::kCode: return "<pre><code>" + html_escape(b.text) + "</code></pre>\n";
    case Block::Kind::kChart: return report_detail::chart_html(b.chart, report);
  }
  return "";
}

// "Layer sensitivity" -> "layer-sensitivity": a fragment id for the table of contents.
std::string anchor(const std::string& title) {
  std::string out;
  for (char c : title) {
    if (c >= 'A' && c <= 'Z') out += static_cast<char>(c - 'A' + 'a');
    else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) out += c;
    else if (!out.empty() && out.back() != '-') out += '-';
  }
  return out;
}

std::string gate_list(const nlohmann::json& report) {
  const auto gates = report_detail::gate_lines(report);
  if (gates.empty()) return "";
  std::string out = "<ul class=\"gates\">\n";
  for (const auto& g : gates) out += "<li class=\"" + std::string(g.passed ? "pass" : "fail") + "\">" + html_escape(g.text) + "</li>\n";
  return out + "</ul>\n";
}

}  // namespace

std::string render_html(const nlohmann::json& report) {
  const report_detail::Document doc = report_detail::build_document(report);
  std::string status_class = doc.status == "passed" || doc.status == "failed" ? doc.status : "unknown";
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n";
  out += "<title>" + html_escape(doc.title) + "</title>\n<style>" + kCss + "</style>\n</head>\n<body>\n";
  out += "<h1>" + html_escape(doc.title) + "</h1>\n";
  out += "<p><span class=\"badge " + status_class + "\">" + html_escape(doc.status) + "</span></p>\n<nav>";
  for (const report_detail::Section& s : doc.sections)
    out += "<a href=\"#" + anchor(s.title) + "\">" + html_escape(s.title) + "</a> ";
  out += "</nav>\n";
  for (size_t i = 0; i < doc.sections.size(); ++i) {
    const report_detail::Section& s = doc.sections[i];
    out += "<section id=\"" + anchor(s.title) + "\">\n<h2>" + html_escape(s.title) + "</h2>\n";
    for (const Block& b : s.blocks) out += html_block(b, report);
    if (i == 0) out += gate_list(report);  // the summary also lists the gate verdicts
    out += "</section>\n";
  }
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace bitsmith
