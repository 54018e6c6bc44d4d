// Executor load-time fusion of float chains into one kernel each, so that bias, activation and
// residual additions happen while a GEMM tile or conv output row is still in cache, with no
// intermediate tensor (ONNX Runtime does the same at its "all" optimization level):
//
//   Conv(X, W[, B]) [-> Add(., Z)] [-> Relu]
//       => com.microsoft.FusedConv(X, W, B, Z) activation=Relu when a Relu was fused
//   MatMul(A, W 2-D f32 initializer) -> Add(., bias 1-D f32 initializer [N])
//       [-> GELU as torch exports it: Div(v, c1) -> Erf -> Add(., c2) -> Mul(v, .) -> Mul(., c3)]
//       [-> Add(., Z)]
//       => bitsmith.FusedMatMul(A, W, bias[, Z]) activation="" | "GeluErf" (gelu_div=c1,
//          gelu_add=c2, gelu_mul=c3)
//
// Every value inside a chain must be f32 (by shape inference), have exactly one consumer (the
// GELU input: exactly the Div and the Mul) and not be a graph output; a Z must have the same
// inferred shape as the value it is added to (dims known and equal, or both unknown at dim 0).
// The kernels still accept a Z that only broadcasts (they add it unfused then).
//
// Numeric contract (tests/runtime/float_fusion_test.cpp): each fused kernel performs the same
// f32 operations in the same order as the unfused nodes (bias added to the finished GEMM sum,
// then the GELU steps with the graph's own constants and the same vectorized erf, then Z), so
// outputs are byte-identical to the unfused graph for any thread count.
#pragma once

#include <string>
#include <vector>

#include "bitsmith/ir/graph.h"
#include "bitsmith/ir/shape_inference.h"

namespace bitsmith {

// Rewrites `graph` in place (types: the shape inference of the graph before fusion); returns one
// line per fused chain ("node 'conv1' (Conv) + Add + Relu -> com.microsoft.FusedConv") and adds
// the opset imports the fused ops need.
std::vector<std::string> fuse_float_chains(Graph& graph, std::vector<OpsetImport>& opsets,
                                           const ShapeInferenceResult& types);

}  // namespace bitsmith
