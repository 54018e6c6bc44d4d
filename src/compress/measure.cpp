// Executors and evaluation for compress and sensitivity (compress_internal.h).
#include "compress/compress_internal.h"

namespace bitsmith::compress_detail {

Expected<std::unique_ptr<Executor>> make_executor(const Model& model, int threads) {
  ExecutorOptions eo;
  eo.num_threads = threads;
  eo.dynamic_batch = true;
  return Executor::create(model, eo);
}

Expected<EvalResult> evaluate_model(Executor& model, const Tensor& data, const Tensor* labels, int64_t batch,
                                    int output, Executor* reference) {
  EvalOptions o;
  o.batch = static_cast<int>(batch);
  o.output_index = output;
  o.progress = false;
  return evaluate(model, data, labels, reference, o);
}

}  // namespace bitsmith::compress_detail
