// The report's per-tensor table (compress_internal.h): each float initializer of the input model,
// followed by name through the passes' TensorChanges to what the written model stores.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "compress/compress_internal.h"

namespace bitsmith::compress_detail {
namespace {

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.nbytes() == b.nbytes() &&
         (a.nbytes() == 0 || std::memcmp(a.bytes(), b.bytes(), a.nbytes()) == 0);
}

}  // namespace

nlohmann::json tensor_rows(const Model& original, const Model& written, const std::vector<PassRecord>& records) {
  nlohmann::json rows = nlohmann::json::array();
  for (const Tensor& t : original.graph.initializers) {
    if (!is_float(t.dtype()) || t.numel() == 0) continue;
    // The initializers now holding t (several after a low-rank split), each with the change
    // that produced it (null: t itself, unchanged).
    std::vector<std::pair<std::string, const TensorChange*>> current = {{t.name(), nullptr}};
    const TensorChange* last = nullptr;
    const TensorChange* measured = nullptr;  // the first change with a measured error
    int measured_changes = 0;
    std::string changed_by, how;
    for (const PassRecord& r : records)
      for (const TensorChange& c : r.tensors) {
        auto it = std::find_if(current.begin(), current.end(), [&](const auto& e) { return e.first == c.tensor; });
        if (it == current.end()) continue;
        current.erase(it);
        const bool split = !c.more_results.empty();
        if (!c.result.empty()) current.emplace_back(c.result, split ? nullptr : &c);
        for (const std::string& m : c.more_results) current.emplace_back(m, nullptr);
        last = &c;
        if (!std::isnan(c.sqnr_db)) {
          if (!measured) measured = &c;
          ++measured_changes;
        }
        if (changed_by.find(r.pass) == std::string::npos) changed_by += (changed_by.empty() ? "" : ", ") + r.pass;
        how += (how.empty() ? "" : "; ") + c.how;
      }
    nlohmann::json row = {{"name", t.name()},
                          {"shape", t.shape()},
                          {"numel", t.numel()},
                          {"dtype_before", std::string(dtype_name(t.dtype()))},
                          {"bytes_before", static_cast<int64_t>(t.nbytes())}};
    int64_t after = 0;
    std::string dtype_after;
    bool present = false;
    for (const auto& [name, change] : current) {
      const Tensor* now = written.graph.find_initializer(name);
      if (!now) continue;
      present = true;
      after += change ? change->bytes_after : static_cast<int64_t>(now->nbytes());
      const std::string d(dtype_name(now->dtype()));
      if (dtype_after.find(d) == std::string::npos) dtype_after += (dtype_after.empty() ? "" : "+") + d;
    }
    if (!present) {
      row["dtype_after"] = nullptr;
      row["bytes_after"] = 0;
      row["bits_per_weight"] = 0.0;
      row["sqnr_db"] = row["cosine"] = row["max_abs_err"] = nullptr;
      row["note"] = !last                 ? "not in the written model (folded or unused)"
                    : last->result.empty() ? how
                                           : how + "; then not in the written model";
    } else {
      row["dtype_after"] = dtype_after;
      row["bytes_after"] = after;
      row["bits_per_weight"] = static_cast<double>(after) * 8.0 / static_cast<double>(t.numel());
      const Tensor* same = current.size() == 1 && !last ? written.graph.find_initializer(current[0].first) : nullptr;
      if (measured && measured_changes == 1) {
        row["sqnr_db"] = number_or_null(measured->sqnr_db);  // null: exact
        row["cosine"] = number_or_null(measured->cosine);
        row["max_abs_err"] = number_or_null(measured->max_abs_err);
        row["note"] = how;
      } else if (measured) {
        // Several lossy steps (low-rank, then quantize): the first step's error against the
        // original; the later steps' errors are in their own pass records.
        row["sqnr_db"] = number_or_null(measured->sqnr_db);
        row["cosine"] = number_or_null(measured->cosine);
        row["max_abs_err"] = number_or_null(measured->max_abs_err);
        row["note"] = how + " (error of the first lossy step; later steps add theirs)";
      } else if (same && same_bytes(t, *same)) {
        row["sqnr_db"] = nullptr;  // bit-identical
        row["cosine"] = 1.0;
        row["max_abs_err"] = 0.0;
        row["note"] = "unchanged";
      } else {
        row["sqnr_db"] = row["cosine"] = row["max_abs_err"] = nullptr;
        row["note"] = last ? how + " (values rewritten, error not measured)" : "changed, error not measured";
      }
    }
    row["changed_by"] = changed_by.empty() ? nlohmann::json() : nlohmann::json(changed_by);
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace bitsmith::compress_detail
