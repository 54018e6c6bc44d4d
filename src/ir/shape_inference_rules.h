// Rule registration between the shape inference rule files (internal).
#pragma once

#include <string_view>
#include <unordered_map>

#include "ir/shape_inference_internal.h"

namespace bitsmith::shape_inference_detail {

// Adds the rules of shape_inference_shape_ops.cpp (Reshape, Concat, Slice, Gather, ...).
void add_shape_op_rules(std::unordered_map<std::string_view, Rule>& table);

}  // namespace bitsmith::shape_inference_detail
