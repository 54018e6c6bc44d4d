#include "bitsmith/report/evaluate.h"

#include <algorithm>

#include "bitsmith/core/progress.h"

namespace bitsmith {

Tensor slice_rows(const Tensor& t, int64_t begin, int64_t end) {
  Shape shape = t.shape();
  const int64_t row_elems = t.numel() / std::max<int64_t>(shape[0], 1);
  shape[0] = end - begin;
  const size_t offset = storage_nbytes(t.dtype(), begin * row_elems);
  return Tensor::view(t.dtype(), shape, t.storage(), const_cast<std::byte*>(t.bytes()) + offset, t.name());
}

Expected<EvalResult> evaluate(Executor& model, const Tensor& data, const Tensor* labels, Executor* reference,
                              const EvalOptions& options) {
  if (model.inputs().size() != 1)
    return invalid_argument("evaluation needs a model with one input; this one has " +
                            std::to_string(model.inputs().size()));
  if (data.rank() < 1 || data.dim(0) == 0) return data_error("evaluation data is empty");
  const ValueInfo& input = model.inputs()[0];
  int64_t batch = std::max(options.batch, 1);
  if (input.type.has_shape && !input.type.dims.empty() && input.type.dims[0].has_value())
    batch = input.type.dims[0].value;  // static batch dimension
  int64_t rows = data.dim(0);
  if (options.limit > 0) rows = std::min(rows, options.limit);
  if (labels && labels->rank() >= 1 && labels->dim(0) < rows)
    return data_error("labels have " + std::to_string(labels->dim(0)) + " rows, data has " + std::to_string(rows));

  AccuracyAccumulator acc;
  FidelityAccumulator fid;
  Progress progress("evaluate", rows, options.progress);
  for (int64_t b = 0; b < rows; b += batch) {
    const int64_t e = std::min(rows, b + batch);
    Tensor x = slice_rows(data, b, e);
    NamedTensors feeds{{input.name, x}};
    const std::string where = "rows " + std::to_string(b) + ".." + std::to_string(e - 1);
    auto out = model.run(feeds);
    if (!out) return out.status().with_context(where);
    if (options.output_index >= static_cast<int>(out->size()))
      return invalid_argument("the model has no output #" + std::to_string(options.output_index));
    const Tensor& logits = (*out)[options.output_index];
    if (labels) {
      Tensor y = slice_rows(*labels, b, e);
      BS_TRY(acc.add(logits, y).with_context(where));
    }
    if (reference) {
      NamedTensors ref_feeds{{reference->inputs().empty() ? input.name : reference->inputs()[0].name, x}};
      auto ref_out = reference->run(ref_feeds);
      if (!ref_out) return ref_out.status().with_context("reference model, " + where);
      BS_TRY(fid.add(logits, (*ref_out)[options.output_index]).with_context(where));
    }
    progress.advance(e - b);
  }
  progress.finish();
  EvalResult result;
  result.samples = rows;
  if (labels) result.accuracy = acc.finish();
  if (reference) result.fidelity = fid.finish();
  return result;
}

}  // namespace bitsmith
