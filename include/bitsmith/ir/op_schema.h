// Op schema table: the arity (input and output counts) of common default-domain ONNX ops, and
// the expected AttrType of well-known attribute names. Used by the verifier (ir/verifier.h).
//
// Arity counts positions in Node::inputs / Node::outputs, including empty names ("" = optional
// argument not given). Where an op's signature changed across opsets, the bounds are the union
// over all opsets (e.g. Slice: 1 input in opset 1, 3..5 from opset 10 -> [1, 5]), so a model of
// any opset passes; the executor's kernels check the exact signature for their opset.
// Ops of other domains and default-domain ops missing from the table are not arity-checked.
#pragma once

#include <string_view>

#include "bitsmith/ir/attribute.h"

namespace bitsmith {

struct OpSchema {
  static constexpr int kVariadic = -1;  // max_inputs / max_outputs: no upper bound

  std::string_view op_type;
  int min_inputs;
  int max_inputs;   // kVariadic: unbounded
  int min_outputs;
  int max_outputs;  // kVariadic: unbounded
};

// True for "" and "ai.onnx".
bool is_default_domain(std::string_view domain);

// The schema of (domain, op_type), or nullptr when the table does not know the op (every op of a
// non-default domain).
const OpSchema* find_op_schema(std::string_view domain, std::string_view op_type);

// The AttrType a well-known default-domain attribute name always has in every op that uses it
// ("kernel_shape" -> kInts, "group" -> kInt, "epsilon" -> kFloat, "auto_pad" -> kString, ...),
// or AttrType::kUndefined when the name is not in the table (or its type depends on the op).
AttrType expected_attr_type(std::string_view attr_name);

// Number of ops in the schema table (for tests).
size_t op_schema_count();

}  // namespace bitsmith
