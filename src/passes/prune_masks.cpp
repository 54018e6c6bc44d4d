// prune: weight matrices and score-based masks (magnitude, wanda), N:M groups and the global
// magnitude threshold (see prune_impl.h). Selection is by (score, index), a strict total order,
// so the zeroed set never depends on the sort's implementation or the thread count.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "passes/prune_impl.h"

namespace bitsmith::prune_detail {

std::vector<float> weight_rows(const Tensor& w, const Layer& l) {
  const float* src = w.data<float>();
  std::vector<float> out(static_cast<size_t>(l.rows * l.cols));
  if (!l.kn) {
    std::copy(src, src + out.size(), out.begin());
    return out;
  }
  for (int64_t c = 0; c < l.cols; ++c)  // storage [cols, rows]
    for (int64_t r = 0; r < l.rows; ++r) out[r * l.cols + c] = src[c * l.rows + r];
  return out;
}

Tensor weight_from_rows(const std::vector<float>& rows, const Tensor& like, const Layer& l) {
  Tensor out(DType::kF32, like.shape(), like.name());
  float* dst = out.mutable_data<float>();
  if (!l.kn) {
    std::copy(rows.begin(), rows.end(), dst);
    return out;
  }
  for (int64_t c = 0; c < l.cols; ++c)
    for (int64_t r = 0; r < l.rows; ++r) dst[c * l.rows + r] = rows[r * l.cols + c];
  return out;
}

namespace {

// Zeroes the `k` entries of w[begin + i * stride], i < count, with the lowest score(i)
// (ties: lower i first).
template <class Score>
void zero_lowest(std::vector<float>& w, int64_t begin, int64_t stride, int64_t count, int64_t k, Score score,
                 std::vector<std::pair<double, int64_t>>& scratch) {
  if (k <= 0) return;
  scratch.resize(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) scratch[i] = {score(i), i};
  if (k < count) std::nth_element(scratch.begin(), scratch.begin() + (k - 1), scratch.end());
  for (int64_t i = 0; i < std::min(k, count); ++i) w[begin + scratch[i].second * stride] = 0.f;
}

}  // namespace

void prune_by_score(std::vector<float>& w, int64_t rows, int64_t cols, const std::vector<double>& sumsq,
                    const PruneOptions& o, double sparsity) {
  std::vector<double> norm(static_cast<size_t>(cols), 1.0);
  if (!sumsq.empty())
    for (int64_t c = 0; c < cols; ++c) norm[c] = std::sqrt(sumsq[c]);
  std::vector<std::pair<double, int64_t>> scratch;
  auto score_at = [&](int64_t flat) { return std::fabs(static_cast<double>(w[flat])) * norm[flat % cols]; };
  if (o.pattern == PrunePattern::kNM) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t g = 0; g + o.m <= cols; g += o.m) {
        const int64_t begin = r * cols + g;
        zero_lowest(w, begin, 1, o.m, o.m - o.n, [&](int64_t i) { return score_at(begin + i); }, scratch);
      }
    return;
  }
  if (o.method == PruneMethod::kMagnitude) {  // one group: the layer
    const int64_t numel = rows * cols;
    const int64_t k = prune_count(sparsity, numel);
    zero_lowest(w, 0, 1, numel, k, score_at, scratch);
    return;
  }
  const int64_t k = prune_count(sparsity, cols);  // wanda: per row
  for (int64_t r = 0; r < rows; ++r)
    zero_lowest(w, r * cols, 1, cols, k, [&](int64_t i) { return score_at(r * cols + i); }, scratch);
}

std::vector<double> global_sparsities(const std::vector<std::vector<float>>& weights, double sparsity) {
  int64_t total = 0;
  for (const auto& w : weights) total += static_cast<int64_t>(w.size());
  const int64_t k = prune_count(sparsity, total);
  std::vector<double> out(weights.size(), 0.0);
  if (k <= 0 || total == 0) return out;
  std::vector<float> mags;
  mags.reserve(static_cast<size_t>(total));
  for (const auto& w : weights)
    for (float v : w) mags.push_back(std::fabs(v));
  std::nth_element(mags.begin(), mags.begin() + (k - 1), mags.end());
  const float t = mags[k - 1];  // the k-th smallest magnitude
  // Everything below t is zeroed; the remaining quota goes to entries equal to t in
  // (layer, index) order.
  int64_t below = 0;
  for (const auto& w : weights)
    for (float v : w) below += std::fabs(v) < t;
  int64_t ties = k - below;
  for (size_t l = 0; l < weights.size(); ++l) {
    int64_t count = 0;
    for (float v : weights[l]) {
      const float a = std::fabs(v);
      if (a < t) ++count;
      else if (a == t && ties > 0) ++count, --ties;
    }
    out[l] = static_cast<double>(count) / static_cast<double>(weights[l].size());
  }
  return out;
}

}  // namespace bitsmith::prune_detail
