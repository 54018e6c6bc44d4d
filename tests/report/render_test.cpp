#include "bitsmith/report/render.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "report/render_internal.h"

namespace bitsmith {
namespace {

using nlohmann::json;

const std::string kDash = "\xE2\x80\x94";
const std::string kHostile = "a<b>&\"c'";

std::string fmt(const char* f, double x) {
  char buf[128];
  std::snprintf(buf, sizeof buf, f, x);
  return buf;
}

bool has(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

size_t count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + needle.size())) ++n;
  return n;
}

json tensor(const std::string& name, double bytes_before, double bytes_after, const json& sqnr, const char* after = "int8") {
  return {{"name", name}, {"shape", {4, 8}}, {"numel", 32}, {"dtype_before", "float32"}, {"dtype_after", after},
          {"bits_per_weight", bytes_after * 8 / 32}, {"bytes_before", bytes_before}, {"bytes_after", bytes_after},
          {"sqnr_db", sqnr}, {"cosine", sqnr.is_null() ? json() : json(0.9999)}, {"max_abs_err", nullptr},
          {"changed_by", sqnr.is_null() ? json() : json("quantize")}, {"note", ""}};
}

json full_report(const std::string& name = "conv1.weight") {
  json r = json::parse(R"({
    "schema": "bitsmith.report/1", "status": "failed",
    "model": {"input": "models/digits_cnn.onnx", "output": "out/model.onnx"},
    "size": {"before_bytes": 123456, "after_bytes": 40000, "params": 30000, "tensors": []},
    "passes": [{"pass": "quantize", "options": {}, "scope": {}, "wall_ms": 12.5,
                "counters": {"nodes_quantized": 3},
                "touched": [{"node": "conv1", "op": "Conv", "action": "quantized"}],
                "skipped": [{"node": "head", "op": "Gemm", "reason": "outside the pass scope"},
                            {"node": "fc2", "op": "Gemm", "reason": "outside the pass scope"},
                            {"node": "act", "op": "Relu", "reason": "no weights"}],
                "notes": ["calibrated on 64 samples"]}],
    "fidelity": {"samples": 540, "top1_agreement": 0.998, "cosine": 0.9999, "sqnr_db": 35.1,
                 "max_abs_err": 0.04, "kld_mean": 0.0003, "kld_p99": 0.002},
    "accuracy": {"samples": 540, "before": {"top1": 0.97, "top5": 1.0}, "after": {"top1": 0.968, "top5": 1.0},
                 "top1_drop_pt": 0.2, "top5_drop_pt": 0.0},
    "latency": {"threads": 1, "batch": 1, "iters": 50,
                "before": {"p50_ms": 0.10, "p90_ms": 0.12, "mean_ms": 0.11, "min_ms": 0.09},
                "after": {"p50_ms": 0.08, "p90_ms": 0.09, "mean_ms": 0.08, "min_ms": 0.07}, "ratio": 0.8},
    "sensitivity": [{"node": "conv1", "op": "Conv", "kld_mean": 0.002, "top1_agreement": 0.99, "reason": "depthwise"},
                    {"node": "fc1", "op": "Gemm", "kld_mean": 0.0005, "top1_agreement": 0.997, "reason": ""}],
    "mixed_precision": {"metric": "top1_drop_pt", "max": 0.2, "fallback": "float32", "met": true, "value": 0.1,
                        "steps": [{"kept": ["conv1"], "value": 0.1}],
                        "kept": [{"node": "conv1", "op": "Conv", "precision": "float32"}]},
    "gates": [{"name": "max_top1_drop_pt", "limit": 0.5, "value": 0.2, "passed": true},
              {"name": "max_kld_mean", "limit": 0.0001, "value": 0.0003, "passed": false}],
    "provenance": {"tool": "bitsmith", "version": "0.1.0", "recipe": {"pipeline": [{"pass": "quantize"}]},
                   "recipe_sha256": "ab12", "model_sha256": "cd34", "seed": 0,
                   "machine": {"cpu": "Test CPU", "cores": 2, "isa": ["avx2", "fma"]}},
    "timing": {"total_ms": 1234.5}
  })");
  r["size"]["ratio"] = 123456.0 / 40000.0;
  r["size"]["tensors"] = {tensor(name, 576, 160, 38.2), tensor("conv1.bias", 64, 64, nullptr, "float32"),
                          tensor("fc1.weight", 40960, 10304, 31.5)};
  r["sensitivity"][0]["node"] = name;
  return r;
}

json null_report() {
  json r = full_report();
  for (const char* k : {"fidelity", "accuracy", "sensitivity", "mixed_precision", "latency"}) r[k] = nullptr;
  r["gates"] = json::array();
  r["passes"] = json::array();
  r["size"]["tensors"] = {tensor("w", 100, 100, nullptr, "float32")};
  r["status"] = "passed";
  r["provenance"] = nullptr;
  return r;
}

// A minimal XML well-formedness check: tags balance, attributes are quoted, '&' starts an
// entity, text has no stray '<'. Skips <!DOCTYPE ...> and <!-- comments -->. Returns "" when OK.
std::string xml_problem(const std::string& s) {
  std::vector<std::string> stack;
  int roots = 0;
  for (size_t i = 0; i < s.size();) {
    if (s[i] == '&') {
      const size_t semi = s.find(';', i);
      if (semi == std::string::npos || semi - i > 8 || semi == i + 1) return "bare '&' at " + std::to_string(i);
      for (size_t k = i + 1; k < semi; ++k)
        if (!std::isalnum(static_cast<unsigned char>(s[k])) && s[k] != '#') return "bad entity at " + std::to_string(i);
      i = semi + 1;
      continue;
    }
    if (s[i] == '>') return "stray '>' in text at " + std::to_string(i);  // we always escape it
    if (s[i] != '<') { ++i; continue; }
    if (s.compare(i, 4, "<!--") == 0) {
      const size_t e = s.find("-->", i);
      if (e == std::string::npos) return "unterminated comment";
      i = e + 3;
      continue;
    }
    if (s.compare(i, 2, "<!") == 0) {
      i = s.find('>', i);
      if (i == std::string::npos) return "unterminated <!";
      ++i;
      continue;
    }
    const bool closing = s.compare(i, 2, "</") == 0;
    size_t p = i + (closing ? 2 : 1);
    const size_t name_begin = p;
    while (p < s.size() && (std::isalnum(static_cast<unsigned char>(s[p])) || s[p] == '-' || s[p] == ':')) ++p;
    const std::string name = s.substr(name_begin, p - name_begin);
    if (name.empty()) return "'<' not starting a tag at " + std::to_string(i);
    // Attributes: name="value" or name='value'.
    for (;;) {
      while (p < s.size() && std::isspace(static_cast<unsigned char>(s[p]))) ++p;
      if (p >= s.size()) return "unterminated tag <" + name;
      if (s[p] == '>' || s.compare(p, 2, "/>") == 0) break;
      if (closing) return "attribute in closing tag </" + name;
      const size_t eq = s.find('=', p);
      if (eq == std::string::npos || eq + 1 >= s.size()) return "attribute without value in <" + name;
      const char q = s[eq + 1];
      if (q != '"' && q != '\'') return "unquoted attribute in <" + name;
      const size_t close = s.find(q, eq + 2);
      if (close == std::string::npos) return "unterminated attribute in <" + name;
      if (s.substr(eq + 2, close - eq - 2).find('<') != std::string::npos) return "'<' in attribute of <" + name;
      p = close + 1;
    }
    const bool self_closing = s[p] == '/';
    i = p + (self_closing ? 2 : 1);
    if (closing) {
      if (stack.empty() || stack.back() != name) return "</" + name + "> does not close <" + (stack.empty() ? "" : stack.back()) + ">";
      stack.pop_back();
    } else if (!self_closing) {
      if (stack.empty()) ++roots;
      stack.push_back(name);
    } else if (stack.empty()) {
      ++roots;
    }
    // Raw text elements: their content must still be escaped-free of '<' (style has none).
  }
  if (!stack.empty()) return "unclosed <" + stack.back() + ">";
  if (roots != 1) return "expected one root element, found " + std::to_string(roots);
  return "";
}

// An inline event handler such as onclick="..." (JavaScript without a <script> element).
bool has_event_attribute(const std::string& html) {
  for (size_t p = html.find(" on"); p != std::string::npos; p = html.find(" on", p + 1)) {
    size_t q = p + 3;
    while (q < html.size() && std::isalpha(static_cast<unsigned char>(html[q]))) ++q;
    if (q > p + 3 && q < html.size() && html[q] == '=') return true;
  }
  return false;
}

TEST(RenderXmlCheck, CatchesBrokenMarkup) {
  EXPECT_EQ(xml_problem("<!DOCTYPE html><html><!-- c --><p a=\"1\">x &amp; y<br/></p></html>"), "");
  EXPECT_NE(xml_problem("<html><p></html>"), "");
  EXPECT_NE(xml_problem("<html><p a=1></p></html>"), "");
  EXPECT_NE(xml_problem("<html>a & b</html>"), "");
  EXPECT_NE(xml_problem("<html>a < b</html>"), "");
  EXPECT_NE(xml_problem("<html></html><html></html>"), "");
}

TEST(RenderSummary, ValuesFromTheReport) {
  const json r = full_report();
  const std::string s = render_summary_table(r);
  EXPECT_TRUE(has(s, "| metric | before | after | change |")) << s;
  const double before = r["size"]["before_bytes"], after = r["size"]["after_bytes"];
  EXPECT_TRUE(has(s, fmt("%.2fx smaller", before / after))) << s;
  EXPECT_TRUE(has(s, fmt("%.0f B)", before))) << s;
  EXPECT_TRUE(has(s, fmt("%.2f%%", r["accuracy"]["before"]["top1"].get<double>() * 100))) << s;
  EXPECT_TRUE(has(s, fmt("%.2f%%", r["accuracy"]["after"]["top1"].get<double>() * 100))) << s;
  EXPECT_TRUE(has(s, fmt("%+.2f pt", -r["accuracy"]["top1_drop_pt"].get<double>()))) << s;
  EXPECT_TRUE(has(s, fmt("%.1f dB", r["fidelity"]["sqnr_db"].get<double>()))) << s;
  EXPECT_TRUE(has(s, fmt("%.2f%%", r["fidelity"]["top1_agreement"].get<double>() * 100))) << s;
  const double p50b = r["latency"]["before"]["p50_ms"], p90b = r["latency"]["before"]["p90_ms"];
  const double p90a = r["latency"]["after"]["p90_ms"];
  EXPECT_TRUE(has(s, fmt("%.2fx", r["latency"]["ratio"].get<double>()) + fmt(" (%.2fx faster)", 1 / r["latency"]["ratio"].get<double>()))) << s;
  EXPECT_TRUE(has(s, fmt("%.3f ms", p50b))) << s;                       // 0.100: 3 significant digits
  EXPECT_TRUE(has(s, fmt("(%.2fx faster)", p90b / p90a))) << s;         // p90 ratio computed
  EXPECT_TRUE(has(s, "1 thread, batch 1")) << s;
  EXPECT_TRUE(has(s, "| 100.00% | 100.00% | +0.00 pt |")) << s;  // top-5: no change, no "-0.00"
  for (const json& g : r["gates"]) {
    const std::string line = std::string(g["passed"].get<bool>() ? "PASS " : "FAIL ") + g["name"].get<std::string>() +
                             ": " + fmt("%.4g", g["value"].get<double>()) + " vs limit " + fmt("%.4g", g["limit"].get<double>());
    // '_' is intraword, so it is not escaped in the Markdown.
    EXPECT_TRUE(has(s, line)) << line << "\n" << s;
  }
  EXPECT_TRUE(has(s, "status: failed (1 of 2 gates failed)")) << s;
}

TEST(RenderSummary, NullSectionsAndMissingValues) {
  const std::string s = render_summary_table(null_report());
  EXPECT_FALSE(has(s, "top-1 accuracy")) << s;
  EXPECT_FALSE(has(s, "SQNR")) << s;
  EXPECT_TRUE(has(s, "| latency p50 | " + kDash + " | " + kDash + " | " + kDash + " |")) << s;
  EXPECT_TRUE(has(s, "no gates set")) << s;
  json r = full_report();
  r["accuracy"]["after"].erase("top5");
  r["accuracy"].erase("top5_drop_pt");
  const std::string t = render_summary_table(r);
  EXPECT_TRUE(has(t, "| " + kDash + " | " + kDash + " |")) << t;  // top-5 after and its change
}

TEST(RenderMarkdown, FullReport) {
  const json r = full_report();
  const std::string md = render_markdown(r);
  EXPECT_EQ(md.rfind("# bitsmith compress report: FAILED\n", 0), 0u) << md.substr(0, 80);
  for (const char* h : {"## Summary", "## Gates", "## Passes", "## Tensors", "## Layer sensitivity", "## Mixed precision",
                        "## Provenance", "## Recipe"})
    EXPECT_TRUE(has(md, h)) << h;
  EXPECT_TRUE(has(md, "outside the pass scope: 2 nodes (head, fc2)")) << md;
  EXPECT_TRUE(has(md, "no weights: 1 node (act)")) << md;
  EXPECT_TRUE(has(md, "nodes\\_quantized=3") || has(md, "nodes_quantized=3")) << md;
  // Per-tensor rows: SQNR from the JSON, "exact" for the unchanged bias.
  EXPECT_TRUE(has(md, "| `conv1.weight` | [4, 8] | float32\xC2\xA0\xE2\x86\x92\xC2\xA0int8 | " + fmt("%.2f", 160 * 8 / 32.0))) << md;
  EXPECT_TRUE(has(md, "| " + fmt("%.1f", r["size"]["tensors"][0]["sqnr_db"].get<double>()) + " |")) << md;
  EXPECT_TRUE(has(md, "| exact |")) << md;
  EXPECT_TRUE(has(md, "```json\n" + r["provenance"]["recipe"].dump(2) + "\n```")) << md;
  EXPECT_TRUE(has(md, "model sha256: cd34")) << md;
  EXPECT_TRUE(has(md, "ISA: avx2 fma")) << md;
}

TEST(RenderMarkdown, NullSections) {
  const std::string md = render_markdown(null_report());
  EXPECT_TRUE(has(md, "# bitsmith compress report: PASSED")) << md;
  EXPECT_TRUE(has(md, "Sensitivity analysis was not run.")) << md;
  EXPECT_FALSE(has(md, "## Mixed precision")) << md;
  EXPECT_TRUE(has(md, "No gates were set.")) << md;
  EXPECT_TRUE(has(md, "No recipe was recorded.")) << md;
}

// Every table row must have as many unescaped '|' as the header, whatever the names hold.
void expect_table_rows_intact(const std::string& md) {
  size_t expected = 0;
  size_t start = 0;
  while (start < md.size()) {
    size_t end = md.find('\n', start);
    if (end == std::string::npos) end = md.size();
    const std::string line = md.substr(start, end - start);
    start = end + 1;
    if (line.empty() || line[0] != '|') {
      expected = 0;
      continue;
    }
    size_t pipes = 0;
    for (size_t i = 0; i < line.size(); ++i) pipes += line[i] == '|' && (i == 0 || line[i - 1] != '\\');
    if (expected == 0) expected = pipes;
    EXPECT_EQ(pipes, expected) << line;
  }
}

TEST(RenderMarkdown, HostileNamesStayInsideCells) {
  const std::string name = kHostile + "|`x";
  const std::string md = render_markdown(full_report(name));
  expect_table_rows_intact(md);
  EXPECT_TRUE(has(md, "``a<b>&\"c'\\|`x``")) << md;  // a code span with a longer fence
  EXPECT_FALSE(has(md, "\n" + name)) << md;
}

TEST(RenderHtml, SelfContainedWellFormedWithOneSvgPerChart) {
  struct Case {
    json report;
    size_t charts;
  };
  json no_sqnr = full_report();
  no_sqnr["sensitivity"] = nullptr;
  for (json& t : no_sqnr["size"]["tensors"]) t["sqnr_db"] = nullptr;
  const std::vector<Case> cases = {{full_report(), 3}, {null_report(), 1}, {full_report(kHostile), 3}, {no_sqnr, 1}};
  for (const Case& c : cases) {
    const std::string html = render_html(c.report);
    EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
    for (const char* bad : {"<script", "javascript:", "http://", "https://", "src=", "href=\"/", "url(", "@import"})
      EXPECT_FALSE(has(html, bad)) << bad;
    EXPECT_FALSE(has_event_attribute(html));
    EXPECT_EQ(count(html, "<svg"), c.charts);
    EXPECT_EQ(xml_problem(html), "");
    EXPECT_EQ(html, render_html(c.report));  // deterministic
  }
  EXPECT_TRUE(has(render_html(null_report()), "<p>Sensitivity analysis was not run.</p>"));
  EXPECT_TRUE(has(render_html(no_sqnr), "so there is no error chart."));
}

TEST(RenderHtml, EscapesHostileNamesAndColoursGates) {
  const std::string html = render_html(full_report(kHostile));
  EXPECT_FALSE(has(html, "<b>"));
  EXPECT_FALSE(has(html, kHostile));
  EXPECT_TRUE(has(html, "a&lt;b&gt;&amp;&quot;c&#39;"));
  EXPECT_TRUE(has(html, "<tr class=\"fail\">"));
  EXPECT_TRUE(has(html, "<tr class=\"pass\">"));
  // Invalid UTF-8 and control bytes in a name are replaced, so the file stays valid XML.
  const std::string broken = render_html(full_report(std::string("w\xff\x01\xe2\x82")));
  EXPECT_EQ(xml_problem(broken), "");
  EXPECT_TRUE(has(broken, "w\xEF\xBF\xBD\xEF\xBF\xBD"));
}

TEST(RenderHtml, ChartsCapRowsForLargeModels) {
  json r = full_report();
  r["size"]["tensors"] = json::array();
  for (int i = 0; i < 100; ++i)
    r["size"]["tensors"].push_back(tensor("t" + std::to_string(i), 1000.0 * (i + 1), 250.0 * (i + 1), 20.0 + i));
  const std::string html = render_html(r);
  EXPECT_TRUE(has(html, "Showing 40 of 100 tensors.")) << html;
  EXPECT_EQ(count(html, "<g>"), 40u + 40u + r["sensitivity"].size());
  // Size chart keeps the largest (t99); the error chart keeps the worst SQNR (t0).
  EXPECT_TRUE(has(html, "<title>t99: ")) << html;
  EXPECT_FALSE(has(html, "<title>t0: 1.00 kB")) << html;
  EXPECT_TRUE(has(html, "<title>t0: 20.0 dB</title>")) << html;
  EXPECT_FALSE(has(html, "<title>t99: 119.0 dB</title>")) << html;
  EXPECT_EQ(xml_problem(html), "");
}

TEST(Render, NeverThrowsOnMalformedReports) {
  std::vector<json> inputs = {
      json(), json::array(), json("text"), json::object(),
      json::parse(R"({"status": 3, "size": {"tensors": [1, "x", {"name": 5, "shape": "?"}], "ratio": "big"},
                     "gates": {"a": 1}, "passes": [null, {"skipped": [{"reason": 7}], "counters": [1]}],
                     "accuracy": {"before": 1}, "latency": {"before": [], "ratio": -1},
                     "sensitivity": [{"node": null}], "mixed_precision": {"steps": [{"kept": [1]}]},
                     "provenance": {"machine": "x", "recipe": {"a": "b"}}})")};
  json with_inf = full_report();  // built in memory, a report can hold values JSON text cannot
  with_inf["size"]["tensors"][0]["sqnr_db"] = std::numeric_limits<double>::infinity();
  with_inf["size"]["tensors"][1]["sqnr_db"] = std::numeric_limits<double>::quiet_NaN();
  with_inf["size"]["tensors"][0]["dtype_after"] = "float32";
  EXPECT_TRUE(has(render_markdown(with_inf), "160 B | exact | " + fmt("%.6f", with_inf["size"]["tensors"][0]["cosine"].get<double>()))) << render_markdown(with_inf);
  inputs.push_back(with_inf);
  for (const json& r : inputs) {
    std::string html;
    EXPECT_NO_THROW({
      (void)render_summary_table(r);
      (void)render_markdown(r);
      html = render_html(r);
    }) << r.dump();
    EXPECT_EQ(xml_problem(html), "") << r.dump();
  }
}

TEST(RenderFormat, NumbersAndText) {
  using namespace report_detail;
  EXPECT_EQ(fmt_bytes(576), "576 B");
  EXPECT_EQ(fmt_bytes(45600), "45.6 kB");
  EXPECT_EQ(fmt_bytes(1234567), "1.23 MB");
  EXPECT_EQ(fmt_bytes_exact(1234567), "1.23 MB (1234567 B)");
  EXPECT_EQ(fmt_sig3(0.1), "0.100");
  EXPECT_EQ(fmt_sig3(12.5), "12.5");
  EXPECT_EQ(fmt_sig3(0.0003), "3.00e-04");
  EXPECT_EQ(fmt_sig3(std::nullopt), kDash);
  EXPECT_EQ(fmt_size_ratio(0.5), "2.00x larger");
  EXPECT_EQ(truncate_front("abcdef", 4), "\xE2\x80\xA6" "def");
  EXPECT_EQ(truncate_front("abcd", 4), "abcd");
  EXPECT_EQ(truncate_front("\xC3\xA9\xC3\xA9\xC3\xA9", 2), "\xE2\x80\xA6\xC3\xA9");  // whole code points
  EXPECT_EQ(sanitize_utf8("a\xff" "b\xC3\xA9"), "a\xEF\xBF\xBD" "b\xC3\xA9");
  EXPECT_EQ(html_escape(kHostile), "a&lt;b&gt;&amp;&quot;c&#39;");
}

}  // namespace
}  // namespace bitsmith
