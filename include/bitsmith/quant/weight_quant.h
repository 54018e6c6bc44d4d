// Weight quantization: from a float tensor to integer codes plus QuantParams, and back.
//
//   real ~= scale * (q - zero_point),   q = clamp(round_half_even(real / scale) + zero_point, qmin, qmax)
//
// Schemes:
//   symmetric   zero_point = 0 (stored as "no zero points" for signed types; for unsigned types
//               the midpoint (qmin + qmax + 1) / 2: 128, 64 with reduce_range, 8 for u4),
//               scale = max|w| / qmax_sym with qmax_sym = qmax - zero_point (127, 63, 7)
//   asymmetric  range [min(w, 0), max(w, 0)] mapped onto [qmin, qmax]:
//               scale = (max - min) / (qmax - qmin), zero_point = clamp(round(qmin - min / scale)).
// Scales are computed in double and rounded to float; a scale may then be raised by a few ulps
// so that rounding never puts the code of the group's min or max outside [qmin, qmax]: every
// code of the tensor lies in the (reduced) range, not only after the dtype's clamp.
// reduce_range: 8-bit types use 7 bits of range (i8 [-64, 63], u8 [0, 127]); see the ORT trap in
//   issue 4 (full-range int8 weights saturate vpmaddubsw in ORT's AVX2 kernels). No effect on
//   4-bit types.
// Granularity:
//   per-tensor  one scale;
//   per-channel one scale per index of `axis` (Conv weight axis 0, MatMul weight [K, N] axis 1);
//   per-block   blocks of `block_size` consecutive elements along `axis`, ONNX blocked
//               DequantizeLinear layout (scale shape = weight shape with dim axis replaced by
//               ceil(dim / block_size)); when block_size does not divide the axis, the last block
//               is shorter (ONNX allows it; ORT runs it) — never an error.
// An all-zero channel/block gets scale 1 so that scale stays > 0 and finite (q = zp); a tiny
// nonzero range gets at least FLT_MIN (no subnormal scales).
// Output tensors of 4-bit dtypes are packed two per byte, element 2i in the low nibble (ONNX).
// Results do not depend on the thread count.
#pragma once

#include <cstdint>
#include <string>

#include "bitsmith/core/quant_params.h"
#include "bitsmith/core/status.h"
#include "bitsmith/core/tensor.h"

namespace bitsmith {

enum class Granularity { kPerTensor, kPerChannel, kPerBlock };

struct WeightQuantSpec {
  DType qdtype = DType::kI8;  // i8, u8, i4, u4
  Granularity granularity = Granularity::kPerChannel;
  int axis = 0;               // per-channel / per-block axis (negative counts from the end)
  int64_t block_size = 32;    // per-block only; >= 2
  bool symmetric = true;
  bool reduce_range = false;  // 8-bit types only
};

// Integer range [qmin, qmax] of `qdtype` under `reduce_range` (8-bit types only).
void quant_range(DType qdtype, bool reduce_range, int32_t* qmin, int32_t* qmax);

// Scales and zero points for `w` (f32), one per tensor/channel/block. kInvalidArgument naming
// `w.name()` for a non-f32 tensor, a bad axis, NaN/Inf weights or a block size < 2.
Expected<QuantParams> compute_weight_params(const Tensor& w, const WeightQuantSpec& spec);

// q (dtype params.qdtype, same shape as w, 4-bit packed) with q.quant() == params and
// q.name() == w.name(). Codes are clamped to the dtype's full range, exactly like ONNX
// QuantizeLinear (the runtime kernel gives the same bytes). kInvalidArgument naming w for a
// non-f32 w, params that fail validate(w.shape()) or NaN/Inf values. `num_threads` 0 = all cores
// (one thread below 64 Ki elements); bytes identical for any thread count.
Expected<Tensor> quantize_tensor(const Tensor& w, const QuantParams& params, int num_threads = 0);

// The float values q stands for (f32, q's shape), using q.quant() (kInvalidArgument without).
Expected<Tensor> dequantize_tensor(const Tensor& q);

// Scale and zero point for an activation whose observed range is [lo, hi] (the range is widened
// to include 0 first): per-tensor QuantParams of `qdtype` (i8 or u8). Symmetric: zero point 0
// (i8) or 128 (u8; 64 with reduce_range). Always one zero point (also for symmetric i8), so a
// QuantizeLinear built from it gets the right output dtype (without one it defaults to u8).
// NaN ends count as 0, infinite ends as the float limits; qdtype other than u8 is taken as i8.
QuantParams activation_params(float lo, float hi, DType qdtype, bool symmetric, bool reduce_range = false);

// Error of a quantized tensor against the original, for reports. All fields NaN when the
// tensors are not both f32 with the same element count.
struct QuantError {
  double sqnr_db = 0;  // 10 log10(sum w^2 / sum (w - dq)^2); +inf when exact
  double cosine = 1;
  double max_abs = 0;
};
QuantError quant_error(const Tensor& original_f32, const Tensor& dequantized_f32);

}  // namespace bitsmith
