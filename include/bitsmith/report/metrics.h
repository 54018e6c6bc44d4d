// Accuracy and fidelity metrics, accumulated over batches (deterministic: sequential double sums).
//
// Logits are f32 [rows, classes] (any leading dims flatten into rows; the last dim is classes).
// Fidelity compares a model's outputs with a reference model's outputs on the same data:
//   top1_agreement  fraction of rows whose argmax agrees (ties: lowest index)
//   cosine          cosine similarity of the whole flattened output vectors
//   sqnr_db         10 log10( sum ref^2 / sum (out-ref)^2 ); +inf when identical
//   max_abs_err     max |out - ref|
//   kld_mean/p99    KL(softmax(ref) || softmax(out)) per row (nats), mean and 99th percentile
//                   (nearest-rank) over rows
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "bitsmith/core/status.h"
#include "bitsmith/core/tensor.h"

namespace bitsmith {

struct AccuracyMetrics {
  int64_t samples = 0;
  double top1 = 0;  // fraction in [0, 1]
  double top5 = 0;
};

class AccuracyAccumulator {
 public:
  // logits: f32 with last dim = classes; labels: integer [rows] (or [rows, 1]) class ids, or a
  // one-hot/probability tensor [rows, classes] (argmax taken). Error on row-count mismatch or a
  // label outside [0, classes).
  Status add(const Tensor& logits, const Tensor& labels);
  AccuracyMetrics finish() const;

 private:
  int64_t samples_ = 0, top1_ = 0, top5_ = 0;
};

struct FidelityMetrics {
  int64_t rows = 0;
  double top1_agreement = 0;
  double cosine = 0;
  double sqnr_db = 0;
  double max_abs_err = 0;
  double kld_mean = 0;
  double kld_p99 = 0;
};

class FidelityAccumulator {
 public:
  // Both f32 (f16 converted) of the same shape.
  Status add(const Tensor& output, const Tensor& reference);
  FidelityMetrics finish() const;

 private:
  int64_t rows_ = 0, agree_ = 0;
  double dot_ = 0, out_sq_ = 0, ref_sq_ = 0, err_sq_ = 0, max_abs_ = 0;
  std::vector<double> kld_;
};

// A copy of `t` as f32 (f16, bf16, f64 and integer types converted); error for other dtypes.
Expected<Tensor> to_f32(const Tensor& t);

}  // namespace bitsmith
