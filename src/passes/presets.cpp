// The preset table (see passes/presets.h).
#include "bitsmith/passes/presets.h"

#include "bitsmith/passes/options.h"

namespace bitsmith {

const std::vector<Preset>& presets() {
  static const std::vector<Preset> table = {
      {"int8-static", "int8 per-channel weights (7-bit), uint8 static activations from calibration, QDQ",
       R"([{"pass": "fold-batchnorm"},
           {"pass": "quantize", "options": {
             "weights": {"dtype": "int8", "granularity": "per-channel", "symmetric": true, "reduce_range": true},
             "activations": {"mode": "static", "dtype": "uint8", "observer": "minmax"},
             "format": "qdq"}}])"},
      {"int8-dynamic", "int8 per-channel weights (7-bit), uint8 activations quantized at run time",
       R"([{"pass": "fold-batchnorm"},
           {"pass": "quantize", "options": {
             "weights": {"dtype": "int8", "granularity": "per-channel", "symmetric": true, "reduce_range": true},
             "activations": {"mode": "dynamic", "dtype": "uint8"}}}])"},
      {"int4-weight-only", "int4 weights in blocks of 32 (blocked DequantizeLinear, opset 21), float activations",
       R"([{"pass": "fold-batchnorm"},
           {"pass": "quantize", "options": {
             "weights": {"dtype": "int4", "granularity": "per-block", "block_size": 32, "symmetric": true},
             "activations": {"mode": "none"}}}])"},
      {"fp16", "float16 weights and compute; graph inputs and outputs stay float32",
       R"([{"pass": "fold-batchnorm"}, {"pass": "convert-float16"}])"},
      {"bf16", "bfloat16 weights (see `bitsmith passes convert-bfloat16`)",
       R"([{"pass": "fold-batchnorm"}, {"pass": "convert-bfloat16"}])"},
      {"deep-compression",
       "prune (SparseGPT, 60% of every weighted layer but the last) -> cluster (5-bit k-means, refit) -> .bsm container",
       R"([{"pass": "fold-batchnorm"},
           {"pass": "prune", "options": {"method": "sparsegpt", "sparsity": 0.6},
            "scope": {"exclude": {"last_weighted": true}}},
           {"pass": "cluster", "options": {"bits": 5, "init": "linear", "refit": true}}])",
       R"({"output": {"bsm": true}})"},
      {"low-rank", "truncated SVD of Gemm/MatMul/Conv weights keeping 90% of the energy (last weighted layer kept)",
       R"([{"pass": "fold-batchnorm"},
           {"pass": "low-rank", "options": {"rank_by": "energy", "energy": 0.9},
            "scope": {"exclude": {"last_weighted": true}}}])"},
      {"prune-2of4", "2:4 semi-structured sparsity (SparseGPT, from calibration data), weights stored dense",
       R"([{"pass": "fold-batchnorm"},
           {"pass": "prune", "options": {"method": "sparsegpt", "pattern": "n:m", "n": 2, "m": 4}}])"},
  };
  return table;
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const Preset& p : presets()) names.emplace_back(p.name);
  return names;
}

Expected<nlohmann::json> preset_pipeline(std::string_view name) {
  for (const Preset& p : presets())
    if (p.name == name) return nlohmann::json::parse(p.pipeline);
  return invalid_argument("unknown preset \"" + std::string(name) + "\"" + did_you_mean(name, preset_names()) +
                          " (known: " + bracket_list(preset_names()) + ")");
}

}  // namespace bitsmith
