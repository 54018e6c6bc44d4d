// The summary table and gate lines shared by the Markdown and HTML reports (see render_internal.h).
#include <string>

#include "report/render_internal.h"

namespace bitsmith::report_detail {
namespace {

using nlohmann::json;

void add_row(Table& t, std::string metric, std::string before, std::string after, std::string change) {
  t.rows.push_back({{std::move(metric)}, {std::move(before)}, {std::move(after)}, {std::move(change)}});
  t.row_class.emplace_back();
}

void size_rows(const json& report, Table& t) {
  const json& size = member(report, "size");
  const auto before = number(size, "before_bytes");
  const auto after = number(size, "after_bytes");
  auto ratio = number(size, "ratio");
  if (!ratio && before && after && *after > 0) ratio = *before / *after;
  add_row(t, "file size", fmt_bytes_exact(before), fmt_bytes_exact(after), fmt_size_ratio(ratio));
  const json& bsm = member(size, "bsm");
  if (bsm.is_object())
    add_row(t, "file size as .bsm container", fmt_bytes_exact(before), fmt_bytes_exact(number(bsm, "bytes")),
            fmt_size_ratio(number(bsm, "ratio")));
}

void accuracy_rows(const json& report, Table& t) {
  const json& acc = member(report, "accuracy");
  if (!acc.is_object()) return;
  const auto samples = number(acc, "samples");
  const std::string suffix = samples ? " (" + fmt_fixed(samples, 0) + " samples)" : "";
  for (const char* k : {"top1", "top5"}) {
    const auto before = number(member(acc, "before"), k);
    const auto after = number(member(acc, "after"), k);
    auto drop = number(acc, k == std::string("top1") ? "top1_drop_pt" : "top5_drop_pt");
    if (!drop && before && after) drop = (*before - *after) * 100;
    const std::optional<double> change = drop ? std::optional<double>(-*drop) : std::nullopt;
    const std::string name = k == std::string("top1") ? "top-1 accuracy" : "top-5 accuracy";
    add_row(t, name + suffix, fmt_pct(before), fmt_pct(after), fmt_pt(change));
  }
}

void fidelity_rows(const json& report, Table& t) {
  const json& fid = member(report, "fidelity");
  if (!fid.is_object()) return;
  const auto samples = number(fid, "samples");
  const std::string suffix = samples ? " (" + fmt_fixed(samples, 0) + " samples)" : "";
  add_row(t, "top-1 agreement with original" + suffix, kDash, fmt_pct(number(fid, "top1_agreement")), kDash);
  add_row(t, "output cosine similarity", kDash, fmt_cos(number(fid, "cosine")), kDash);
  add_row(t, "output SQNR", kDash, fmt_db(number(fid, "sqnr_db")), kDash);
  add_row(t, "KL divergence mean / p99 (nats)", kDash,
          fmt_sig3(number(fid, "kld_mean")) + " / " + fmt_sig3(number(fid, "kld_p99")), kDash);
  add_row(t, "max abs output error", kDash, fmt_sig3(number(fid, "max_abs_err")), kDash);
}

void latency_rows(const json& report, Table& t) {
  const json& lat = member(report, "latency");
  std::string setup;
  if (const auto threads = number(lat, "threads")) {
    setup += fmt_fixed(threads, 0) + (*threads == 1 ? " thread" : " threads");
  }
  if (const auto batch = number(lat, "batch")) setup += (setup.empty() ? "" : ", ") + ("batch " + fmt_fixed(batch, 0));
  if (const auto iters = number(lat, "iters")) setup += (setup.empty() ? "" : ", ") + fmt_fixed(iters, 0) + " iters";
  const std::string suffix = setup.empty() ? "" : " (" + setup + ")";
  for (const char* k : {"p50_ms", "p90_ms"}) {
    const auto before = number(member(lat, "before"), k);
    const auto after = number(member(lat, "after"), k);
    std::optional<double> ratio;
    if (k == std::string("p50_ms")) ratio = number(lat, "ratio");
    if (!ratio && before && after && *before > 0) ratio = *after / *before;
    add_row(t, std::string("latency ") + (k == std::string("p50_ms") ? "p50" : "p90") + suffix, fmt_ms(before),
            fmt_ms(after), fmt_speed_ratio(ratio));
  }
}

}  // namespace

Cell code(std::string s) { return Cell{std::move(s), true}; }

Table summary_table(const json& report) {
  Table t;
  t.header = {"metric", "before", "after", "change"};
  t.right_align = {false, true, true, true};
  size_rows(report, t);
  accuracy_rows(report, t);
  fidelity_rows(report, t);
  latency_rows(report, t);
  return t;
}

std::vector<GateLine> gate_lines(const json& report) {
  std::vector<GateLine> out;
  for (const json& g : array(report, "gates")) {
    const json& passed = member(g, "passed");
    GateLine line;
    line.passed = passed.is_boolean() && passed.get<bool>();
    const std::string name = text(g, "name");
    line.text = std::string(line.passed ? "PASS" : "FAIL") + " " + (name.empty() ? "(unnamed gate)" : name) + ": " +
                fmt_value(member(g, "value")) + " vs limit " + fmt_value(member(g, "limit"));
    out.push_back(std::move(line));
  }
  return out;
}

std::string status_line(const json& report) {
  std::string status = text(report, "status");
  if (status.empty()) status = "unknown";
  const std::vector<GateLine> gates = gate_lines(report);
  size_t failed = 0;
  for (const GateLine& g : gates) failed += g.passed ? 0 : 1;
  std::string detail;
  if (gates.empty()) detail = "no gates set";
  else if (failed == 0) detail = gates.size() == 1 ? "the gate passed" : "all " + std::to_string(gates.size()) + " gates passed";
  else detail = std::to_string(failed) + " of " + std::to_string(gates.size()) + (gates.size() == 1 ? " gate failed" : " gates failed");
  return "status: " + status + " (" + detail + ")";
}

}  // namespace bitsmith::report_detail
