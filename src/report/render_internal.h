// Private to the report renderers: a format-neutral document built once from the report JSON
// (render_document.cpp), number formatting and tolerant JSON access (render_format.cpp), and the
// chart builders the HTML renderer embeds (render_charts.cpp).
//
// Markdown and HTML render the same Document, so both show the same facts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace bitsmith::report_detail {

// ---- tolerant JSON access: never throws; wrong types (and non-finite numbers) read as absent ----
// The member `key` of object `j`, or null json when `j` is not an object or lacks it.
const nlohmann::json& member(const nlohmann::json& j, const char* key);
std::optional<double> number(const nlohmann::json& j, const char* key);
std::string text(const nlohmann::json& j, const char* key);   // "" unless a string
const nlohmann::json& array(const nlohmann::json& j, const char* key);  // empty array unless one
bool present(const nlohmann::json& j, const char* key);      // member exists and is not null

// ---- formatting; every function takes an optional and prints "—" (kDash) when absent ----
inline constexpr const char* kDash = "\xE2\x80\x94";  // U+2014 EM DASH
std::string fmt_sig3(std::optional<double> x);         // 3 significant digits: 0.100, 12.5, 3.00e-04
std::string fmt_ms(std::optional<double> ms);          // "0.100 ms"
std::string fmt_bytes(std::optional<double> bytes);    // "576 B", "45.6 kB", "1.23 MB" (SI)
std::string fmt_bytes_exact(std::optional<double> bytes);  // "1.23 MB (1234567 B)"; "576 B"
std::string fmt_pct(std::optional<double> fraction);   // "97.00%"
std::string fmt_pt(std::optional<double> delta_pt);    // "+0.20 pt", "-0.20 pt"
std::string fmt_db(std::optional<double> db);          // "38.2 dB"
std::string fmt_cos(std::optional<double> c);          // "0.999900"
std::string fmt_fixed(std::optional<double> x, int decimals);
std::string fmt_size_ratio(std::optional<double> before_over_after);  // "3.09x smaller" / "1.50x larger"
std::string fmt_speed_ratio(std::optional<double> after_over_before);  // "0.80x (1.25x faster)"
std::string fmt_value(const nlohmann::json& v);        // a gate value/limit: number, bool or text

// Cuts `s` to at most `max_chars` code points, keeping the tail and prefixing "…".
std::string truncate_front(const std::string& s, size_t max_chars);
// Valid UTF-8 with C0 controls (except \t \n) replaced by U+FFFD; never fails.
std::string sanitize_utf8(const std::string& s);
// &<>"' as entities, after sanitize_utf8: safe in XML/HTML text and quoted attributes.
std::string html_escape(const std::string& s);

// ---- the document ----
struct Cell {
  std::string text;
  bool code = false;  // a name from the model: shown as code (Markdown) / <code> (HTML)
};
Cell code(std::string s);

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<Cell>> rows;
  std::vector<std::string> row_class;  // per row: "" or "pass"/"fail" (HTML colours)
  std::vector<bool> right_align;       // per column; numeric columns align right
};

enum class ChartId { kSize, kError, kSensitivity };

struct Block {
  enum class Kind { kParagraph, kList, kTable, kCode, kChart };
  Kind kind = Kind::kParagraph;
  std::string text;                 // kParagraph (plain text) / kCode (verbatim)
  std::vector<std::string> items;   // kList (plain text)
  Table table;                      // kTable
  ChartId chart = ChartId::kSize;   // kChart (HTML only; Markdown skips it)
};

struct Section {
  std::string title;
  std::vector<Block> blocks;
};

struct Document {
  std::string title;           // "bitsmith compress report: PASSED"
  std::string status;          // "passed" | "failed" | "unknown"
  std::vector<Section> sections;
};

Table summary_table(const nlohmann::json& report);
// "PASS max_top1_drop_pt: 0.2 vs limit 0.5" per gate, with passed flags.
struct GateLine {
  std::string text;
  bool passed = false;
};
std::vector<GateLine> gate_lines(const nlohmann::json& report);
std::string status_line(const nlohmann::json& report);  // "status: passed (all 2 gates passed)"
Document build_document(const nlohmann::json& report);

// ---- charts (HTML) ----
// An inline <svg> figure with caption for `id`, or a <p> saying why it is omitted.
std::string chart_html(ChartId id, const nlohmann::json& report);

}  // namespace bitsmith::report_detail
