// prune: SparseGPT (Frantar & Alistarh, "SparseGPT: Massive Language Models Can Be Accurately
// Pruned in One-Shot", 2023), Algorithm 1, for one weight W [rows, cols] (see prune_impl.h).
//
// With H = X^T X + lambda I (X the layer's input rows; the paper's factor 2 cancels), the
// optimal update of the unpruned weights of a row after zeroing weight j is
//   w_k -= (w_j / [H^-1]_jj) [H^-1]_jk    for the columns k after j,
// and the columns are processed in order, H^-1 restricted to the remaining columns each time;
// those restricted inverses are rows of U, the upper Cholesky factor of H^-1 (H^-1 = U^T U), so
// [H_F^-1]_jj = U_jj^2 and the update uses U_jk / U_jj. Columns go in blocks of block_size: the
// mask of a block is chosen at its start from scores w^2 / U_jj^2 (for N:M at the start of each
// m-group), the updates inside a block are applied at once per column, and the block's
// accumulated errors reach the later columns in one product. Arithmetic in double.
// Eigen's own threading is off (EIGEN_DONT_PARALLELIZE, set for the whole library in
// CMakeLists.txt); the rows run in parallel with OpenMP instead.
#include <Eigen/Cholesky>
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "passes/prune_impl.h"

namespace bitsmith::prune_detail {

namespace {

using MatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The k lowest of scores (ties: lower index), as flags.
void lowest(const std::vector<double>& scores, int64_t k, std::vector<char>& flags) {
  const auto n = static_cast<int64_t>(scores.size());
  flags.assign(scores.size(), 0);
  if (k <= 0) return;
  std::vector<int64_t> idx(scores.size());
  for (int64_t i = 0; i < n; ++i) idx[i] = i;
  auto less = [&](int64_t a, int64_t b) { return scores[a] < scores[b] || (scores[a] == scores[b] && a < b); };
  if (k < n) std::nth_element(idx.begin(), idx.begin() + (k - 1), idx.end(), less);
  for (int64_t i = 0; i < std::min(k, n); ++i) flags[idx[i]] = 1;
}

}  // namespace

Status sparsegpt(std::vector<float>& w, int64_t rows, int64_t cols, std::vector<double> gram, const PruneOptions& o,
                 double sparsity, int num_threads, double& damping_used) {
  const auto n = static_cast<Eigen::Index>(cols);
  MatrixD h(n, n);
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = i; j < cols; ++j) h(i, j) = h(j, i) = gram[i * cols + j];
  gram.clear();
  MatrixD wd(rows, n);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) wd(r, c) = w[r * cols + c];
  // Inputs never seen: their weights contribute nothing, zero them (H_jj = 1 keeps H invertible).
  for (int64_t j = 0; j < cols; ++j)
    if (h(j, j) == 0) {
      h(j, j) = 1;
      wd.col(j).setZero();
    }
  const double mean_diag = h.diagonal().mean();
  // U: upper Cholesky factor of H^-1. Damping grows x10 when H (or H^-1) is not positive definite.
  MatrixD u;
  double damp = o.damping;
  for (int attempt = 0;; ++attempt) {
    MatrixD hd = h;
    hd.diagonal().array() += damp * mean_diag;
    Eigen::LLT<MatrixD> llt(hd);
    if (llt.info() == Eigen::Success) {
      MatrixD hinv = llt.solve(MatrixD::Identity(n, n));
      hinv = (hinv + hinv.transpose()) * 0.5;
      Eigen::LLT<MatrixD> llt2(hinv);
      if (llt2.info() == Eigen::Success) {
        u = llt2.matrixU();
        break;
      }
    }
    if (attempt == 6)
      return data_error("sparsegpt: the input Hessian is not positive definite even with damping " +
                                 std::to_string(damp));
    damp = damp > 0 ? damp * 10 : 1e-6;
  }
  damping_used = damp;

  const int64_t bs = o.block_size;
  const bool nm = o.pattern == PrunePattern::kNM;
  std::vector<char> mask;  // [rows, count] of the current block (unstructured)
  for (int64_t i1 = 0; i1 < cols; i1 += bs) {
    const int64_t i2 = std::min(cols, i1 + bs), count = i2 - i1;
    if (!nm) {
      std::vector<double> scores(static_cast<size_t>(rows * count));
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < count; ++i) {
          const double d = u(i1 + i, i1 + i);
          scores[r * count + i] = wd(r, i1 + i) * wd(r, i1 + i) / (d * d);
        }
      lowest(scores, prune_count(sparsity, rows * count), mask);
    }
    const bool parallel = rows * count * cols >= (int64_t{1} << 18);  // else not worth waking threads
#pragma omp parallel for num_threads(num_threads) schedule(static) if (parallel)
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<double> err(static_cast<size_t>(count));
      std::vector<char> group;
      std::vector<double> gscores;
      for (int64_t i = 0; i < count; ++i) {
        const int64_t j = i1 + i;
        bool zero = false;
        if (nm) {
          if (i % o.m == 0) {
            gscores.assign(static_cast<size_t>(o.m), 0.0);
            for (int64_t t = 0; t < o.m; ++t) {
              const double d = u(j + t, j + t);
              gscores[t] = wd(r, j + t) * wd(r, j + t) / (d * d);
            }
            lowest(gscores, o.m - o.n, group);
          }
          zero = group[i % o.m] != 0;
        } else {
          zero = mask[r * count + i] != 0;
        }
        const double wv = wd(r, j), q = zero ? 0.0 : wv;
        const double e = (wv - q) / u(j, j);
        for (int64_t k = j + 1; k < i2; ++k) wd(r, k) -= e * u(j, k);
        wd(r, j) = q;
        err[i] = e;
      }
      for (int64_t k = i2; k < cols; ++k) {  // the block's errors reach the later columns
        double s = 0;
        for (int64_t i = 0; i < count; ++i) s += err[i] * u(i1 + i, k);
        wd(r, k) -= s;
      }
    }
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) w[r * cols + c] = static_cast<float>(wd(r, c));
  return Status::ok();
}

}  // namespace bitsmith::prune_detail
