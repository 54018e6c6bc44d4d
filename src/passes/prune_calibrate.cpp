// prune: input statistics of the layers (wanda: sum x_j^2; sparsegpt: sum x x^T) over the rows
// of their input activations on ctx.calibration()'s batches, through the collector shared with
// the other passes that read activations (passes/layer_stats.h: rows, im2col, determinism).
#include "passes/prune_impl.h"

namespace bitsmith::prune_detail {

Status collect_stats(const Model& model, PassContext& ctx, const PruneOptions& o, const std::vector<Layer>& layers,
                     bool full, std::vector<LayerStats>& stats) {
  const std::string method = o.method == PruneMethod::kWanda ? "wanda" : "sparsegpt";
  std::vector<passes_detail::LayerInput> inputs;
  inputs.reserve(layers.size());
  for (const Layer& l : layers) {
    passes_detail::LayerInput in;
    in.index = l.index;
    in.input = l.input;
    in.cols = l.cols;
    in.conv = l.conv;
    in.channels = l.channels, in.kh = l.kh, in.kw = l.kw;
    in.stride_h = l.stride_h, in.stride_w = l.stride_w, in.dil_h = l.dil_h, in.dil_w = l.dil_w;
    in.pad_top = l.pad_top, in.pad_left = l.pad_left, in.pad_bottom = l.pad_bottom, in.pad_right = l.pad_right;
    inputs.push_back(std::move(in));
  }
  passes_detail::StatsRequest req;
  req.who = "prune";
  req.need = method;
  req.no_data = "prune: method \"" + method +
                "\" needs calibration data (the layers' input activations); give calibration data (a recipe's "
                "calibration.data) or use method \"magnitude\"";
  req.max_batches = o.calibration_batches;
  req.full = full;
  return passes_detail::collect_layer_stats(model, ctx, inputs, req, stats);
}

}  // namespace bitsmith::prune_detail
