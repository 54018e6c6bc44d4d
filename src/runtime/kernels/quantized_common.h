// Shared pieces of the quantized kernels (quantized.cpp, quantized_matmul.cpp,
// quantized_conv.cpp): scale / zero-point reading and an exact integer GEMM run on the f32 GEMM.
//
// Exact integer GEMM on floats: the operands hold zero-point-shifted 8-bit values, so every
// |value| <= 255 and every product <= 65025. The f32 GEMM sums each K block of kGemmKc = 256
// products from 0 with FMA; every partial sum is an integer below 256 * 65025 < 2^24, hence
// exact. Each block's result is then added into int32 accumulators, so the whole product equals
// the int32 reference bit for bit (wrapping aside, which ONNX excludes).
#pragma once

#include <cstdint>
#include <vector>

#include "bitsmith/core/tensor.h"
#include "bitsmith/runtime/kernel.h"
#include "runtime/kernels/gemm_f32.h"

namespace bitsmith::kernels {

// [qmin, qmax] of an integer quantized dtype (u8, i8, u16, i16, u4, i4, i32).
bool quant_range(DType t, int32_t& qmin, int32_t& qmax);

// Values of a scale tensor (f32 / f16 / bf16) as floats.
std::vector<float> scale_values(const Tensor& t);

// Values of an integer tensor (any integer dtype incl. packed i4/u4) as int32.
std::vector<int32_t> int_values32(const Tensor& t);

// A zero-point / scale vector that must hold 1 entry (per tensor, a scalar or [1]) or `count`
// entries (1-D); error names `what`.
Status check_param_count(const KernelContext& ctx, const Tensor& t, int64_t count, const char* what);

// Element i of a per-tensor (size 1) or per-index vector.
template <class T>
inline T param_at(const std::vector<T>& v, int64_t i) {
  return v.size() == 1 ? v[0] : v[static_cast<size_t>(i)];
}

// Left / right operand of the exact integer GEMM: a float view of integer values, or packed
// per K block (blocks[kb] covers depth [kb * kGemmKc, ...)).
struct IntGemmA {
  MatView view;
  const std::vector<PackedA>* blocks = nullptr;
  int64_t offset = 0;  // first row within the packed blocks (multiple of kGemmMr)
};
struct IntGemmB {
  MatView view;
  const std::vector<PackedB>* blocks = nullptr;
  int64_t offset = 0;  // first column within the packed blocks (multiple of kGemmNr)
};

// Packs a (m x k) / b (k x n) float views per K block.
std::vector<PackedA> pack_a_blocks(MatView a, int64_t m, int64_t k);
std::vector<PackedB> pack_b_blocks(MatView b, int64_t k, int64_t n);

// c[m, n] (int32, row stride ldc) = a * b exactly (see above). Single-threaded.
void igemm_exact_st(int64_t m, int64_t n, int64_t k, const IntGemmA& a, const IntGemmB& b, int32_t* c,
                    int64_t ldc);

// Stores value (already in the dtype's range) as element `index` of `out` (u8, i8, u16, i16,
// i32, or packed u4 / i4: low nibble first).
void store_int(DType dtype, int64_t index, int32_t value, std::byte* out);

}  // namespace bitsmith::kernels
