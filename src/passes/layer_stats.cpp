// Input statistics of weighted layers (see layer_stats.h).
#include "passes/layer_stats.h"

#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "bitsmith/runtime/executor.h"

namespace bitsmith::passes_detail {

namespace {

// Rows of `l`'s input `x` as a [count, l.cols] double matrix; error naming the layer when the
// shape does not fit.
Status input_rows(const LayerInput& l, const Node& node, const Tensor& x, const StatsRequest& req,
                  std::vector<double>& out, int64_t& count) {
  auto bad = [&](const std::string& what) {
    return data_error(req.who + ": input '" + l.input + "' of " + node.describe() + " has shape " +
                      shape_str(x.shape()) + ", " + what);
  };
  if (!l.conv) {
    if (x.rank() < 1 || x.dim(-1) != l.cols) return bad("expected its last dim to be " + std::to_string(l.cols));
    count = x.numel() / l.cols;
    out.assign(x.data<float>(), x.data<float>() + x.numel());
    return Status::ok();
  }
  if (x.rank() != 4 || x.dim(1) != l.channels)
    return bad("expected [N, " + std::to_string(l.channels) + ", H, W]");
  const int64_t nb = x.dim(0), hh = x.dim(2), ww = x.dim(3);
  const int64_t oh = (hh + l.pad_top + l.pad_bottom - l.dil_h * (l.kh - 1) - 1) / l.stride_h + 1;
  const int64_t ow = (ww + l.pad_left + l.pad_right - l.dil_w * (l.kw - 1) - 1) / l.stride_w + 1;
  if (oh <= 0 || ow <= 0) return bad("smaller than the kernel");
  count = nb * oh * ow;
  out.assign(static_cast<size_t>(count * l.cols), 0.0);
  const float* src = x.data<float>();
  int64_t row = 0;
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t xo = 0; xo < ow; ++xo, ++row) {
        double* dst = out.data() + row * l.cols;
        for (int64_t c = 0; c < l.channels; ++c)
          for (int64_t a = 0; a < l.kh; ++a) {
            const int64_t iy = y * l.stride_h - l.pad_top + a * l.dil_h;
            if (iy < 0 || iy >= hh) continue;
            for (int64_t e = 0; e < l.kw; ++e) {
              const int64_t ix = xo * l.stride_w - l.pad_left + e * l.dil_w;
              if (ix < 0 || ix >= ww) continue;
              dst[(c * l.kh + a) * l.kw + e] = src[((b * l.channels + c) * hh + iy) * ww + ix];
            }
          }
      }
  return Status::ok();
}

void accumulate(const std::vector<double>& rows, int64_t count, int64_t cols, bool full, int num_threads,
                LayerStats& s) {
  s.samples += count;
  const bool parallel = count * cols * (full ? cols : 1) >= (int64_t{1} << 18);  // else not worth waking threads
#pragma omp parallel for num_threads(num_threads) schedule(static) if (parallel)
  for (int64_t i = 0; i < cols; ++i) {
    double sq = s.sumsq[i];
    for (int64_t r = 0; r < count; ++r) sq += rows[r * cols + i] * rows[r * cols + i];
    s.sumsq[i] = sq;
    if (!full) continue;
    double* g = s.gram.data() + i * cols;
    for (int64_t r = 0; r < count; ++r) {
      const double* x = rows.data() + r * cols;
      const double xi = x[i];
      if (xi == 0) continue;
      for (int64_t j = i; j < cols; ++j) g[j] += xi * x[j];
    }
  }
}

}  // namespace

std::string conv_input_geometry(const Node& node, const Tensor& w, LayerInput& l) {
  if (node.attr_int("group", 1) != 1) return "group " + std::to_string(node.attr_int("group", 1)) + " (only group 1)";
  if (w.rank() != 4) return "weight has rank " + std::to_string(w.rank()) + " (only 2-D Conv)";
  const std::string pad = node.attr_string("auto_pad", "NOTSET");
  if (pad != "NOTSET" && pad != "VALID") return "auto_pad " + pad + " (only NOTSET or VALID)";
  const std::vector<int64_t> strides = node.attr_ints("strides", {1, 1});
  const std::vector<int64_t> dil = node.attr_ints("dilations", {1, 1});
  const std::vector<int64_t> pads = pad == "VALID" ? std::vector<int64_t>{0, 0, 0, 0} : node.attr_ints("pads", {0, 0, 0, 0});
  if (strides.size() != 2 || dil.size() != 2 || pads.size() != 4) return "strides/dilations/pads do not fit a 2-D Conv";
  l.conv = true;
  l.channels = w.dim(1);
  l.kh = w.dim(2);
  l.kw = w.dim(3);
  l.stride_h = strides[0], l.stride_w = strides[1], l.dil_h = dil[0], l.dil_w = dil[1];
  l.pad_top = pads[0], l.pad_left = pads[1], l.pad_bottom = pads[2], l.pad_right = pads[3];
  return "";
}

Status collect_layer_stats(const Model& model, PassContext& ctx, const std::vector<LayerInput>& layers,
                           const StatsRequest& req, std::vector<LayerStats>& stats) {
  if (!ctx.calibration()) return invalid_argument(req.no_data);
  ExecutorOptions eo;
  eo.num_threads = ctx.num_threads();
  eo.dynamic_batch = true;
  eo.fuse_float = false;  // observe every activation (fused chains would hide their inner values)
  BS_ASSIGN_OR_RETURN(std::unique_ptr<Executor> exec, Executor::create(model, eo));
  std::unordered_set<std::string> graph_inputs;
  for (const ValueInfo& vi : exec->inputs()) graph_inputs.insert(vi.name);
  std::unordered_multimap<std::string, size_t> by_input;  // value -> layers reading it
  stats.assign(layers.size(), LayerStats{});
  for (size_t i = 0; i < layers.size(); ++i) {
    by_input.emplace(layers[i].input, i);
    stats[i].sumsq.assign(static_cast<size_t>(layers[i].cols), 0.0);
    if (req.full) stats[i].gram.assign(static_cast<size_t>(layers[i].cols * layers[i].cols), 0.0);
  }
  const int threads = ctx.num_threads() > 0 ? ctx.num_threads() : exec->num_threads();
  std::vector<double> rows;
  auto watch = [&](const std::string& name, const Tensor& t) -> Status {
    auto [lo, hi] = by_input.equal_range(name);
    for (auto it = lo; it != hi; ++it) {
      const LayerInput& l = layers[it->second];
      const Node& node = model.graph.nodes[l.index];
      if (t.dtype() != DType::kF32)
        return unsupported(req.who + ": input '" + name + "' of " + node.describe() + " is " +
                           std::string(dtype_name(t.dtype())) + "; " + req.need + " needs f32 activations");
      int64_t count = 0;
      BS_TRY(input_rows(l, node, t, req, rows, count));
      accumulate(rows, count, l.cols, req.full, threads, stats[it->second]);
    }
    return Status::ok();
  };
  int64_t batch_index = 0, used = 0;
  Status s = ctx.calibration()([&](const NamedTensors& batch) -> Status {
    const int64_t k = batch_index++;
    if (req.max_batches > 0 && used >= req.max_batches) return Status::ok();
    for (const auto& [name, t] : batch) {
      if (!graph_inputs.count(name))
        return data_error(req.who + ": calibration batch " + std::to_string(k) + " feeds '" + name +
                          "', which is not an input of the model");
      BS_TRY(watch(name, t));
    }
    Expected<std::vector<Tensor>> out =
        exec->run_observed(batch, [&](const Node&, const std::string& name, const Tensor& t) { return watch(name, t); });
    if (!out) return out.status().with_context(req.who + ": calibration batch " + std::to_string(k));
    ++used;
    return Status::ok();
  });
  BS_TRY(s);
  if (used == 0) return data_error(req.who + ": the calibration data is empty (no batches)");
  for (size_t i = 0; i < layers.size(); ++i)
    if (stats[i].samples == 0)
      return data_error(req.who + ": input '" + layers[i].input + "' of " +
                        model.graph.nodes[layers[i].index].describe() + " was never computed on the calibration data");
  ctx.record().counters["calibration_batches"] = used;  // per run (the same each run)
  ctx.record().count("calibration_runs");
  return Status::ok();
}

}  // namespace bitsmith::passes_detail
