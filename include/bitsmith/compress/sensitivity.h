// Layer sensitivity: quantize (or convert) ONE weighted layer at a time with a pipeline's
// precision steps and measure the damage against the float model, so the layers that hurt most
// can be ranked, explained and, with mixed precision, kept back.
//
// Candidate layers are the weighted layers (passes/scope.h) of the input model that some
// precision step (quantize, convert-float16, convert-bfloat16) of the pipeline has in scope. For
// each, the pipeline runs on a copy of the model with every precision step's scope narrowed to
// that layer (include = its name; the step's exclude kept); other steps run as written. The
// result is evaluated against the float model on the data: KL divergence and top-1 agreement,
// and the top-1 drop when labels are given. Ranked by kld_mean, largest first (ties: lower
// agreement, then name). Deterministic for a given model, pipeline, data and seed.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bitsmith/core/status.h"
#include "bitsmith/ir/graph.h"
#include "bitsmith/passes/pass.h"

namespace bitsmith {

struct LayerSensitivity {
  std::string node, op;
  int64_t weights = 0;           // elements of the layer's weight
  double kld_mean = 0, kld_p99 = 0, top1_agreement = 0;
  std::optional<double> top1_drop_pt;  // with labels
  std::string reason;            // why this layer may be fragile ("depthwise; ...")
};

struct SensitivityInputs {
  const Model* model = nullptr;           // the float model
  nlohmann::json pipeline;                // canonical pipeline JSON
  const Tensor* data = nullptr;           // rows for the model's single input
  const Tensor* labels = nullptr;         // optional
  CalibrationData calibration;            // for static quantization steps
  uint64_t seed = 0;
  int threads = 0;
  int64_t max_layers = 0;                 // 0: every candidate; else the largest N by weight size
  int64_t batch = 32;
  int output = 0;
  bool progress = true;
};

Expected<std::vector<LayerSensitivity>> analyze_sensitivity(const SensitivityInputs& in);

// [{node, op, weights, kld_mean, kld_p99, top1_agreement, top1_drop_pt, reason}, ...]
nlohmann::json to_json(const std::vector<LayerSensitivity>& layers);

// True for the passes that change the precision of weights (what sensitivity and mixed
// precision narrow or hold back): quantize, convert-float16, convert-bfloat16.
bool is_precision_pass(const std::string& pass);

// `name` as an fnmatch pattern matching exactly that name ('*', '?', '[', '\' escaped).
std::string glob_literal(const std::string& name);

}  // namespace bitsmith
