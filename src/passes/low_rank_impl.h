// Internals of the `low-rank` pass (src/passes/low_rank*.cpp), shared by its files:
//   low_rank.cpp       options, validation, matching ("does it apply?"), the driver, records
//   low_rank_svd.cpp   the maths: SVD (plain or whitened by the input covariance), rank selection
//   low_rank_graph.cpp the factor tensors and the two nodes replacing a layer
//
// Every factorized weight is seen as a matrix M [m, n] with y = x M (x a row of the layer's
// input, y a row of its output), factored as M ~ A B with A [m, r], B [r, n]:
//   MatMul W[K, N]             M = W                         m = K, n = N
//   Gemm   W[K, N] (transB=0)  M = alpha W;  W[N, K] (transB=1): M = alpha W^T
//   Conv   W[O, C, kh, kw] (group 1, 2-D)  M[(c, i), (o, j)] = W[o, c, i, j]   m = C kh, n = O kw
//          (1x1: M[c, o] = W[o, c]); A becomes a kh x 1 Conv with r outputs (the vertical part
//          of the kernel), B a 1 x kw Conv with O outputs (the horizontal part): Tai et al.,
//          "Convolutional neural networks with low-rank regularization", ICLR 2016.
// The factorization only applies when r (m + n) < m n (fewer parameters).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bitsmith/core/status.h"
#include "bitsmith/ir/graph.h"
#include "bitsmith/passes/options.h"
#include "bitsmith/passes/pass.h"
#include "passes/graph_util.h"
#include "passes/layer_stats.h"

namespace bitsmith::low_rank_detail {

enum class RankBy { kEnergy, kRatio, kError, kFixed };
enum class ConvMode { kNone, kPointwise, kSpatial, kBoth };

struct LowRankOptions {
  RankBy rank_by = RankBy::kEnergy;
  double energy = 0.95;             // energy: fraction of sum s_k^2 kept, in (0, 1]
  double ratio = 0.5;               // ratio: rank = ceil(ratio * min(m, n)), in (0, 1]
  double max_error = 0.1;           // error: relative Frobenius error allowed per layer, in [0, 1)
  std::optional<int64_t> rank;      // fixed: the rank of every layer (required by rank_by fixed)
  bool activation_aware = false;    // whiten with the input covariance (needs calibration data)
  double damping = 0.01;            // activation-aware: fraction of mean diag(X^T X) added to it
  ConvMode conv = ConvMode::kBoth;  // which Convs: none, pointwise (1x1), spatial (others), both
  int64_t calibration_batches = 0;  // activation-aware: batches used (0: all)
  std::vector<std::string> ops = {"Conv", "Gemm", "MatMul"};
};

const OptionTable<LowRankOptions>& low_rank_option_table();
const char* rank_by_name(RankBy r);

// A layer the rewrite applies to (before its rank is chosen).
struct Layer {
  size_t index = 0;       // into graph.nodes (sorted topologically)
  std::string op;         // "Conv", "Gemm", "MatMul"
  std::string weight;     // f32 initializer (input 1)
  int64_t m = 0, n = 0;   // M [m, n], see the top of this file
  double alpha = 1.0;     // Gemm: folded into M
  bool trans_b = false;   // Gemm transB=1: W stored [N, K]
  // Conv: W [out_ch, in_ch, kh, kw] and its attributes (explicit pads [top, left, bottom, right]).
  int64_t out_ch = 0, in_ch = 0, kh = 1, kw = 1;
  std::vector<int64_t> strides{1, 1}, dilations{1, 1}, pads{0, 0, 0, 0};
  passes_detail::LayerInput stats_input;  // rows of the input for activation-aware (cols = K)
  bool whiten = false;    // activation-aware applies (MatMul, Gemm, 1x1 Conv)
};

// The weight as M (row-major [m, n], alpha folded in), and M back in the weight's layout.
std::vector<double> weight_matrix(const Tensor& w, const Layer& l);
Tensor tensor_from_matrix(const std::vector<double>& mat, const Tensor& like, const Layer& l);

// Rank for the spectrum `s` (descending, min(m, n) values) by o.rank_by (not kFixed): the
// smallest r >= 1 with sum_{k<r} s_k^2 >= energy * sum s^2 (energy), ceil(ratio * size) (ratio),
// sqrt(sum_{k>=r} s_k^2 / sum s^2) <= max_error (error). A zero spectrum gives 1.
int64_t select_rank(const std::vector<double>& s, const LowRankOptions& o);

// M = left diag(s) vt: the SVD of M ([m, n] row-major) in double (Eigen BDCSVD), or with `gram`
// (upper triangle of X^T X, [m, m]) the SVD-LLM whitening: C = X^T X + damping mean(diag) I =
// L L^T (damping raised x10 until C is positive definite), SVD of L^T M = U S V^T, left = L^-T U,
// so s measures the output error: ||X (M - A B)|| ~ ||L^T (M - A B)|| = sqrt(sum_{k>=r} s_k^2).
// Without gram (or when diag(X^T X) is all zero: no signal ever reached the layer, whitened
// false), left = U.
struct Decomposition {
  int64_t m = 0, n = 0, p = 0;  // p = min(m, n)
  std::vector<double> left;     // [m, p]
  std::vector<double> s;        // [p], descending
  std::vector<double> vt;       // [p, n]
  bool whitened = false;
  double damping = 0;           // whitened: damping finally used
};
// Errors: kInternal when no damping up to 1e6 x mean(diag) makes C positive definite.
Status decompose(const std::vector<double>& mat, int64_t m, int64_t n, const std::vector<double>* gram, double damping,
                 Decomposition& out);

// A = left_r S_r^1/2 ([m, r]), B = S_r^1/2 vt_r ([r, n]), row-major.
struct Factors {
  int64_t rank = 0;
  std::vector<double> a, b;
};
Factors truncate(const Decomposition& d, int64_t r);

// A B ([m, n] row-major).
std::vector<double> product(const Factors& f, int64_t m, int64_t n);

// Rewrites node l.index of `g` into the two factor nodes (the second produces the original
// output) and adds the factor initializers (names from `names`).
// Does not remove the old weight or touch other nodes. Node indices after l.index shift by one.
struct Replacement {
  std::string a_name, b_name;  // factor initializers
  int64_t bytes = 0;           // their storage bytes
};
Replacement replace_with_factors(Graph& g, const Layer& l, const Factors& f, passes_detail::NameAllocator& names);

}  // namespace bitsmith::low_rank_detail
