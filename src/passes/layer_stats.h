// Input statistics of weighted layers over calibration data, shared by the passes that need the
// layers' input activations (prune: wanda / sparsegpt; low-rank: activation-aware).
//
// A layer's input is seen as rows x of `cols` features, the axis its weight reduces over:
//   MatMul / Gemm  input [..., K]: one row per leading index, cols = K
//   Conv (2-D, group 1) input [N, C, H, W]: one im2col row per output position, cols =
//                  C * kh * kw in the weight's storage order (c, i, j); entries where the kernel
//                  reads padding are 0
// and the statistics are, in double, summed over every row of every batch used:
//   gram   the upper triangle of sum x x^T ([cols, cols], row-major; only when asked for)
//   sumsq  its diagonal, sum x_j^2 ([cols])
// Rows are summed in batch order and each entry is owned by one thread, so the result is the
// same for any thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bitsmith/core/status.h"
#include "bitsmith/ir/graph.h"
#include "bitsmith/passes/pass.h"

namespace bitsmith::passes_detail {

// Where a layer's input comes from and how it is cut into rows.
struct LayerInput {
  size_t index = 0;    // the layer's node, into model.graph.nodes
  std::string input;   // the activation (the node's input 0)
  int64_t cols = 0;    // features per row
  // Conv geometry (2-D, group 1) for im2col rows; conv false for MatMul / Gemm.
  bool conv = false;
  int64_t channels = 0, kh = 1, kw = 1;
  int64_t stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
};

// Fills the Conv geometry of `in` (conv, channels, kernel, strides, dilations, pads; not cols)
// from `node` and its weight `w`, or returns why im2col rows cannot be cut for this Conv ("group
// 2 (only group 1)", "auto_pad SAME_UPPER (only NOTSET or VALID)"); "" on success.
std::string conv_input_geometry(const Node& node, const Tensor& w, LayerInput& in);

struct LayerStats {
  std::vector<double> gram;   // upper triangle of sum x x^T, [cols, cols] row-major (when full)
  std::vector<double> sumsq;  // sum x_j^2, [cols]
  int64_t samples = 0;        // rows summed
};

// Who asks, for messages and limits.
struct StatsRequest {
  std::string who;        // message prefix: "prune", "low-rank"
  std::string need;       // what needs f32 activations, for that message: "wanda", "activation_aware"
  std::string no_data;    // the whole message when ctx has no calibration data
  int64_t max_batches = 0;  // batches used (0: all)
  bool full = true;       // gram too (else sumsq only)
};

// Runs `model` on ctx.calibration()'s batches (an Executor at ctx.num_threads()) and accumulates
// the statistics of each layer of `layers` into `stats` (one per layer, same order). Records the
// counters calibration_batches (batches used) and calibration_runs (+1). Errors:
// kInvalidArgument without data (req.no_data); kDataError for an empty set, a batch feeding a
// name that is not a model input, an input whose shape does not fit the layer, a layer input
// never computed; kUnsupported for an input that is not f32; the executor's error with the batch
// index as context.
Status collect_layer_stats(const Model& model, PassContext& ctx, const std::vector<LayerInput>& layers,
                           const StatsRequest& req, std::vector<LayerStats>& stats);

}  // namespace bitsmith::passes_detail
