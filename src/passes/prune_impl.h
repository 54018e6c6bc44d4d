// Internals of the `prune` pass (src/passes/prune*.cpp), shared by its files:
//   prune.cpp            options, validation, matching ("does it apply?"), the driver, records
//   prune_masks.cpp      weight matrices, magnitude / wanda masks, N:M groups, global threshold
//   prune_sparsegpt.cpp  SparseGPT (OBS-style one-shot pruning with weight updates)
//   prune_calibrate.cpp  input statistics of layers (X^T X or its diagonal) from ctx.calibration()
//   prune_structured.cpp pattern "structured": whole output channels removed from the graph
//
// Every pruned weight is seen as a matrix W [rows, cols]: one row per output (channel / neuron),
// cols along the reduction axis (what one output sums over):
//   MatMul W[K, N]            rows N, cols K
//   Gemm transB=0 W[K, N]     rows N, cols K;   transB=1 W[N, K]: rows N, cols K
//   Conv W[O, C/g, k...]      rows O, cols C/g * prod(k) (flattened in storage order)
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bitsmith/core/status.h"
#include "bitsmith/ir/graph.h"
#include "bitsmith/passes/options.h"
#include "bitsmith/passes/pass.h"
#include "passes/layer_stats.h"

namespace bitsmith::prune_detail {

enum class PruneMethod { kMagnitude, kWanda, kSparseGpt };
// kStructured removes whole output channels from the graph (prune_structured.cpp); the masks
// below only zero single weights.
enum class PrunePattern { kUnstructured, kNM, kStructured };
// Structured: what ranks an output channel (lowest removed): the norm of its weights.
enum class ChannelCriterion { kL1, kL2 };
enum class ThresholdScope { kLayer, kGlobal };

struct PruneOptions {
  PruneMethod method = PruneMethod::kMagnitude;
  std::optional<double> sparsity;  // fraction in [0, 1) zeroed; null: 0.5 (unstructured)
  PrunePattern pattern = PrunePattern::kUnstructured;
  int64_t n = 2;                   // N:M: at most n nonzeros in every m consecutive weights of a row
  int64_t m = 4;
  ThresholdScope threshold = ThresholdScope::kLayer;
  double damping = 0.01;           // sparsegpt: fraction of mean diag(X^T X) added to the diagonal
  int64_t block_size = 128;        // sparsegpt: columns per block (lazy updates, mask chosen per block)
  bool sequential = true;          // wanda/sparsegpt: statistics of a layer's input taken with the
                                   // layers before it already pruned
  int64_t calibration_batches = 0; // 0: every batch
  std::vector<std::string> ops = {"Conv", "Gemm", "MatMul"};
  ChannelCriterion criterion = ChannelCriterion::kL1;  // structured only
  bool activation_aware = false;  // structured: score norm x mean |output| of the channel (calibration)
};

const OptionTable<PruneOptions>& prune_option_table();

// Target sparsity for unstructured patterns (sparsity or its default).
inline double target_sparsity(const PruneOptions& o) { return o.sparsity.value_or(0.5); }
inline bool needs_data(const PruneOptions& o) { return o.method != PruneMethod::kMagnitude; }
// floor(s * n), tolerant of s being a rounded ratio (count / n * n may fall just below count).
inline int64_t prune_count(double s, int64_t n) {
  return static_cast<int64_t>(std::floor(s * static_cast<double>(n) + 1e-6));
}

// A node the rewrite applies to. The input side (index, input, cols and the Conv geometry for
// im2col rows) is the shared passes_detail::LayerInput.
struct Layer : passes_detail::LayerInput {
  std::string op;        // "Conv", "Gemm", "MatMul"
  std::string weight;    // f32 initializer (input 1)
  bool kn = false;       // storage [cols, rows] (MatMul, Gemm transB=0); else [rows, cols]
  int64_t rows = 0;
};

// The weight as a row-major [rows, cols] matrix, and back into the initializer's layout.
std::vector<float> weight_rows(const Tensor& w, const Layer& l);
Tensor weight_from_rows(const std::vector<float>& rows, const Tensor& like, const Layer& l);

// Input statistics of one layer over the calibration rows (im2col rows for Conv), from the
// shared collector (passes/layer_stats.h): `gram` the upper triangle of sum x x^T ([cols, cols],
// row-major; only with `full`), `sumsq` its diagonal sum x_j^2; `samples` how many rows.
using LayerStats = passes_detail::LayerStats;

// Runs `model` on the calibration batches and accumulates the statistics of each layer in
// `layers` (indices into model.graph.nodes as in Layer::index). Errors: kInvalidArgument without
// data (naming the pass and method), kDataError for an empty set, a refused batch, an input that
// is not f32 or whose shape does not fit the weight.
Status collect_stats(const Model& model, PassContext& ctx, const PruneOptions& o, const std::vector<Layer>& layers,
                     bool full, std::vector<LayerStats>& stats);

// Zeroes weights of `w` ([rows, cols]) by score (lowest first; ties: lower flat index first):
//   magnitude  score |w|;                  unstructured: floor(s * rows * cols) lowest of the layer
//   wanda      score |w| * sqrt(sumsq[c]); unstructured: floor(s * cols) lowest of each row
//   N:M (both) the m - n lowest of every m consecutive weights of a row
// `sumsq` is empty for magnitude.
void prune_by_score(std::vector<float>& w, int64_t rows, int64_t cols, const std::vector<double>& sumsq,
                    const PruneOptions& o, double sparsity);

// SparseGPT (Frantar & Alistarh 2023) on `w` ([rows, cols]) with gram = sum x x^T (upper
// triangle; taken by value, it is damped in place). Unstructured: in each block of block_size
// columns, floor(s * rows * block) weights with the lowest w^2 / [H^-1]_jj^2 are zeroed (scores
// from the weights updated so far); N:M: the m - n lowest of every m-group of a row. After each
// column the remaining weights of the row get the OBS correction. Inputs never seen (zero
// variance) have their weights zeroed. Rows are independent: parallel over rows, deterministic.
// `damping_used` returns the damping finally added (raised x10 until H is positive definite).
Status sparsegpt(std::vector<float>& w, int64_t rows, int64_t cols, std::vector<double> gram, const PruneOptions& o,
                 double sparsity, int num_threads, double& damping_used);

// Per-layer sparsities from one magnitude threshold over every layer (`weights[i]` the rows of
// layer i): the floor(s * total) smallest |w| over all layers (ties: earlier layer, then lower
// index) are counted per layer; returns count_i / numel_i.
std::vector<double> global_sparsities(const std::vector<std::vector<float>>& weights, double sparsity);

// Pattern "structured" on `layers` (matched by prune.cpp, in topological order): for each, the
// floor(s * O) output channels with the lowest weight norm are removed, together with the
// matching entries of everything their values flow through and the input channels of the
// weighted layers consuming them (see prune_structured.cpp). A layer whose channels cannot be
// followed is skipped with the reason; the graph stays valid.
Status prune_structured(Model& model, PassContext& ctx, const PruneOptions& o, const std::vector<Layer>& layers);

}  // namespace bitsmith::prune_detail
