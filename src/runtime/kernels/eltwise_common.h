// Helpers shared by the elementwise, activation, normalization and reduction kernels
// (unary.cpp, activation.cpp, binary.cpp, compare_logic.cpp, variadic.cpp, softmax.cpp,
// layernorm.cpp, reduce.cpp).
//
// Determinism contract: every parallel loop here splits its range into blocks whose boundaries
// depend only on the problem size, never on the thread count, and each block's results depend
// only on its own elements. Kernels built on these helpers therefore write the same bytes for
// any ctx.num_threads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bitsmith/core/tensor.h"
#include "bitsmith/runtime/kernel.h"
#include "runtime/kernels/broadcast.h"
#include "runtime/kernels/ref/eltwise_ref.h"

namespace bitsmith::kernels {

// ---- f16/bf16 helpers (also used by the dense kernels through dense_util.h) ----

// True for the 16-bit float dtypes that kernels compute in f32.
inline bool is_half_dtype(DType t) { return t == DType::kF16 || t == DType::kBF16; }

// f16/bf16 -> a new f32 tensor of the same shape; any other dtype is returned as is (shared).
Tensor widen_to_f32(const Tensor& t);
// An f32 tensor -> a new tensor of `dtype` (f16 or bf16; round to nearest even).
Tensor narrow_from_f32(const Tensor& t, DType dtype);
// Converts between any two of f16, bf16, f32, f64 (a copy; same shape).
Tensor convert_float(const Tensor& t, DType dtype);

}  // namespace bitsmith::kernels

// Everything else lives in `elt` so that generic names cannot clash with other kernel groups.
namespace bitsmith::kernels::elt {

// Elements per parallel block for memory-bound elementwise loops (64 KiB of f32).
inline constexpr int64_t kEltBlock = 16384;

// Runs fn(begin, end) for each block [b*block, min(n, (b+1)*block)) of [0, n), spreading the
// blocks over up to `num_threads` OpenMP threads (inline when one block or one thread).
template <class Fn>
void parallel_blocks(int64_t n, int64_t block, int num_threads, Fn&& fn) {
  if (n <= 0) return;
  block = std::max<int64_t>(block, 1);
  const int64_t nblocks = (n + block - 1) / block;
  if (num_threads <= 1 || nblocks == 1) {
    for (int64_t b = 0; b < nblocks; ++b) fn(b * block, std::min(n, (b + 1) * block));
    return;
  }
  const int nt = static_cast<int>(std::min<int64_t>(num_threads, nblocks));
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t b = 0; b < nblocks; ++b) fn(b * block, std::min(n, (b + 1) * block));
}

// Any numeric or float tensor -> a new f64 tensor (same shape); nullopt for bool/string/etc.
std::optional<Tensor> to_f64(const Tensor& t);
// An f64 tensor -> a new tensor of numeric or float `dtype`; integers truncate toward zero and
// saturate at the type's range (NaN -> 0).
Tensor from_f64(const Tensor& t, DType dtype);

// `axis` in [-rank, rank) mapped to [0, rank); nullopt when out of range.
std::optional<int> normalize_axis(int64_t axis, int rank);

// The values of an int32 or int64 tensor as int64; nullopt for any other dtype.
std::optional<std::vector<int64_t>> int_values(const Tensor& t);

// Product of shape[begin, end).
int64_t dims_product(const Shape& shape, int begin, int end);

// Broadcast bookkeeping with adjacent dims merged where every input is either contiguous across
// them or broadcast along both. `dims` has rank >= 1 (a scalar output is [1]); strides[k][d] is
// input k's element stride along dims[d] (0 where broadcast). The innermost stride of every input
// is 0 or 1.
struct BroadcastPlan {
  Shape dims;
  std::vector<std::vector<int64_t>> strides;
  int64_t numel() const { return shape_numel(dims); }
  int64_t inner() const { return dims.back(); }
};
// Precondition: every input shape broadcasts to `out` (see broadcast_shapes()).
BroadcastPlan make_broadcast_plan(const std::vector<Shape>& inputs, const Shape& out);

// Calls fn(out_offset, in_offsets, inner) for each run of plan.inner() output elements (or a
// sub-run when the plan is one-dimensional), in_offsets holding one offset per input; element i
// of a run reads input k at in_offsets[k] + i * plan.strides[k].back(). Runs are grouped into
// fixed blocks of about kEltBlock elements spread over num_threads.
template <class Fn>
void for_each_run(const BroadcastPlan& plan, int num_threads, Fn&& fn) {
  const size_t n_in = plan.strides.size();
  const int rank = static_cast<int>(plan.dims.size());
  if (rank == 1) {
    parallel_blocks(plan.dims[0], kEltBlock, num_threads, [&](int64_t b, int64_t e) {
      std::vector<int64_t> off(n_in);
      for (size_t k = 0; k < n_in; ++k) off[k] = b * plan.strides[k][0];
      fn(b, off.data(), e - b);
    });
    return;
  }
  const int64_t inner = plan.inner();
  const Shape outer(plan.dims.begin(), plan.dims.end() - 1);
  std::vector<std::vector<int64_t>> outer_strides(n_in);
  for (size_t k = 0; k < n_in; ++k)
    outer_strides[k].assign(plan.strides[k].begin(), plan.strides[k].end() - 1);
  const int64_t rows = shape_numel(outer);
  const int64_t rows_per_block = std::max<int64_t>(1, kEltBlock / std::max<int64_t>(inner, 1));
  parallel_blocks(rows, rows_per_block, num_threads, [&](int64_t b, int64_t e) {
    for_each_broadcast(
        outer, outer_strides, [&](int64_t r, const int64_t* off) { fn(r * inner, off, inner); }, b, e);
  });
}

// Shape for a legacy (opset < 7) `broadcast=1` operand B against A: B's dims placed at `axis`
// of A (axis < 0: aligned to A's trailing dims) and padded with 1s to A's rank. nullopt when
// B does not fit.
std::optional<Shape> legacy_broadcast_shape(const Shape& a, const Shape& b, int64_t axis);

// "[2, 3] and [4]" style description of several shapes for error messages.
std::string shapes_str(const std::vector<Shape>& shapes);

// Allocates output slot i of the node (dtype, shape) and returns it.
Tensor& alloc_output(KernelContext& ctx, size_t i, DType dtype, const Shape& shape);

// ---- two-input broadcasting ops ----

// y = f(a, b) over the numpy broadcast of a_shape and b_shape (= y_shape), run by run (see
// for_each_run) with contiguous inner loops; the same values as binary_ref() with the same f.
// y may be the same array as a when a_shape == y_shape.
template <class T, class U, class F>
void binary_fast(const T* a, const Shape& a_shape, const T* b, const Shape& b_shape, U* y,
                 const Shape& y_shape, F f, int num_threads) {
  const BroadcastPlan plan = make_broadcast_plan({a_shape, b_shape}, y_shape);
  const bool sa = plan.strides[0].back() != 0;
  const bool sb = plan.strides[1].back() != 0;
  for_each_run(plan, num_threads, [&](int64_t y_off, const int64_t* off, int64_t len) {
    const T* pa = a + off[0];
    const T* pb = b + off[1];
    U* py = y + y_off;
    if (sa && sb) {
      for (int64_t i = 0; i < len; ++i) py[i] = f(pa[i], pb[i]);
    } else if (sa) {
      const T vb = *pb;
      for (int64_t i = 0; i < len; ++i) py[i] = f(pa[i], vb);
    } else if (sb) {
      const T va = *pa;
      for (int64_t i = 0; i < len; ++i) py[i] = f(va, pb[i]);
    } else {
      const U v = f(*pa, *pb);
      for (int64_t i = 0; i < len; ++i) py[i] = v;
    }
  });
}

// Copies x broadcast to y_shape into y.
template <class T>
void broadcast_copy(const T* x, const Shape& x_shape, T* y, const Shape& y_shape, int num_threads) {
  const BroadcastPlan plan = make_broadcast_plan({x_shape}, y_shape);
  const bool contiguous = plan.strides[0].back() != 0;
  for_each_run(plan, num_threads, [&](int64_t y_off, const int64_t* off, int64_t len) {
    if (contiguous) std::copy(x + off[0], x + off[0] + len, y + y_off);
    else std::fill(y + y_off, y + y_off + len, x[off[0]]);
  });
}

// Legacy broadcasting attributes of opset < 7 binary ops (`broadcast`, `axis`).
struct LegacyBroadcast {
  bool enabled = false;  // broadcast=1 at opset < 7: B is aligned to A at `axis`
  int64_t axis = -1;     // -1: B aligned to A's trailing dims
};
LegacyBroadcast legacy_broadcast_attrs(const KernelInfo& info);

// Inputs 0 and 1 of a binary node, ready for binary_fast(): f16/bf16 widened to f32 (then
// `widened` is set and `dtype` holds the original dtype), shapes after legacy alignment.
struct BinaryOperands {
  Tensor a, b;
  Shape a_shape, b_shape, y_shape;
  DType dtype = DType::kUndefined;
  bool widened = false;
};
// Checks presence, equal dtypes (unless allow_mixed_dtypes) and broadcastability.
Status prepare_binary(const KernelContext& ctx, const LegacyBroadcast& legacy, BinaryOperands& ops,
                      bool allow_mixed_dtypes = false);

// ---- entry points shared between the group's files (and their tests) ----

// Fast f32 unary loop over n contiguous elements (x may equal y); the reference is unary_ref().
void unary_f32_fast(UnaryOp op, const UnaryParams& p, const float* x, float* y, int64_t n);
// Applies `op` to input 0 of ctx into output 0 (any float dtype; integers where
// unary_accepts_integers(op)).
Status run_unary(KernelContext& ctx, UnaryOp op, const UnaryParams& p);
// A kernel that calls run_unary(ctx, op, p).
std::unique_ptr<OpKernel> make_unary_kernel(UnaryOp op, const UnaryParams& p);

// Fast f32 softmax (log = false) or log-softmax over contiguous rows x[rows, n], rows spread over
// num_threads; the reference is softmax_ref(x, y, rows, n, 1, log).
void softmax_rows_f32(const float* x, float* y, int64_t rows, int64_t n, bool log, int num_threads);

// Fast f32 layer normalization of contiguous rows x[rows, cols] (see layernorm_ref for the
// formula); bias, mean and inv_std may be null. Rows spread over num_threads.
void layernorm_rows_f32(const float* x, const float* scale, const float* bias, float* y, float* mean,
                        float* inv_std, int64_t rows, int64_t cols, float epsilon, int num_threads);

}  // namespace bitsmith::kernels::elt
