// Helpers shared by the shape and data-movement kernels (shape_ops.cpp, transpose.cpp,
// concat_split.cpp, slice_gather.cpp, ...), and the tensor-level entry points of the kernels that
// have a fast path and a scalar reference twin (src/runtime/kernels/ref/*_ref.cpp). Tests call
// both twins directly and require identical bytes.
//
// These ops move elements without looking at them, so they dispatch on the element size
// (dispatch_by_size) rather than on the dtype: one instantiation per byte width, plus
// std::string for string tensors.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "bitsmith/core/status.h"
#include "bitsmith/core/tensor.h"
#include "bitsmith/runtime/kernel.h"

namespace bitsmith::kernels {

// Generic helpers live in their own namespace so they cannot collide with other kernel groups'
// helpers; the files of this group bring them in with `using namespace movement;`.
namespace movement {

// A 16-byte element (c128), moved as a unit.
struct Bytes16 {
  uint64_t lo;
  uint64_t hi;
};

// Element storage of `t` seen as T: the byte storage for trivially copyable T, string_data() for
// std::string. T must match the element size (see dispatch_by_size).
template <class T>
const T* elems(const Tensor& t) {
  if constexpr (std::is_same_v<T, std::string>) return t.string_data().data();
  else return reinterpret_cast<const T*>(t.bytes());
}
template <class T>
T* mutable_elems(Tensor& t) {
  if constexpr (std::is_same_v<T, std::string>) return t.mutable_string_data().data();
  else return reinterpret_cast<T*>(t.mutable_bytes());
}

// Calls fn(T{}) with T an unsigned integer of the element's byte width (1, 2, 4, 8), Bytes16 for
// 16-byte elements, or std::string for string tensors. Sub-byte dtypes are unsupported.
template <class Fn>
Status dispatch_by_size(DType t, Fn&& fn) {
  if (t == DType::kString) return fn(std::string{});
  switch (dtype_bits(t)) {
    case 8: return fn(uint8_t{});
    case 16: return fn(uint16_t{});
    case 32: return fn(uint32_t{});
    case 64: return fn(uint64_t{});
    case 128: return fn(Bytes16{});
    default: return unsupported("dtype " + std::string(dtype_name(t)) + " is not supported by data-movement kernels");
  }
}

// Threads to use for a loop that touches `nbytes` bytes: 1 below ~64 KiB, else num_threads.
inline int threads_for(int64_t nbytes, int num_threads) {
  return nbytes < (int64_t{1} << 16) || num_threads < 1 ? 1 : num_threads;
}

// Bytes per element for scheduling decisions (strings count as 32).
inline int64_t elem_nbytes(DType t) { return t == DType::kString ? 32 : (dtype_bits(t) + 7) / 8; }

// Values of a 0-d or 1-d int32/int64 tensor. Errors name `what`.
Expected<std::vector<int64_t>> read_int_list(const Tensor& t, const std::string& what);
// Every value of an int32/int64 tensor of any rank, negative values counted from `dim`; error
// when a value lies outside [-dim, dim).
Expected<std::vector<int64_t>> read_indices(const Tensor& t, int64_t dim, const std::string& what);
// The single value of a numeric tensor with one element (any numeric dtype, f16, bf16, bool).
Expected<double> read_scalar_f64(const Tensor& t, const std::string& what);
// The single value of an int32/int64 tensor with one element.
Expected<int64_t> read_scalar_i64(const Tensor& t, const std::string& what);
// The values of a 1-d float tensor (f32, f64, f16, bf16) as doubles.
Expected<std::vector<double>> read_float_list(const Tensor& t, const std::string& what);

// `axis` in [-rank, rank) mapped to [0, rank); error naming `what` otherwise.
Expected<int64_t> normalize_axis(int64_t axis, int64_t rank, const std::string& what);
// Normalizes each axis and rejects duplicates.
Expected<std::vector<int64_t>> normalize_axes(const std::vector<int64_t>& axes, int64_t rank,
                                              const std::string& what);

// OK when every dim is >= 0 and the element count fits int64 and a sane bound (2^40 elements).
Status check_shape(const Shape& shape, const std::string& what);

// Stores `t` as output i of the node, named after the node's output.
void set_output(KernelContext& ctx, size_t i, Tensor t);
// Allocates output i with `dtype` and `shape` and returns it.
Tensor& alloc_output(KernelContext& ctx, size_t i, DType dtype, const Shape& shape);
// True when the node has output i with a non-empty name.
inline bool wants_output(const KernelContext& ctx, size_t i) {
  return i < ctx.node.outputs.size() && !ctx.node.outputs[i].empty();
}
// Input i, or an error naming the missing input.
Expected<const Tensor*> required_input(const KernelContext& ctx, size_t i, const char* what);

// Prefixes an error with "node 'x' (Op)".
inline Status with_node(const KernelContext& ctx, Status s) { return s.with_context(ctx.node.describe()); }
template <class T>
Expected<T> with_node(const KernelContext& ctx, Expected<T> e) {
  if (e.is_ok()) return e;
  return e.status().with_context(ctx.node.describe());
}

// A kernel whose behaviour is one function of the context and the node's opset version.
using OpsetKernelFn = Status (*)(KernelContext& ctx, int64_t opset);
class OpsetKernel final : public OpKernel {
 public:
  OpsetKernel(OpsetKernelFn fn, int64_t opset) : fn_(fn), opset_(opset) {}
  Status compute(KernelContext& ctx) override { return fn_(ctx, opset_); }

 private:
  OpsetKernelFn fn_;
  int64_t opset_;
};
inline Expected<std::unique_ptr<OpKernel>> make_opset_kernel(OpsetKernelFn fn, int64_t opset) {
  return std::unique_ptr<OpKernel>(new OpsetKernel(fn, opset));
}

}  // namespace movement

// ---- tensor-level kernels (fast path + reference twin) ----
// Each allocates `out`; arguments are assumed validated unless stated otherwise.

// out = in transposed by `perm` (out.dim(k) == in.dim(perm[k])). `perm` must be a permutation.
Status transpose_fast(const Tensor& in, const std::vector<int64_t>& perm, Tensor& out, int num_threads);
Status transpose_ref(const Tensor& in, const std::vector<int64_t>& perm, Tensor& out);

// out = concatenation of `ins` along `axis` (already normalised; shapes already checked).
Status concat_fast(const std::vector<const Tensor*>& ins, int64_t axis, Tensor& out, int num_threads);
Status concat_ref(const std::vector<const Tensor*>& ins, int64_t axis, Tensor& out);

// One sliced axis: element i of the output along `axis` is input index start + i * step.
struct SliceAxis {
  int64_t start = 0;
  int64_t step = 1;
  int64_t count = 0;
};
// out[i...] = in[start_k + i_k * step_k ...]; `axes` has one entry per input dim.
Status slice_fast(const Tensor& in, const std::vector<SliceAxis>& axes, Tensor& out, int num_threads);
Status slice_ref(const Tensor& in, const std::vector<SliceAxis>& axes, Tensor& out);

// Gather along `axis` (normalised) with int32/int64 `indices` (negative counts from the end; out
// of range is an error).
Status gather_fast(const Tensor& data, const Tensor& indices, int64_t axis, Tensor& out, int num_threads);
Status gather_ref(const Tensor& data, const Tensor& indices, int64_t axis, Tensor& out);

// A parsed Einsum equation. Letters get ids 0..51 (a-z, A-Z); the k-th ellipsis dim (counted
// over the broadcast ellipsis rank, left to right) gets id 52 + k.
struct EinsumSpec {
  std::vector<std::vector<int>> inputs;  // letter id of each input dim
  std::vector<int> output;               // letter id of each output dim
  std::vector<int64_t> sizes;            // size of each letter id (-1: unused)
};
// Parses `equation` for inputs of `shapes` (explicit "->" or numpy's implicit output); checks
// that sizes agree (ellipsis dims broadcast, size 1 against n).
Expected<EinsumSpec> parse_einsum(const std::string& equation, const std::vector<Shape>& shapes);

// Einsum over `inputs` (numeric dtypes); `out` is allocated by the call.
Status einsum_fast(const std::string& equation, const std::vector<const Tensor*>& inputs, Tensor& out,
                   int num_threads);
Status einsum_ref(const std::string& equation, const std::vector<const Tensor*>& inputs, Tensor& out);

// Converts every element of `in` to `to` (Cast semantics: floats to integers saturate, NaN -> 0;
// to bool is `!= 0`; f16/bf16 round to nearest even). Allocates `out`.
Status cast_tensor(const Tensor& in, DType to, Tensor& out, int num_threads);

}  // namespace bitsmith::kernels
