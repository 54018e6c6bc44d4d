// Presets: named pipelines compiled into the library (name -> pipeline JSON run by the
// PassManager), so `bitsmith quantize --preset NAME` and recipes share one code path.
//
//   int8-static       fold-batchnorm, quantize: int8 per-channel 7-bit weights, uint8 static
//                     activations (minmax), QDQ. Needs calibration data.
//   int8-dynamic      fold-batchnorm, quantize: int8 per-channel 7-bit weights, dynamic uint8
//                     activations (DynamicQuantizeLinear + MatMulInteger/ConvInteger).
//   int4-weight-only  fold-batchnorm, quantize: int4 symmetric blocks of 32 along the reduction
//                     axis, float activations (blocked DequantizeLinear, opset 21).
//   fp16, bf16        fold-batchnorm, convert-float16 / convert-bfloat16.
//   deep-compression  fold-batchnorm, prune (sparsegpt 60%, last weighted layer kept dense),
//                     cluster (5-bit k-means with least-squares refit); writes model.bsm too.
//                     Needs calibration data.
//   low-rank          fold-batchnorm, low-rank (energy 0.9; the last weighted layer kept).
//   prune-2of4        fold-batchnorm, prune: sparsegpt 2:4 along the reduction axis (needs
//                     calibration data), weights stored dense.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "bitsmith/core/status.h"

namespace bitsmith {

struct Preset {
  std::string_view name;
  std::string_view summary;   // one line
  std::string_view pipeline;  // pipeline JSON (manager.h)
  std::string_view recipe = "{}";  // other recipe keys as JSON (e.g. {"output": {"bsm": true}})
};

// Every preset, in table order.
const std::vector<Preset>& presets();
std::vector<std::string> preset_names();
// The pipeline JSON of preset `name` (parsed), or kInvalidArgument with a did-you-mean.
Expected<nlohmann::json> preset_pipeline(std::string_view name);

}  // namespace bitsmith
