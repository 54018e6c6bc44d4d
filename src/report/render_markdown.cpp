// Markdown rendering of the report Document (see bitsmith/report/render.h).
//
// Escaping: prose is backslash-escaped where CommonMark/GFM would read markup; names from the
// model are code spans (literal in every renderer) with `|` escaped inside tables.
#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

#include "bitsmith/report/render.h"
#include "report/render_internal.h"

namespace bitsmith {
namespace {

using report_detail::Block;
using report_detail::Cell;
using report_detail::Table;

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

std::string one_line(const std::string& s) {
  std::string out = report_detail::sanitize_utf8(s);
  std::replace(out.begin(), out.end(), '\n', ' ');
  std::replace(out.begin(), out.end(), '\t', ' ');
  return out;
}

// Prose: escapes characters that could start markup. Intraword '_' cannot (CommonMark's
// flanking rules), so "max_top1_drop_pt" stays readable; nor can brackets outside a link.
std::string md_text(const std::string& raw) {
  const std::string s = one_line(raw);
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const char next = i + 1 < s.size() ? s[i + 1] : '\0';
    const bool intraword_underscore = c == '_' && i > 0 && is_alnum(s[i - 1]) && is_alnum(next);
    // A link or reference definition needs "](", "][" or "]:"; a lone "[4, 8]" is plain text.
    const bool link_bracket = c == ']' && (next == '(' || next == '[' || next == ':');
    if ((std::string_view("\\`*_<>|&#~").find(c) != std::string_view::npos && !intraword_underscore) || link_bracket)
      out += '\\';
    out += c;
  }
  return out;
}

// A code span long enough to hold any backtick run in `raw`; `|` escaped when in a table cell.
std::string md_code(const std::string& raw, bool in_table) {
  std::string s = one_line(raw);
  if (s.empty()) return report_detail::kDash;
  size_t longest = 0, run = 0;
  for (char c : s) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  const std::string fence(longest + 1, '`');
  const bool pad = s.front() == '`' || s.back() == '`' || s.front() == ' ';
  if (in_table) {
    std::string escaped;
    for (char c : s) escaped += c == '|' ? std::string("\\|") : std::string(1, c);
    s = escaped;
  }
  return pad ? fence + " " + s + " " + fence : fence + s + fence;
}

std::string md_cell(const Cell& c) {
  if (c.code) return md_code(c.text, true);
  return c.text.empty() ? std::string(report_detail::kDash) : md_text(c.text);
}

std::string md_table(const Table& t) {
  std::string out = "|";
  for (const std::string& h : t.header) out += " " + md_text(h) + " |";
  out += "\n|";
  for (size_t i = 0; i < t.header.size(); ++i)
    out += i < t.right_align.size() && t.right_align[i] ? "---:|" : "---|";
  out += "\n";
  for (const auto& row : t.rows) {
    out += "|";
    for (size_t i = 0; i < t.header.size(); ++i) out += " " + (i < row.size() ? md_cell(row[i]) : std::string()) + " |";
    out += "\n";
  }
  return out;
}

std::string md_block(const Block& b) {
  switch (b.kind) {
    case Block::Kind::kParagraph: return md_text(b.text) + "\n";
    case Block::Kind::kList: {
      std::string out;
      for (const std::string& item : b.items) out += "- " + md_text(item) + "\n";
      return out;
    }
    case Block::Kind::kTable: return md_table(b.table);
    case Block::Kind::kCode: {
      // The fence must be longer than any backtick run inside the code.
      size_t longest = 0, run = 0;
      for (char c : b.text) {
        run = c == '`' ? run + 1 : 0;
        longest = std::max(longest, run);
      }
      const std::string fence(std::max<size_t>(3, longest + 1), '`');
      return fence + "json\n" + report_detail::sanitize_utf8(b.text) + "\n" + fence + "\n";
    }
    case Block::Kind::kChart: return "";  // charts are HTML-only
  }
  return "";
}

}  // namespace

std::string render_summary_table(const nlohmann::json& report) {
  std::string out = md_table(report_detail::summary_table(report));
  const auto gates = report_detail::gate_lines(report);
  if (!gates.empty()) out += "\n";
  for (const auto& g : gates) out += "- " + md_text(g.text) + "\n";
  out += "\n" + md_text(report_detail::status_line(report)) + "\n";
  return out;
}

std::string render_markdown(const nlohmann::json& report) {
  const report_detail::Document doc = report_detail::build_document(report);
  std::string out = "# " + md_text(doc.title) + "\n";
  for (const report_detail::Section& s : doc.sections) {
    out += "\n## " + md_text(s.title) + "\n";
    for (const Block& b : s.blocks) {
      const std::string text = md_block(b);
      if (!text.empty()) out += "\n" + text;
    }
  }
  return out;
}

}  // namespace bitsmith
