// Static type and shape inference over a Model's main graph.
//
// Starting from the graph inputs' declared types (or shapes the caller gives) and the
// initializers, each node's output element types and shapes are derived by the ONNX rules of
// its op. Small integer tensors (shape arithmetic such as Shape -> Gather -> Concat -> Reshape,
// up to 64 elements) are tracked by value, so the shapes torch exports compute at run time
// still come out exact when the inputs are static.
//
// Contract:
//  - Never guesses. A dim is known only when it follows from known inputs; a symbolic dim
//    ("batch") is carried through ops that keep it. Ops the table does not know, and outputs
//    whose size depends on data (NonZero, TopK with a computed K, ...), get unknown dims (or an
//    unknown rank); that is not an error.
//  - A definite contradiction is an error (kInvalidModel) naming the node, its op and the
//    shapes: MatMul/Gemm inner dims that differ, Conv input channels != weight channels x group,
//    dims that cannot broadcast, Concat dims that differ off the axis, a Reshape that changes
//    the element count, a rank an op cannot take.
//  - Inference reads the graph only; it does not change it.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bitsmith/core/shape.h"
#include "bitsmith/core/status.h"
#include "bitsmith/ir/graph.h"

namespace bitsmith {

struct ShapeInferenceOptions {
  // Concrete shapes for some graph inputs, replacing their declared shapes (e.g. the shapes of
  // the feeds about to be run).
  std::vector<std::pair<std::string, Shape>> input_shapes;
  // Treat dim 0 of every graph input as unknown (ExecutorOptions::dynamic_batch).
  bool dynamic_batch = false;
};

struct ShapeInferenceResult {
  // Every value of the main graph (inputs, initializers, node outputs) -> its inferred type.
  // kind kTensor; elem_type kUndefined when unknown; has_shape false when the rank is unknown;
  // dims with value -1 (and maybe a symbolic param) when unknown.
  std::unordered_map<std::string, TypeInfo> types;
  int64_t nodes_total = 0;
  int64_t nodes_fully_static = 0;  // nodes whose every output has a known dtype and shape
  std::vector<std::string> unknown_ops;  // op types the table does not know (sorted, unique)

  // Concrete shape of `value_name` when fully known.
  std::optional<Shape> static_shape(const std::string& value_name) const;
};

Expected<ShapeInferenceResult> infer_shapes(const Model& model, const ShapeInferenceOptions& options = {});

}  // namespace bitsmith
