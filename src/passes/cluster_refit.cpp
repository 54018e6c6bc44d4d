// cluster: least-squares refit of centroid values on calibration outputs (cluster_impl.h):
// input Gram matrices H = sum x x^T of the layers from ctx.calibration() (through the collector
// shared with prune and low-rank, passes/layer_stats.h), and the K x K normal equations of one
// codebook given its assignments.
#include <omp.h>

#include <Eigen/Dense>
#include <cmath>
#include "passes/cluster_impl.h"

namespace bitsmith::cluster_detail {

namespace {

int threads_of(int requested) { return requested > 0 ? requested : omp_get_max_threads(); }

}  // namespace

Status collect_grams(const Model& model, PassContext& ctx, const ClusterOptions& o, const std::vector<Layer>& layers,
                     std::vector<std::vector<double>>& grams) {
  passes_detail::StatsRequest req;
  req.who = "cluster";
  req.need = "refit";
  req.no_data =
      "cluster: option refit needs calibration data (the layers' input activations); give calibration data (a "
      "recipe's calibration.data) or set refit to false";
  req.max_batches = o.calibration_batches;
  req.full = true;
  std::vector<passes_detail::LayerStats> stats;
  BS_TRY(passes_detail::collect_layer_stats(
      model, ctx, std::vector<passes_detail::LayerInput>(layers.begin(), layers.end()), req, stats));
  // The collector fills the upper triangle; the refit reads whole rows of H.
  grams.resize(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    const int64_t n = layers[i].cols;
    grams[i] = std::move(stats[i].gram);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = r + 1; c < n; ++c) grams[i][c * n + r] = grams[i][r * n + c];
  }
  return Status::ok();
}

int refit_codebook(const std::vector<float>& w, const std::vector<uint8_t>& assign, int64_t cols, int64_t row_begin,
                   int64_t row_end, const std::vector<double>& gram, bool zero_fixed, int num_threads,
                   std::vector<double>& centroids) {
  const int k = static_cast<int>(centroids.size());
  const int first = zero_fixed ? 1 : 0;
  const int nfree = k - first;
  if (nfree <= 0) return 0;
  Eigen::MatrixXd m = Eigen::MatrixXd::Zero(nfree, nfree);
  Eigen::VectorXd b = Eigen::VectorXd::Zero(nfree);
  // Per row r: bh[j][l] = sum_{j': a(r,j') = l} H[j, j'], hw[j] = sum_j' H[j, j'] w[r, j'];
  // then M[a(r,j)][l] += bh[j][l] and b[a(r,j)] += hw[j] for the free a(r,j).
  std::vector<double> bh(static_cast<size_t>(cols * k)), hw(static_cast<size_t>(cols));
  const int threads = threads_of(num_threads);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* wr = w.data() + r * cols;
    const uint8_t* ar = assign.data() + r * cols;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t j = 0; j < cols; ++j) {
      double* row = bh.data() + j * k;
      std::fill(row, row + k, 0.0);
      const double* h = gram.data() + j * cols;
      double s = 0;
      for (int64_t jj = 0; jj < cols; ++jj) {
        row[ar[jj]] += h[jj];
        s += h[jj] * static_cast<double>(wr[jj]);
      }
      hw[static_cast<size_t>(j)] = s;
    }
    for (int64_t j = 0; j < cols; ++j) {
      const int a = ar[j];
      if (a < first) continue;
      for (int l = first; l < k; ++l) m(a - first, l - first) += bh[static_cast<size_t>(j * k + l)];
      b(a - first) += hw[static_cast<size_t>(j)];
    }
  }
  const double trace = m.trace();
  if (!(trace > 0) || !std::isfinite(trace)) return 0;  // no signal reaches these weights
  // Ridge toward the current centroids: (M + lambda I) c = b + lambda c0.
  const double lambda = 1e-6 * trace / nfree;
  Eigen::VectorXd c0(nfree);
  for (int i = 0; i < nfree; ++i) c0(i) = centroids[static_cast<size_t>(first + i)];
  m.diagonal().array() += lambda;
  const Eigen::VectorXd c = m.ldlt().solve(b + lambda * c0);
  if (!c.allFinite()) return 0;
  int changed = 0;
  for (int i = 0; i < nfree; ++i) {
    changed += c(i) != c0(i);
    centroids[static_cast<size_t>(first + i)] = c(i);
  }
  return changed;
}

}  // namespace bitsmith::cluster_detail
