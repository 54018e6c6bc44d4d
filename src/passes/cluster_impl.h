// Internals of the `cluster` pass (weight sharing; src/passes/cluster*.cpp), shared by its files:
//   cluster.cpp         options, validation, matching ("does it apply?"), the driver, the graph
//                       rewrite (indices + codebook decoded by Cast/Gather), records
//   cluster_kmeans.cpp  1-D k-means of one codebook (linear / kmeans++ / density init, Lloyd)
//   cluster_refit.cpp   least-squares refit of centroid values on calibration outputs
//
// Every clustered weight is seen as a matrix W [rows, cols]: one row per output channel /
// neuron, cols along the reduction axis (what one output sums over):
//   MatMul W[K, N]            rows N, cols K   (stored [cols, rows]: `kn`)
//   Gemm transB=0 W[K, N]     rows N, cols K   (`kn`);  transB=1 W[N, K]: rows N, cols K
//   Conv W[O, C/g, k...]      rows O, cols C/g * prod(k) (flattened in storage order)
// A codebook covers the whole tensor (per-tensor) or `group_size` consecutive rows
// (per-channel-group; the last group may be shorter).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "bitsmith/core/status.h"
#include "bitsmith/ir/graph.h"
#include "bitsmith/passes/options.h"
#include "bitsmith/passes/pass.h"
#include "passes/layer_stats.h"

namespace bitsmith::cluster_detail {

enum class ClusterInit { kLinear, kKMeansPlusPlus, kDensity };
enum class ClusterGranularity { kPerTensor, kPerChannelGroup };

struct ClusterOptions {
  int64_t bits = 4;                    // 2^bits centroids per codebook, 1..8
  ClusterInit init = ClusterInit::kLinear;
  ClusterGranularity granularity = ClusterGranularity::kPerTensor;
  int64_t group_size = 1;              // per-channel-group: output channels per codebook
  int64_t iterations = 30;             // Lloyd iterations at most (stops when assignments settle)
  bool refit = false;                  // least-squares refit of the centroids on calibration data
  int64_t calibration_batches = 0;     // refit: 0 means every batch
  std::vector<std::string> ops = {"Conv", "Gemm", "MatMul"};
};

const OptionTable<ClusterOptions>& cluster_option_table();
const char* init_name(ClusterInit init);

// One codebook fitted to `values` (in any order).
//  - When some value is exactly 0, centroid 0 is fixed at 0.0: it never moves and every exact
//    zero is assigned to it (a nonzero value may be assigned to it too when it is nearest);
//    the other k - 1 centroids are fit to the nonzero values only.
//  - Free centroids start from `init` over the nonzero values (kmeans++ draws from `rng` only)
//    and are kept sorted ascending by value (indices 1.. when zero is fixed, else 0..).
//  - Lloyd: assign each value to its nearest centroid (ties: the lower index), move each free
//    centroid to the mean of its values (an empty one stays), up to `iterations` times; stops
//    early when no assignment changes.
// Arithmetic in double, serial, in a fixed order: the result depends on the inputs and rng only.
struct Codebook {
  std::vector<double> centroids;  // k entries
  std::vector<uint8_t> assign;    // one per value, in the order of `values`
  bool zero_fixed = false;        // centroid 0 is the fixed 0.0
  double init_sse = 0;            // sum of squared errors with the initial centroids (assigned)
  double sse = 0;                 // the same after Lloyd
  int64_t iterations_run = 0;
};
Codebook fit_codebook(const std::vector<float>& values, int k, ClusterInit init, int64_t iterations,
                      std::mt19937_64& rng);

// A layer the rewrite applies to.
// The input side (index into graph.nodes, activation input, cols) is the shared LayerInput.
struct Layer : passes_detail::LayerInput {
  std::string op;          // "Conv", "Gemm", "MatMul"
  std::string weight;      // f32 initializer (input 1), used by this node only
  bool kn = false;         // storage [cols, rows] (MatMul, Gemm transB=0); else [rows, cols]
  int64_t rows = 0;
  bool refit_ok = false;   // refit can observe rows of the input [.., cols] (MatMul, Gemm transA=0)
};

// The weight as row-major [rows, cols], and the flat storage offset of element (r, c).
std::vector<float> weight_rows(const Tensor& w, const Layer& l);
inline int64_t storage_offset(const Layer& l, int64_t r, int64_t c) { return l.kn ? c * l.rows + r : r * l.cols + c; }

// Sum of x x^T ([cols, cols], row-major, full) over the rows of each layer's input on
// ctx.calibration()'s batches (a [.., cols] activation gives one row per leading index), from
// one run of `model`, through passes_detail::collect_layer_stats (its errors, "cluster:" first;
// kInvalidArgument without data). Deterministic for any thread count.
Status collect_grams(const Model& model, PassContext& ctx, const ClusterOptions& o, const std::vector<Layer>& layers,
                     std::vector<std::vector<double>>& grams);

// Least-squares refit of the free centroids of codebook `cb` covering rows [row_begin, row_end)
// of `w` ([rows, cols] row-major; `assign` indexed like `w`): minimises
// sum_r (w_r(c) - w_r)^T H (w_r(c) - w_r) over the free centroid values c, where w_r(c)[j] is the
// centroid assigned to (r, j). Normal equations M c = b with M[k,l] = sum_r sum_{j:a=k, j':a=l}
// H[j,j'], solved with a small ridge toward the current centroids (so clusters the data cannot
// see keep their k-means values). The fixed zero centroid stays 0. Returns the number of
// centroids changed; `centroids` updated in place.
int refit_codebook(const std::vector<float>& w, const std::vector<uint8_t>& assign, int64_t cols, int64_t row_begin,
                   int64_t row_end, const std::vector<double>& gram, bool zero_fixed, int num_threads,
                   std::vector<double>& centroids);

}  // namespace bitsmith::cluster_detail
