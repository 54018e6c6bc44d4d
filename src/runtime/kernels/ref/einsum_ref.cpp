// Scalar reference for Einsum: one loop over every combination of label values; each step adds
// the product of the operands' elements into the output element. Handles repeated labels
// (diagonals), broadcast ellipsis dims and sums inside one operand. Floats accumulate in f64,
// integers wrap modulo 2^64 before narrowing.
#include <type_traits>

#include "runtime/kernels/dispatch.h"
#include "runtime/kernels/shape_common.h"

namespace bitsmith::kernels {

using namespace movement;  // NOLINT(google-build-using-namespace): this group's helpers

Status einsum_ref(const std::string& equation, const std::vector<const Tensor*>& inputs, Tensor& out) {
  std::vector<Shape> shapes;
  for (const Tensor* t : inputs) shapes.push_back(t->shape());
  BS_ASSIGN_OR_RETURN(EinsumSpec s, parse_einsum(equation, shapes));
  std::vector<int> labels;  // every label in use
  for (size_t id = 0; id < s.sizes.size(); ++id)
    if (s.sizes[id] >= 0) labels.push_back(static_cast<int>(id));
  const size_t nl = labels.size(), nin = inputs.size();
  // Stride of each label in each operand (summed over repeats; 0 where the dim is broadcast).
  std::vector<std::vector<int64_t>> in_strides(nin, std::vector<int64_t>(nl, 0));
  for (size_t t = 0; t < nin; ++t) {
    const std::vector<int64_t> st = shape_strides(shapes[t]);
    for (size_t d = 0; d < shapes[t].size(); ++d)
      for (size_t l = 0; l < nl; ++l)
        if (labels[l] == s.inputs[t][d] && shapes[t][d] != 1) in_strides[t][l] += st[d];
  }
  Shape out_shape;
  for (int id : s.output) out_shape.push_back(s.sizes[id]);
  const std::vector<int64_t> ost = shape_strides(out_shape);
  std::vector<int64_t> out_strides(nl, 0);
  for (size_t d = 0; d < s.output.size(); ++d)
    for (size_t l = 0; l < nl; ++l)
      if (labels[l] == s.output[d]) out_strides[l] = ost[d];
  Shape loop_shape;
  for (int id : labels) loop_shape.push_back(s.sizes[id]);
  const int64_t total = shape_numel(loop_shape);
  out = Tensor(inputs[0]->dtype(), out_shape);
  return dispatch_numeric(out.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    using Acc = std::conditional_t<std::is_integral_v<T>, uint64_t, double>;
    std::vector<Acc> acc(static_cast<size_t>(out.numel()), Acc(0));
    std::vector<int64_t> idx(nl, 0);
    for (int64_t it = 0; it < total; ++it) {
      int64_t rem = it, o = 0;
      std::vector<int64_t> off(nin, 0);
      for (size_t l = nl; l-- > 0;) {
        idx[l] = rem % loop_shape[l];
        rem /= loop_shape[l];
        o += idx[l] * out_strides[l];
        for (size_t t = 0; t < nin; ++t) off[t] += idx[l] * in_strides[t][l];
      }
      Acc prod = Acc(1);
      for (size_t t = 0; t < nin; ++t) prod *= static_cast<Acc>(inputs[t]->data<T>()[off[t]]);
      acc[o] += prod;
    }
    T* dst = out.mutable_data<T>();
    for (size_t i = 0; i < acc.size(); ++i) dst[i] = static_cast<T>(acc[i]);
    return Status::ok();
  });
}

}  // namespace bitsmith::kernels
