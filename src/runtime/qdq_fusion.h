// Executor load-time fusion of QDQ units into integer kernels (u8 x s8 GEMM, gemm_u8s8.h).
//
// Recognized units (every DequantizeLinear / QuantizeLinear parameter a constant; activation
// scale / zero point per tensor, 8-bit; weights a constant 8-bit initializer, per tensor or per
// output channel; bias, when present, DequantizeLinear of a constant int32 with zero point 0 and
// scale a_scale * w_scale[j] within 1e-6 relative):
//   DQ(x) + DQ(W) [+ DQ(b)] -> Conv [-> Relu] -> Q      => QLinearConv
//   DQ(x) + DQ(W)           -> MatMul [-> Relu] -> Q    => QLinearMatMul (W 2-D)
//   DQ(x) + DQ(W) [+ DQ(b)] -> Gemm [-> Relu] -> Q      => com.microsoft QGemm (transA 0, alpha 1, beta 1)
//   DQ(x) + DQ(W) [+ DQ(b)] -> Gemm (output stays f32)  => com.microsoft QGemm without y_scale
//   DQ(x) + DQ(W)           -> MatMul (output stays f32)=> com.microsoft MatMulIntegerToFloat
//   MatMul(A f32, DQ(W int4/uint4 [K, N], block_size along K)) => com.microsoft MatMulNBits (B,
//     scales, zero points repacked into its layout at load; weight-only, f32 output)
// A Relu between the op and Q is dropped only when Q's zero point is the lowest value of its type
// (then Q(relu(y)) == Q(y) exactly). The op's float output must have no other consumer and not
// be a graph output. DequantizeLinear nodes left without consumers are removed.
//
// Numeric contract (tests/runtime/qdq_fusion_test.cpp): the fused unit computes the exact integer
// sum and requantizes once, q = saturate(round_half_even(float(acc) * (s_x * s_w[j] / s_y)) + z_y),
// i.e. the QLinear* reference bit for bit. The unfused graph rounds its f32 sums instead, so the
// two can differ where the exact value lies near a rounding boundary: by at most one quantization
// step of y. With float output, fused = float(acc) * (s_x * s_w[j]), unfused = the f32 GEMM of the
// dequantized values: equal up to f32 rounding of the sums (relative ~1e-6 of sum |x w|).
#pragma once

#include <string>
#include <vector>

#include "bitsmith/ir/graph.h"

namespace bitsmith {

struct QdqFusionResult {
  std::vector<std::string> units;  // "node 'conv1' (Conv) -> QLinearConv", one per fused unit
};

// Rewrites `graph` in place; adds the com.microsoft opset import when a contrib op is used.
QdqFusionResult fuse_qdq_units(Graph& graph, std::vector<OpsetImport>& opsets);

}  // namespace bitsmith
