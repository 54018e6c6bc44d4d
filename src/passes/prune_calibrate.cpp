// prune: input statistics of the layers (wanda: sum x_j^2; sparsegpt: sum x x^T) over the rows
// of their input activations on ctx.calibration()'s batches, through the collector shared with
// the other passes that read activations (passes/layer_stats.h: rows, im2col, determinism).
#include "passes/prune_impl.h"

namespace bitsmith::prune_detail {

Status collect_stats(const Model& model, PassContext& ctx, const PruneOptions& o, const std::vector<Layer>& layers,
                     bool full, std::vector<LayerStats>& stats) {
  const std::string method = o.method == PruneMethod::kWanda ? "wanda" : "sparsegpt";
  const std::vector<passes_detail::LayerInput> inputs(layers.begin(), layers.end());
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
