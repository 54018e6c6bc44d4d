// Evaluation of a model on a data set: task accuracy against labels and fidelity against a
// reference model, streaming the data through the executor in batches along dim 0.
#pragma once

#include <cstdint>
#include <optional>

#include "bitsmith/report/metrics.h"
#include "bitsmith/runtime/executor.h"

namespace bitsmith {

struct EvalOptions {
  int batch = 32;        // rows per run; a model whose first input dim is static uses that size
  int64_t limit = 0;     // evaluate only the first `limit` rows (0 = all)
  int output_index = 0;  // which graph output holds the logits
  bool progress = true;  // progress on stderr
};

struct EvalResult {
  int64_t samples = 0;
  std::optional<AccuracyMetrics> accuracy;   // when labels are given
  std::optional<FidelityMetrics> fidelity;   // when a reference model is given
};

// `model` must have exactly one runtime input; `data` is [N, ...] matching it. `labels` may be
// null; `reference` may be null. Errors name the batch and the tensors involved.
Expected<EvalResult> evaluate(Executor& model, const Tensor& data, const Tensor* labels, Executor* reference,
                              const EvalOptions& options);

// Rows [begin, end) of `t` along dim 0, as a view sharing storage (owned or mapped).
Tensor slice_rows(const Tensor& t, int64_t begin, int64_t end);

}  // namespace bitsmith
