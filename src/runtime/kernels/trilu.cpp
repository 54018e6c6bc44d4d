// Trilu: keeps the upper (j - i >= k) or lower (j - i <= k) triangle of the last two dims and
// zeroes the rest (value-initialised elements: 0, false, "").
#include <algorithm>

#include "runtime/kernels/kernels.h"
#include "runtime/kernels/shape_common.h"

namespace bitsmith::kernels {

using namespace movement;  // NOLINT(google-build-using-namespace): this group's helpers
namespace {

Status trilu_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* in, required_input(ctx, 0, "input"));
  if (in->rank() < 2) return ctx.error("input must have rank >= 2, got " + shape_str(in->shape()));
  int64_t k = 0;
  if (const Tensor* kt = ctx.input(1)) {
    BS_ASSIGN_OR_RETURN(k, with_node(ctx, read_scalar_i64(*kt, "k")));
  }
  const bool upper = ctx.node.attr_int("upper", 1) != 0;
  const int64_t rows = in->dim(-2), cols = in->dim(-1);
  const int64_t mats = rows * cols == 0 ? 0 : in->numel() / (rows * cols);
  Tensor& out = alloc_output(ctx, 0, in->dtype(), in->shape());
  const int threads = threads_for(in->numel() * elem_nbytes(in->dtype()), ctx.num_threads);
  Status s = dispatch_by_size(in->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* src = elems<T>(*in);
    T* dst = mutable_elems<T>(out);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < mats * rows; ++r) {
      const int64_t i = r % rows;
      const T* s_row = src + r * cols;
      T* d_row = dst + r * cols;
      for (int64_t j = 0; j < cols; ++j) {
        const bool keep = upper ? j - i >= k : j - i <= k;
        d_row[j] = keep ? s_row[j] : T{};
      }
    }
    return Status::ok();
  });
  return with_node(ctx, s);
}

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_trilu(const KernelInfo&) { return make_fn_kernel(&trilu_compute); }

}  // namespace bitsmith::kernels
