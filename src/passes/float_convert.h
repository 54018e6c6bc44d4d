// Shared implementation of the convert-float16 and convert-bfloat16 passes (internal to
// src/passes; see convert_float16.cpp and convert_bfloat16.cpp for the option tables and the
// documentation of what the passes do).
#pragma once

#include <string>
#include <vector>

#include "bitsmith/core/dtype.h"
#include "bitsmith/core/status.h"
#include "bitsmith/ir/graph.h"
#include "bitsmith/passes/pass.h"

namespace bitsmith::passes_detail {

struct FloatConvertConfig {
  DType target = DType::kF16;           // kF16 or kBF16
  bool keep_io_types = true;            // graph inputs/outputs stay f32 (Casts at the boundary)
  std::vector<std::string> block_ops;   // op types kept in f32
  double min_positive_val = 0;          // weights: 0 < |x| < this become +-this
  double max_finite_val = 0;            // weights: this < |x| < inf become +-this
  bool weight_only = false;             // true: weights stored in `target`, compute stays f32
};

// Cross-field check shared by both passes' options: min_positive_val < max_finite_val, else an
// error at `pointer` is appended.
void validate_clamp_range(double min_positive_val, double max_finite_val, const std::string& pointer,
                          std::vector<std::string>& errors);

// The default block list of convert-float16 / convert-bfloat16 (see convert_float16.cpp).
const std::vector<std::string>& default_float_block_ops();

// Rewrites `model` (see the pass files). Only nodes in ctx.scope() change; what was done is
// recorded in ctx.record().
Status convert_float_model(Model& model, PassContext& ctx, const FloatConvertConfig& config);

// f32 -> `target` (f16 or bf16) with the clamping above; NaN and +-inf are kept. `clamped`
// counts the values that were moved.
Tensor convert_weight(const Tensor& t, const FloatConvertConfig& config, int64_t& clamped);

}  // namespace bitsmith::passes_detail
