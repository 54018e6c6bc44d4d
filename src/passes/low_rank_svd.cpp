// low-rank: the maths (see low_rank_impl.h): SVD of a weight matrix, plain or whitened by the
// covariance of the layer's input (Wang et al., "SVD-LLM: Truncation-aware Singular Value
// Decomposition for Large Language Model Compression", 2024), and rank selection.
// Arithmetic in double; Eigen's own threading is off for the whole library (CMakeLists.txt), so
// results are the same for any thread count.
#include <Eigen/Cholesky>
#include <Eigen/Dense>
#include <Eigen/SVD>
#include <algorithm>
#include <cmath>

#include "passes/low_rank_impl.h"

namespace bitsmith::low_rank_detail {

namespace {

using MatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

MatrixD to_eigen(const std::vector<double>& v, int64_t rows, int64_t cols) {
  return Eigen::Map<const MatrixD>(v.data(), rows, cols);
}

std::vector<double> to_vector(const MatrixD& m) { return std::vector<double>(m.data(), m.data() + m.size()); }

}  // namespace

int64_t select_rank(const std::vector<double>& s, const LowRankOptions& o) {
  const auto p = static_cast<int64_t>(s.size());
  if (o.rank_by == RankBy::kFixed) return o.rank.value_or(1);
  if (o.rank_by == RankBy::kRatio)
    return std::clamp<int64_t>(static_cast<int64_t>(std::ceil(o.ratio * static_cast<double>(p) - 1e-9)), 1, p);
  double total = 0;
  for (double v : s) total += v * v;
  if (!(total > 0)) return 1;
  // tail[r] = sum_{k>=r} s_k^2, summed from the smallest up (as the test's spectrum would be).
  std::vector<double> tail(static_cast<size_t>(p) + 1, 0.0);
  for (int64_t k = p - 1; k >= 0; --k) tail[k] = tail[k + 1] + s[k] * s[k];
  for (int64_t r = 1; r < p; ++r) {
    const double kept = (total - tail[r]) / total;
    if (o.rank_by == RankBy::kEnergy && kept >= o.energy) return r;
    if (o.rank_by == RankBy::kError && std::sqrt(tail[r] / total) <= o.max_error) return r;
  }
  return p;
}

Status decompose(const std::vector<double>& mat, int64_t m, int64_t n, const std::vector<double>* gram, double damping,
                 Decomposition& out) {
  out = Decomposition{};
  out.m = m, out.n = n, out.p = std::min(m, n);
  MatrixD w = to_eigen(mat, m, n);
  std::optional<Eigen::LLT<MatrixD>> llt;
  if (gram) {
    MatrixD c(m, m);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = i; j < m; ++j) c(i, j) = c(j, i) = (*gram)[i * m + j];
    const double mean_diag = c.diagonal().mean();
    if (mean_diag > 0) {
      for (double d = damping; !llt; d = d > 0 ? d * 10 : 1e-6) {
        if (d > 1e6)
          return internal_error("low-rank: the input covariance is not positive definite even with damping " +
                                std::to_string(d / 10) + " x its mean diagonal");
        MatrixD cd = c;
        cd.diagonal().array() += d * mean_diag;
        Eigen::LLT<MatrixD> f(cd);
        if (f.info() == Eigen::Success) {
          llt.emplace(std::move(f));
          out.damping = d;
        }
      }
      w = llt->matrixU() * w;  // L^T M
      out.whitened = true;
    }
  }
  Eigen::BDCSVD<MatrixD> svd(w, Eigen::ComputeThinU | Eigen::ComputeThinV);
  MatrixD left = svd.matrixU();
  if (llt) left = llt->matrixU().solve(left);  // L^-T U
  out.left = to_vector(left);
  out.s.assign(svd.singularValues().data(), svd.singularValues().data() + out.p);
  out.vt = to_vector(svd.matrixV().transpose());
  return Status::ok();
}

Factors truncate(const Decomposition& d, int64_t r) {
  Factors f;
  f.rank = r;
  f.a.assign(static_cast<size_t>(d.m * r), 0.0);
  f.b.assign(static_cast<size_t>(r * d.n), 0.0);
  for (int64_t k = 0; k < r; ++k) {
    const double h = std::sqrt(d.s[k]);
    for (int64_t i = 0; i < d.m; ++i) f.a[i * r + k] = d.left[i * d.p + k] * h;
    for (int64_t j = 0; j < d.n; ++j) f.b[k * d.n + j] = d.vt[k * d.n + j] * h;
  }
  return f;
}

std::vector<double> product(const Factors& f, int64_t m, int64_t n) {
  std::vector<double> out(static_cast<size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t k = 0; k < f.rank; ++k) {
      const double a = f.a[i * f.rank + k];
      for (int64_t j = 0; j < n; ++j) out[i * n + j] += a * f.b[k * n + j];
    }
  return out;
}

}  // namespace bitsmith::low_rank_detail
