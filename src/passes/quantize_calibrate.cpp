// quantize: static activation ranges. Runs the float model on ctx.calibration()'s batches with
// an Executor and feeds each watched value to its Observer (fixed memory per observer, so memory
// does not grow with the number of batches). Graph inputs are observed from the batch itself.
#include <memory>
#include <unordered_set>

#include "bitsmith/runtime/executor.h"
#include "passes/quantize_impl.h"

namespace bitsmith::quantize_detail {

Status calibrate(const Model& model, PassContext& ctx, const QuantizeOptions& o, const std::vector<std::string>& values,
                 Ranges& ranges) {
  if (!ctx.calibration())
    return invalid_argument(
        "quantize: activations.mode \"static\" needs calibration data (bitsmith quantize --calib FILE.npy), or use "
        "activations.mode \"dynamic\" or \"none\"");
  ExecutorOptions eo;
  eo.num_threads = ctx.num_threads();
  eo.dynamic_batch = true;
  eo.fuse_float = false;  // observe every activation (fused chains would hide their inner values)
  eo.fuse_f16_weights = false;  // keep every Cast output observable (weight-only float16 models)
  BS_ASSIGN_OR_RETURN(std::unique_ptr<Executor> exec,
                      Executor::create(model, eo));
  ObserverOptions oo;
  oo.kind = o.activations.observer;
  oo.bins = static_cast<int>(o.activations.bins);
  oo.percentile = o.activations.percentile;
  oo.averaging_constant = o.activations.averaging_constant;
  std::unordered_map<std::string, std::unique_ptr<Observer>> observers;
  for (const std::string& v : values) observers.emplace(v, make_observer(oo));
  std::unordered_set<std::string> graph_inputs;
  for (const ValueInfo& vi : exec->inputs()) graph_inputs.insert(vi.name);

  int64_t batch_index = 0, used = 0;
  std::string not_f32;
  auto watch = [&](const std::string& name, const Tensor& t) {
    auto it = observers.find(name);
    if (it == observers.end()) return;
    if (t.dtype() != DType::kF32) {
      if (not_f32.empty()) not_f32 = "'" + name + "' is " + std::string(dtype_name(t.dtype()));
      return;
    }
    it->second->observe(t.data<float>(), t.numel());
  };
  const ValueObserver on_value = [&](const Node&, const std::string& name, const Tensor& t) {
    watch(name, t);
    return Status::ok();
  };
  Status s = ctx.calibration()([&](const NamedTensors& batch) -> Status {
    const int64_t k = batch_index++;
    if (o.calibration_batches > 0 && used >= o.calibration_batches) return Status::ok();
    for (const auto& [name, t] : batch) {
      if (!graph_inputs.count(name))
        return data_error("quantize: calibration batch " + std::to_string(k) + " feeds '" + name +
                          "', which is not an input of the model");
      watch(name, t);
    }
    Expected<std::vector<Tensor>> out = exec->run_observed(batch, on_value);
    if (!out) return out.status().with_context("quantize: calibration batch " + std::to_string(k));
    ++used;
    return Status::ok();
  });
  BS_TRY(s);
  if (used == 0) return data_error("quantize: the calibration data is empty (no batches)");
  if (!not_f32.empty())
    return unsupported("quantize: activation " + not_f32 + ", only f32 activations are quantized");
  for (const std::string& v : values) {
    const Observer& obs = *observers.at(v);
    if (obs.count() == 0)
      return data_error("quantize: activation '" + v + "' was never computed on the calibration data");
    ranges[v] = obs.range(o.activations.dtype, o.activations.symmetric);
  }
  ctx.record().count("calibration_batches", used);
  return Status::ok();
}

}  // namespace bitsmith::quantize_detail
