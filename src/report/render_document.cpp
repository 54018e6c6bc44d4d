// Builds the format-neutral report Document from the report JSON (see render_internal.h).
#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "report/render_internal.h"

namespace bitsmith::report_detail {
namespace {

using nlohmann::json;

// " → " with no-break spaces (U+00A0, U+2192), so "float32 → int8" never wraps in a table cell.
constexpr const char* kNbspArrow = "\xC2\xA0\xE2\x86\x92\xC2\xA0";

Block paragraph(std::string s) {
  Block b;
  b.text = std::move(s);
  return b;
}

Block list(std::vector<std::string> items) {
  Block b;
  b.kind = Block::Kind::kList;
  b.items = std::move(items);
  return b;
}

Block table(Table t) {
  Block b;
  b.kind = Block::Kind::kTable;
  if (t.row_class.size() < t.rows.size()) t.row_class.resize(t.rows.size());
  if (t.right_align.size() < t.header.size()) t.right_align.resize(t.header.size(), false);
  b.table = std::move(t);
  return b;
}

Block chart(ChartId id) {
  Block b;
  b.kind = Block::Kind::kChart;
  b.chart = id;
  return b;
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

// "a, b, c and 4 more" from the first `max` entries.
std::string name_list(const std::vector<std::string>& names, size_t max) {
  std::vector<std::string> head(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(std::min(max, names.size())));
  std::string out = join(head, ", ");
  if (names.size() > max) out += " and " + std::to_string(names.size() - max) + " more";
  return out;
}

std::string shape_text(const json& shape) {
  if (!shape.is_array()) return kDash;
  std::vector<std::string> dims;
  for (const json& d : shape) dims.push_back(d.is_number_integer() ? d.dump() : (d.is_string() ? d.get<std::string>() : "?"));
  return "[" + join(dims, ", ") + "]";
}

Section gates_section(const json& report) {
  Section s{"Gates", {}};
  const json& gates = array(report, "gates");
  if (gates.empty()) {
    s.blocks.push_back(paragraph("No gates were set."));
    return s;
  }
  Table t;
  t.header = {"gate", "value", "limit", "result"};
  t.right_align = {false, true, true, false};
  for (const json& g : gates) {
    const json& passed = member(g, "passed");
    const bool ok = passed.is_boolean() && passed.get<bool>();
    t.rows.push_back({code(text(g, "name")), {fmt_value(member(g, "value"))}, {fmt_value(member(g, "limit"))},
                      {ok ? "PASS" : "FAIL"}});
    t.row_class.emplace_back(ok ? "pass" : "fail");
  }
  s.blocks.push_back(table(std::move(t)));
  return s;
}

std::string counters_text(const json& counters) {
  std::vector<std::string> parts;
  if (counters.is_object())
    for (auto it = counters.begin(); it != counters.end(); ++it) parts.push_back(it.key() + "=" + fmt_value(it.value()));
  return parts.empty() ? kDash : join(parts, ", ");
}

// "reason: N nodes (a, b, c and 2 more)" per distinct reason, most frequent first.
std::vector<std::string> skip_groups(const json& skipped) {
  std::map<std::string, std::vector<std::string>> by_reason;
  for (const json& k : skipped) {
    std::string reason = text(k, "reason");
    by_reason[reason.empty() ? "(no reason given)" : reason].push_back(text(k, "node"));
  }
  std::vector<std::pair<std::string, std::vector<std::string>>> groups(by_reason.begin(), by_reason.end());
  std::stable_sort(groups.begin(), groups.end(),
                   [](const auto& a, const auto& b) { return a.second.size() > b.second.size(); });
  std::vector<std::string> out;
  for (const auto& [reason, nodes] : groups)
    out.push_back(reason + ": " + std::to_string(nodes.size()) + (nodes.size() == 1 ? " node (" : " nodes (") +
                  name_list(nodes, 4) + ")");
  return out;
}

Section passes_section(const json& report) {
  Section s{"Passes", {}};
  const json& passes = array(report, "passes");
  if (passes.empty()) {
    s.blocks.push_back(paragraph("No passes ran."));
    return s;
  }
  Table t;
  t.header = {"pass", "wall ms", "touched", "skipped", "counters"};
  t.right_align = {false, true, true, true, false};
  for (const json& p : passes)
    t.rows.push_back({code(text(p, "pass")), {fmt_sig3(number(p, "wall_ms"))}, {std::to_string(array(p, "touched").size())},
                      {std::to_string(array(p, "skipped").size())}, {counters_text(member(p, "counters"))}});
  s.blocks.push_back(table(std::move(t)));
  for (const json& p : passes) {
    const json& skipped = array(p, "skipped");
    if (!skipped.empty()) {
      s.blocks.push_back(paragraph("Skipped by " + text(p, "pass") + ", by reason:"));
      s.blocks.push_back(list(skip_groups(skipped)));
    }
    std::vector<std::string> notes;
    for (const json& n : array(p, "notes"))
      if (n.is_string()) notes.push_back(n.get<std::string>());
    if (!notes.empty()) {
      s.blocks.push_back(paragraph("Notes from " + text(p, "pass") + ":"));
      s.blocks.push_back(list(std::move(notes)));
    }
  }
  return s;
}

std::string sqnr_cell(const json& t) {
  if (const auto db = number(t, "sqnr_db")) return fmt_fixed(db, 1);
  const std::string before = text(t, "dtype_before"), after = text(t, "dtype_after");
  return !after.empty() && before == after ? "exact" : kDash;
}

Section tensors_section(const json& report) {
  Section s{"Tensors", {}};
  const json& size = member(report, "size");
  const json& tensors = array(size, "tensors");
  std::string intro = std::to_string(tensors.size()) + (tensors.size() == 1 ? " weight tensor" : " weight tensors");
  if (const auto params = number(size, "params")) intro += ", " + fmt_fixed(params, 0) + " parameters";
  s.blocks.push_back(paragraph(intro + "."));
  if (!tensors.empty()) {
    Table t;
    t.header = {"tensor", "shape", "dtype", "bits/weight", "bytes", "SQNR dB", "cosine", "changed by"};
    t.right_align = {false, false, false, true, true, true, true, false};
    for (const json& r : tensors) {
      const std::string after = present(r, "dtype_after") ? text(r, "dtype_after") : "folded";
      std::string changed = text(r, "changed_by");
      const std::string note = text(r, "note");
      if (!note.empty()) changed += (changed.empty() ? "" : "; ") + note;
      t.rows.push_back({code(text(r, "name")), {shape_text(member(r, "shape"))},
                        {text(r, "dtype_before") + kNbspArrow + after},
                        {fmt_fixed(number(r, "bits_per_weight"), 2)},
                        {fmt_bytes(number(r, "bytes_before")) + kNbspArrow + fmt_bytes(number(r, "bytes_after"))},
                        {sqnr_cell(r)}, {fmt_cos(number(r, "cosine"))}, {changed.empty() ? kDash : changed}});
    }
    s.blocks.push_back(table(std::move(t)));
  }
  s.blocks.push_back(chart(ChartId::kSize));
  s.blocks.push_back(chart(ChartId::kError));
  return s;
}

Section sensitivity_section(const json& report) {
  Section s{"Layer sensitivity", {}};
  const json& sens = member(report, "sensitivity");
  if (!sens.is_array()) {
    s.blocks.push_back(paragraph("Sensitivity analysis was not run."));
    return s;
  }
  s.blocks.push_back(paragraph("Layers ranked by the output damage their compression causes, most damaging first."));
  Table t;
  t.header = {"rank", "node", "op", "KL mean", "top-1 agreement", "reason"};
  t.right_align = {true, false, false, true, true, false};
  int rank = 0;
  for (const json& r : sens) {
    const std::string reason = text(r, "reason");
    t.rows.push_back({{std::to_string(++rank)}, code(text(r, "node")), {text(r, "op")}, {fmt_sig3(number(r, "kld_mean"))},
                      {fmt_pct(number(r, "top1_agreement"))}, {reason.empty() ? kDash : reason}});
  }
  s.blocks.push_back(table(std::move(t)));
  s.blocks.push_back(chart(ChartId::kSensitivity));
  return s;
}

Section mixed_precision_section(const json& mp) {
  Section s{"Mixed precision", {}};
  const json& met = member(mp, "met");
  std::string goal = "Target: " + text(mp, "metric") + " \xE2\x89\xA4 " + fmt_value(member(mp, "max")) + " (" +
                     (met.is_boolean() ? (met.get<bool>() ? "met" : "not met") : kDash) + "; achieved " +
                     fmt_value(member(mp, "value")) + "). Fallback precision: " + fmt_value(member(mp, "fallback")) + ".";
  s.blocks.push_back(paragraph(std::move(goal)));
  const json& steps = array(mp, "steps");
  if (!steps.empty()) {
    Table t;
    t.header = {"step", "kept in fallback precision", "value"};
    t.right_align = {true, false, true};
    int i = 0;
    for (const json& st : steps) {
      std::vector<std::string> kept;
      for (const json& k : array(st, "kept")) kept.push_back(k.is_string() ? k.get<std::string>() : k.dump());
      t.rows.push_back({{std::to_string(++i)}, {kept.empty() ? kDash : name_list(kept, 8)}, {fmt_value(member(st, "value"))}});
    }
    s.blocks.push_back(table(std::move(t)));
  }
  const json& kept = array(mp, "kept");
  if (!kept.empty()) {
    Table t;
    t.header = {"node", "op", "precision"};
    for (const json& k : kept) t.rows.push_back({code(text(k, "node")), {text(k, "op")}, {text(k, "precision")}});
    s.blocks.push_back(table(std::move(t)));
  }
  return s;
}

Section provenance_section(const json& report) {
  Section s{"Provenance", {}};
  const json& prov = member(report, "provenance");
  const json& machine = member(prov, "machine");
  auto or_dash = [](std::string v) { return v.empty() ? std::string(kDash) : v; };
  std::vector<std::string> isa;
  for (const json& i : array(machine, "isa"))
    if (i.is_string()) isa.push_back(i.get<std::string>());
  std::vector<std::string> items = {
      "tool: " + or_dash(text(prov, "tool")) + " " + text(prov, "version"),
      "input model: " + or_dash(text(member(report, "model"), "input")),
      "output model: " + or_dash(text(member(report, "model"), "output")),
      "model sha256: " + or_dash(text(prov, "model_sha256")),
      "recipe sha256: " + or_dash(text(prov, "recipe_sha256")),
      "seed: " + fmt_value(member(prov, "seed")),
      "machine: " + or_dash(text(machine, "cpu")) + ", " + fmt_value(member(machine, "cores")) + " cores, ISA: " +
          (isa.empty() ? std::string(kDash) : join(isa, " ")),
      "total time: " + fmt_ms(number(member(report, "timing"), "total_ms"))};
  s.blocks.push_back(list(std::move(items)));
  return s;
}

Section recipe_section(const json& report) {
  Section s{"Recipe", {}};
  const json& recipe = member(member(report, "provenance"), "recipe");
  if (recipe.is_null()) {
    s.blocks.push_back(paragraph("No recipe was recorded."));
    return s;
  }
  s.blocks.push_back(paragraph("The canonical recipe, every default filled in:"));
  Block b;
  b.kind = Block::Kind::kCode;
  // replace: invalid UTF-8 in a string must not make dump() throw.
  b.text = recipe.dump(2, ' ', false, json::error_handler_t::replace);
  s.blocks.push_back(std::move(b));
  return s;
}

}  // namespace

Document build_document(const json& report) {
  Document d;
  d.status = text(report, "status");
  if (d.status.empty()) d.status = "unknown";
  std::string upper = d.status;
  for (char& c : upper) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  d.title = "bitsmith compress report: " + upper;

  Section summary{"Summary", {}};
  const json& model = member(report, "model");
  if (present(model, "input") || present(model, "output"))
    summary.blocks.push_back(paragraph(text(model, "input") + " \xE2\x86\x92 " + text(model, "output")));
  summary.blocks.push_back(table(summary_table(report)));
  summary.blocks.push_back(paragraph(status_line(report)));
  d.sections.push_back(std::move(summary));
  d.sections.push_back(gates_section(report));
  d.sections.push_back(passes_section(report));
  d.sections.push_back(tensors_section(report));
  d.sections.push_back(sensitivity_section(report));
  if (member(report, "mixed_precision").is_object()) d.sections.push_back(mixed_precision_section(member(report, "mixed_precision")));
  d.sections.push_back(provenance_section(report));
  d.sections.push_back(recipe_section(report));
  return d;
}

}  // namespace bitsmith::report_detail
