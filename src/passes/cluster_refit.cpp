// cluster: least-squares refit of centroid values on calibration outputs (cluster_impl.h):
// input Gram matrices H = sum x x^T of the layers from ctx.calibration(), and the K x K normal
// equations of one codebook given its assignments.
#include <omp.h>

#include <Eigen/Dense>
#include <cmath>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "bitsmith/runtime/executor.h"
#include "passes/cluster_impl.h"

namespace bitsmith::cluster_detail {

namespace {

int threads_of(int requested) { return requested > 0 ? requested : omp_get_max_threads(); }

// gram += sum over the rows of x ([count, cols] f32) of x x^T; row i of gram owned by one thread,
// rows of x summed in order, so the sums are the same for any thread count.
void accumulate(const float* x, int64_t count, int64_t cols, int num_threads, std::vector<double>& gram) {
#pragma omp parallel for num_threads(num_threads) schedule(static)
  for (int64_t i = 0; i < cols; ++i) {
    double* g = gram.data() + i * cols;
    for (int64_t r = 0; r < count; ++r) {
      const float* row = x + r * cols;
      const double xi = row[i];
      if (xi == 0) continue;
      for (int64_t j = 0; j < cols; ++j) g[j] += xi * static_cast<double>(row[j]);
    }
  }
}

}  // namespace

Status collect_grams(const Model& model, PassContext& ctx, const ClusterOptions& o, const std::vector<Layer>& layers,
                     std::vector<std::vector<double>>& grams) {
  if (!ctx.calibration())
    return invalid_argument(
        "cluster: option refit needs calibration data (the layers' input activations); give calibration data (a "
        "recipe's calibration.data) or set refit to false");
  ExecutorOptions eo;
  eo.num_threads = ctx.num_threads();
  eo.dynamic_batch = true;
  BS_ASSIGN_OR_RETURN(std::unique_ptr<Executor> exec, Executor::create(model, eo));
  std::unordered_set<std::string> graph_inputs;
  for (const ValueInfo& vi : exec->inputs()) graph_inputs.insert(vi.name);
  std::unordered_multimap<std::string, size_t> by_input;  // value -> layers reading it
  grams.assign(layers.size(), {});
  std::vector<int64_t> samples(layers.size(), 0);
  for (size_t i = 0; i < layers.size(); ++i) {
    by_input.emplace(layers[i].input, i);
    grams[i].assign(static_cast<size_t>(layers[i].cols * layers[i].cols), 0.0);
  }
  const int threads = threads_of(ctx.num_threads());
  auto watch = [&](const std::string& name, const Tensor& t) -> Status {
    auto [lo, hi] = by_input.equal_range(name);
    for (auto it = lo; it != hi; ++it) {
      const Layer& l = layers[it->second];
      const Node& node = model.graph.nodes[l.index];
      if (t.dtype() != DType::kF32)
        return unsupported("cluster: input '" + name + "' of " + node.describe() + " is " +
                           std::string(dtype_name(t.dtype())) + "; refit needs f32 activations");
      if (t.rank() < 1 || t.dim(-1) != l.cols)
        return data_error("cluster: input '" + name + "' of " + node.describe() + " has shape " + shape_str(t.shape()) +
                          ", expected its last dim to be " + std::to_string(l.cols));
      const int64_t count = t.numel() / l.cols;
      accumulate(t.data<float>(), count, l.cols, threads, grams[it->second]);
      samples[it->second] += count;
    }
    return Status::ok();
  };
  int64_t batch_index = 0, used = 0;
  Status s = ctx.calibration()([&](const NamedTensors& batch) -> Status {
    const int64_t k = batch_index++;
    if (o.calibration_batches > 0 && used >= o.calibration_batches) return Status::ok();
    for (const auto& [name, t] : batch) {
      if (!graph_inputs.count(name))
        return data_error("cluster: calibration batch " + std::to_string(k) + " feeds '" + name +
                          "', which is not an input of the model");
      BS_TRY(watch(name, t));
    }
    Expected<std::vector<Tensor>> out =
        exec->run_observed(batch, [&](const Node&, const std::string& name, const Tensor& t) { return watch(name, t); });
    if (!out) return out.status().with_context("cluster: calibration batch " + std::to_string(k));
    ++used;
    return Status::ok();
  });
  BS_TRY(s);
  if (used == 0) return data_error("cluster: the calibration data is empty (no batches)");
  for (size_t i = 0; i < layers.size(); ++i)
    if (samples[i] == 0)
      return data_error("cluster: input '" + layers[i].input + "' of " + model.graph.nodes[layers[i].index].describe() +
                        " was never computed on the calibration data");
  ctx.record().counters["calibration_batches"] = used;
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
