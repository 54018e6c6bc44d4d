// Executor load-time fusion of float16 weights (the weight-only mode of the convert-float16
// pass: weights stored as f16 initializers, each Cast to float right before its consumer):
//
//   Cast(W f16 initializer [K, N], to=FLOAT) -> MatMul(A, W)   => bitsmith.MatMulF16Weight(A, W)
//   Cast(W f16 initializer, 2-D, to=FLOAT)   -> Gemm(A, W, C)  => bitsmith.GemmF16Weight(A, W, C)
//     (any alpha, beta, transA, transB; attributes copied)
//
// The Cast output must not be a graph output; every MatMul / Gemm reading it as input 1 (and not
// also as input 0 or 2) is rewritten, and the Cast is removed once nothing reads it. The fused
// kernels (src/runtime/kernels/f16_weight_gemm.cpp) keep W in float16 and widen it panel by
// panel inside the f32 GEMM, so no f32 copy of W is made per run or held.
//
// Numeric contract (tests/runtime/f16_weight_matmul_test.cpp): f16 -> f32 widening is exact and
// the fused GEMM does the f32 GEMM's arithmetic, so outputs are byte-identical to the unfused
// graph, for any thread count.
#pragma once

#include <string>
#include <vector>

#include "bitsmith/ir/graph.h"

namespace bitsmith {

// Rewrites `graph` in place; returns one line per fused op ("node 'fc1' (MatMul) ->
// bitsmith.MatMulF16Weight") and adds the "bitsmith" opset import when anything was fused.
std::vector<std::string> fuse_f16_weights(Graph& graph, std::vector<OpsetImport>& opsets);

}  // namespace bitsmith
