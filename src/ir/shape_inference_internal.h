// Internals of shape inference (ir/shape_inference.h): the per-value state and the per-op rule
// table, shared by shape_inference.cpp (driver) and shape_inference_ops*.cpp (rules).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bitsmith/core/status.h"
#include "bitsmith/ir/graph.h"

namespace bitsmith::shape_inference_detail {

// Largest integer tensor whose values are tracked (shape arithmetic).
inline constexpr int64_t kMaxTrackedValues = 64;
// A tracked integer element whose value is not known (Shape of a symbolic dim). Carried through
// Gather/Concat/Slice/Unsqueeze/arithmetic, read as "unknown dim" by Reshape/Expand/ConstantOfShape.
inline constexpr int64_t kUnknownInt = INT64_MIN;

// What is known of one value.
struct Val {
  DType dtype = DType::kUndefined;
  bool has_rank = false;
  std::vector<Dim> dims;                      // valid when has_rank
  std::optional<std::vector<int64_t>> ints;   // element values of a small integer tensor
  std::optional<std::vector<double>> reals;   // element values of a small float tensor

  static Val unknown() { return {}; }
  static Val of_rank(DType t, size_t rank);   // rank known, every dim unknown
  static Val of_shape(DType t, const Shape& s);
  int rank() const { return has_rank ? static_cast<int>(dims.size()) : -1; }
  bool dim_known(int i) const { return dims[i].has_value(); }
  bool all_dims_known() const;
  std::optional<int64_t> numel() const;        // when every dim is known
};

// "[N,3,?,224]" ("?" unknown dim, symbolic dims by name, "unranked" without a rank).
std::string val_str(const Val& v);

// One node being inferred.
class NodeCtx {
 public:
  NodeCtx(const Node& node, int64_t opset, std::vector<const Val*> inputs, size_t num_outputs)
      : node_(node), opset_(opset), inputs_(std::move(inputs)), outputs_(num_outputs) {}

  const Node& node() const { return node_; }
  int64_t opset() const { return opset_; }
  size_t num_inputs() const { return inputs_.size(); }
  // Input i, or nullptr when absent (optional input not given, or beyond the node's inputs).
  const Val* in(size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }
  // A definite contradiction: kInvalidModel naming the node, op and `what`.
  Status fail(const std::string& what) const;

  size_t num_outputs() const { return outputs_.size(); }
  Val& out(size_t i) { return outputs_[i]; }
  std::vector<Val>& outputs() { return outputs_; }

 private:
  const Node& node_;
  int64_t opset_;
  std::vector<const Val*> inputs_;
  std::vector<Val> outputs_;
};

using Rule = Status (*)(NodeCtx& ctx);

// The rule for a default-domain op type (or com.microsoft op when `domain` says so), or nullptr.
Rule find_rule(std::string_view domain, std::string_view op_type);

// ---- helpers used by the rules ----

// Axis in [-rank, rank) -> [0, rank); nullopt when out of range.
std::optional<int> normalize_axis(int64_t axis, int rank);
// Numpy-style multidirectional broadcast of the inputs' shapes; unknown rank when any rank is.
Expected<Val> broadcast_shapes(const NodeCtx& ctx, const std::vector<const Val*>& vals);
// Integer values of input i when tracked and all known (no kUnknownInt), else nullptr.
const std::vector<int64_t>* int_values(const NodeCtx& ctx, size_t i);
// Integer values of input i when tracked, possibly holding kUnknownInt elements.
const std::vector<int64_t>* partial_int_values(const NodeCtx& ctx, size_t i);
// Dims from integer values: negative (-1, kUnknownInt) -> unknown (callers handle Reshape's -1 and 0 themselves).
std::vector<Dim> dims_from_values(const std::vector<int64_t>& values);
Dim known_dim(int64_t v);
// `v` without its tracked element values (an op's output shaped like its input, new values).
inline Val shape_of(const Val& v) {
  Val r = v;
  r.ints.reset();
  r.reals.reset();
  return r;
}
// The Val of a constant tensor (shape, dtype, values when small).
Val val_of_tensor(const Tensor& t);

}  // namespace bitsmith::shape_inference_detail
