// Small helpers shared by the dense kernels (conv, conv_transpose, gemm, matmul, pool,
// batchnorm, quantized): input checks with node-named errors, f16/bf16 widening, and a
// deterministic parallel-for over independent work items.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "bitsmith/core/tensor.h"
#include "bitsmith/runtime/kernel.h"
#include "runtime/kernels/eltwise_common.h"

namespace bitsmith::kernels {

// Input i, or an error naming the node and the input when it is absent or has no storage.
inline Expected<const Tensor*> required_input(const KernelContext& ctx, size_t i, const char* what) {
  const Tensor* t = ctx.input(i);
  if (!t || !t->defined())
    return ctx.error(std::string("input ") + std::to_string(i) + " (" + what + ") is required");
  return t;
}

// True for the float dtypes these kernels accept (f16/bf16 are computed in f32).
inline bool is_dense_float(DType t) {
  return t == DType::kF32 || t == DType::kF64 || t == DType::kF16 || t == DType::kBF16;
}

inline Status expect_dtype(const KernelContext& ctx, const Tensor& t, DType want, const char* what) {
  if (t.dtype() != want)
    return ctx.error(std::string(what) + " has dtype " + std::string(dtype_name(t.dtype())) + ", expected " +
                     std::string(dtype_name(want)));
  return Status::ok();
}

// A tensor as f32: shared when already f32, widened from f16/bf16 otherwise (caller checked the
// dtype is one of f32/f16/bf16).
inline Tensor as_f32(const Tensor& t) { return t.dtype() == DType::kF32 ? t : widen_to_f32(t); }

// Calls fn(item) for item in [0, items) over up to num_threads OpenMP threads, static schedule.
// Each item must write disjoint output, so results do not depend on the thread count.
template <class Fn>
void parallel_items(int64_t items, int num_threads, Fn&& fn) {
  const int nt = static_cast<int>(std::min<int64_t>(std::max(num_threads, 1), items));
  if (nt <= 1 || omp_in_parallel()) {
    for (int64_t i = 0; i < items; ++i) fn(i);
    return;
  }
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t i = 0; i < items; ++i) fn(i);
}

}  // namespace bitsmith::kernels
