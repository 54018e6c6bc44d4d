// The report's per-tensor table (compress_internal.h): each float initializer of the input model,
// followed by name through the passes' TensorChanges to what the written model stores.
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
    std::string current = t.name();
    const TensorChange* last = nullptr;
    const TensorChange* measured = nullptr;
    std::string changed_by, how;
    for (const PassRecord& r : records)
      for (const TensorChange& c : r.tensors) {
        if (c.tensor != current) continue;
        current = c.result;
        last = &c;
        if (!std::isnan(c.sqnr_db)) measured = &c;
        if (changed_by.find(r.pass) == std::string::npos) changed_by += (changed_by.empty() ? "" : ", ") + r.pass;
        how += (how.empty() ? "" : "; ") + c.how;
      }
    const Tensor* now = current.empty() ? nullptr : written.graph.find_initializer(current);
    nlohmann::json row = {{"name", t.name()},
                          {"shape", t.shape()},
                          {"numel", t.numel()},
                          {"dtype_before", std::string(dtype_name(t.dtype()))},
                          {"bytes_before", static_cast<int64_t>(t.nbytes())}};
    if (!now) {
      row["dtype_after"] = nullptr;
      row["bytes_after"] = 0;
      row["bits_per_weight"] = 0.0;
      row["sqnr_db"] = row["cosine"] = row["max_abs_err"] = nullptr;
      row["note"] = !last                 ? "not in the written model (folded or unused)"
                    : last->result.empty() ? how
                                           : how + "; then not in the written model";
    } else {
      const int64_t after = last ? last->bytes_after : static_cast<int64_t>(now->nbytes());
      row["dtype_after"] = std::string(dtype_name(now->dtype()));
      row["bytes_after"] = after;
      row["bits_per_weight"] = static_cast<double>(after) * 8.0 / static_cast<double>(t.numel());
      if (measured) {
        row["sqnr_db"] = number_or_null(measured->sqnr_db);  // null: exact
        row["cosine"] = number_or_null(measured->cosine);
        row["max_abs_err"] = number_or_null(measured->max_abs_err);
        row["note"] = how;
      } else if (!last && same_bytes(t, *now)) {
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
