// TopK (opset 1: 'k' attribute; 10: k input; 11: largest and sorted). Outputs are always
// sorted (allowed for sorted=0). Ties keep the lower index first; NaN ranks above every number.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "bitsmith/core/half.h"
#include "runtime/kernels/dispatch.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/shape_common.h"

namespace bitsmith::kernels {

using namespace movement;  // NOLINT(google-build-using-namespace): this group's helpers
namespace {

template <class V>
bool greater(V a, V b) {
  if constexpr (std::is_floating_point_v<V>) {
    if (std::isnan(a)) return !std::isnan(b);
    if (std::isnan(b)) return false;
  }
  return a > b;
}

struct TopKShape {
  int64_t outer, dim, inner, k;
};

// Ranks each line and writes the first k (value storage copied bit-exact, index as int64).
template <class S, class V, class Load>
void topk_lines(const S* src, S* vals, int64_t* idx_out, const TopKShape& g, bool largest, Load load, int threads) {
  const int64_t lines = g.outer * g.inner;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t l = 0; l < lines; ++l) {
    const int64_t o = l / g.inner, in = l % g.inner;
    const S* line = src + o * g.dim * g.inner + in;
    std::vector<V> key(g.dim);
    for (int64_t i = 0; i < g.dim; ++i) key[i] = load(line[i * g.inner]);
    std::vector<int64_t> order(g.dim);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + g.k, order.end(), [&](int64_t a, int64_t b) {
      const bool before = largest ? greater(key[a], key[b]) : greater(key[b], key[a]);
      const bool after = largest ? greater(key[b], key[a]) : greater(key[a], key[b]);
      return before || (!after && a < b);
    });
    for (int64_t j = 0; j < g.k; ++j) {
      const int64_t pos = (o * g.k + j) * g.inner + in;
      vals[pos] = line[order[j] * g.inner];
      idx_out[pos] = order[j];
    }
  }
}

Status topk_compute(KernelContext& ctx, int64_t opset) {
  BS_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
  if (x->rank() == 0) return ctx.error("input must have rank >= 1");
  BS_ASSIGN_OR_RETURN(int64_t axis, with_node(ctx, normalize_axis(ctx.node.attr_int("axis", -1), x->rank(), "axis")));
  int64_t k = ctx.node.attr_int("k", -1);
  if (opset >= 10) {
    BS_ASSIGN_OR_RETURN(const Tensor* kt, required_input(ctx, 1, "K"));
    BS_ASSIGN_OR_RETURN(k, with_node(ctx, read_scalar_i64(*kt, "K")));
  }
  TopKShape g{1, x->dim(static_cast<int>(axis)), 1, k};
  if (k < 0 || k > g.dim) return ctx.error("k " + std::to_string(k) + " is outside [0, " + std::to_string(g.dim) + "]");
  for (int64_t d = 0; d < axis; ++d) g.outer *= x->dim(static_cast<int>(d));
  for (int64_t d = axis + 1; d < x->rank(); ++d) g.inner *= x->dim(static_cast<int>(d));
  const bool largest = ctx.node.attr_int("largest", 1) != 0;
  Shape out_shape = x->shape();
  out_shape[axis] = k;
  Tensor& values = alloc_output(ctx, 0, x->dtype(), out_shape);
  Tensor indices(DType::kI64, out_shape);
  int64_t* ix = indices.mutable_data<int64_t>();
  const int threads = threads_for(x->numel() * 16, ctx.num_threads);
  Status s = Status::ok();
  if (x->dtype() == DType::kF16 || x->dtype() == DType::kBF16) {
    const bool f16 = x->dtype() == DType::kF16;
    auto load = [f16](uint16_t h) { return f16 ? f16_to_f32(h) : bf16_to_f32(h); };
    topk_lines<uint16_t, float>(x->data<uint16_t>(), values.mutable_data<uint16_t>(), ix, g, largest, load, threads);
  } else {
    s = dispatch_numeric(x->dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      topk_lines<T, T>(x->data<T>(), values.mutable_data<T>(), ix, g, largest, [](T v) { return v; }, threads);
      return Status::ok();
    });
  }
  BS_TRY(with_node(ctx, s));
  set_output(ctx, 1, std::move(indices));
  return Status::ok();
}

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_topk(const KernelInfo& info) {
  return make_opset_kernel(&topk_compute, info.opset);
}

}  // namespace bitsmith::kernels
