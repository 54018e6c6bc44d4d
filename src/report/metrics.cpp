#include "bitsmith/report/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "bitsmith/core/half.h"

namespace bitsmith {
namespace {

int64_t argmax_row(const float* p, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (p[i] > p[best]) best = i;
  return best;
}

// log-softmax of a row into `out` (double precision).
void log_softmax(const float* x, int64_t n, std::vector<double>& out) {
  out.resize(static_cast<size_t>(n));
  double mx = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, static_cast<double>(x[i]));
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(x[i]) - mx);
  const double lse = mx + std::log(sum);
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<double>(x[i]) - lse;
}

template <class T>
void copy_convert(const T* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
}

}  // namespace

Expected<Tensor> to_f32(const Tensor& t) {
  if (t.dtype() == DType::kF32) return t;
  Tensor out(DType::kF32, t.shape(), t.name());
  float* d = out.mutable_data<float>();
  const int64_t n = t.numel();
  switch (t.dtype()) {
    case DType::kF16: f16_to_f32_n(reinterpret_cast<const uint16_t*>(t.bytes()), d, static_cast<size_t>(n)); break;
    case DType::kBF16: {
      const auto* s = reinterpret_cast<const uint16_t*>(t.bytes());
      for (int64_t i = 0; i < n; ++i) d[i] = bf16_to_f32(s[i]);
      break;
    }
    case DType::kF64: copy_convert(t.data<double>(), d, n); break;
    case DType::kI64: copy_convert(t.data<int64_t>(), d, n); break;
    case DType::kI32: copy_convert(t.data<int32_t>(), d, n); break;
    case DType::kI16: copy_convert(t.data<int16_t>(), d, n); break;
    case DType::kI8: copy_convert(t.data<int8_t>(), d, n); break;
    case DType::kU8: copy_convert(t.data<uint8_t>(), d, n); break;
    case DType::kU16: copy_convert(t.data<uint16_t>(), d, n); break;
    case DType::kU32: copy_convert(t.data<uint32_t>(), d, n); break;
    case DType::kBool: copy_convert(reinterpret_cast<const uint8_t*>(t.bytes()), d, n); break;
    default:
      return data_error("cannot convert " + std::string(dtype_name(t.dtype())) + " tensor '" + t.name() + "' to f32");
  }
  return out;
}

Status AccuracyAccumulator::add(const Tensor& logits_in, const Tensor& labels_in) {
  BS_ASSIGN_OR_RETURN(Tensor logits, to_f32(logits_in));
  if (logits.rank() < 1 || logits.numel() == 0) return data_error("logits are empty");
  const int64_t classes = logits.dim(-1);
  const int64_t rows = logits.numel() / classes;
  BS_ASSIGN_OR_RETURN(Tensor labels, to_f32(labels_in));
  const bool one_hot = labels.rank() >= 2 && labels.dim(-1) == classes && classes > 1;
  const int64_t label_rows = one_hot ? labels.numel() / classes : labels.numel();
  if (label_rows != rows)
    return data_error("labels have " + std::to_string(label_rows) + " rows " + shape_str(labels.shape()) +
                      ", outputs have " + std::to_string(rows) + " " + shape_str(logits.shape()));
  const float* p = logits.data<float>();
  const float* l = labels.data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    int64_t label;
    if (one_hot) {
      label = argmax_row(l + r * classes, classes);
    } else {
      const float v = l[r];
      if (!(v >= 0) || v >= static_cast<float>(classes) || v != std::floor(v))
        return data_error("label " + std::to_string(v) + " at row " + std::to_string(samples_ + r) +
                          " is not a class id in [0, " + std::to_string(classes) + ")");
      label = static_cast<int64_t>(v);
    }
    const float* row = p + r * classes;
    // Rank of the label: number of classes scoring strictly higher (ties favour the label's
    // lower index, matching argmax's first-max rule).
    int64_t higher = 0;
    for (int64_t c = 0; c < classes; ++c)
      if (row[c] > row[label] || (row[c] == row[label] && c < label)) ++higher;
    top1_ += higher == 0;
    top5_ += higher < 5;
  }
  samples_ += rows;
  return Status::ok();
}

AccuracyMetrics AccuracyAccumulator::finish() const {
  AccuracyMetrics m;
  m.samples = samples_;
  if (samples_ > 0) {
    m.top1 = static_cast<double>(top1_) / static_cast<double>(samples_);
    m.top5 = static_cast<double>(top5_) / static_cast<double>(samples_);
  }
  return m;
}

Status FidelityAccumulator::add(const Tensor& output_in, const Tensor& reference_in) {
  if (output_in.shape() != reference_in.shape())
    return data_error("output shape " + shape_str(output_in.shape()) + " differs from reference shape " +
                      shape_str(reference_in.shape()));
  BS_ASSIGN_OR_RETURN(Tensor out, to_f32(output_in));
  BS_ASSIGN_OR_RETURN(Tensor ref, to_f32(reference_in));
  const int64_t n = out.numel();
  if (n == 0) return Status::ok();
  const int64_t classes = out.rank() ? out.dim(-1) : 1;
  const int64_t rows = classes ? n / classes : 0;
  const float* o = out.data<float>();
  const float* r = ref.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const double a = o[i], b = r[i];
    dot_ += a * b;
    out_sq_ += a * a;
    ref_sq_ += b * b;
    err_sq_ += (a - b) * (a - b);
    max_abs_ = std::max(max_abs_, std::fabs(a - b));
  }
  std::vector<double> lo, lr;
  for (int64_t row = 0; row < rows; ++row) {
    const float* orow = o + row * classes;
    const float* rrow = r + row * classes;
    agree_ += argmax_row(orow, classes) == argmax_row(rrow, classes);
    log_softmax(orow, classes, lo);
    log_softmax(rrow, classes, lr);
    double kl = 0;
    for (int64_t c = 0; c < classes; ++c) kl += std::exp(lr[c]) * (lr[c] - lo[c]);
    kld_.push_back(std::max(0.0, kl));
  }
  rows_ += rows;
  return Status::ok();
}

FidelityMetrics FidelityAccumulator::finish() const {
  FidelityMetrics m;
  m.rows = rows_;
  if (rows_ == 0) return m;
  m.top1_agreement = static_cast<double>(agree_) / static_cast<double>(rows_);
  m.cosine = (out_sq_ > 0 && ref_sq_ > 0) ? dot_ / std::sqrt(out_sq_ * ref_sq_) : (out_sq_ == ref_sq_ ? 1.0 : 0.0);
  m.sqnr_db = err_sq_ > 0 ? 10.0 * std::log10(ref_sq_ / err_sq_) : std::numeric_limits<double>::infinity();
  m.max_abs_err = max_abs_;
  double sum = 0;
  for (double k : kld_) sum += k;
  m.kld_mean = sum / static_cast<double>(kld_.size());
  std::vector<double> sorted = kld_;
  std::sort(sorted.begin(), sorted.end());
  const size_t rank = static_cast<size_t>(std::ceil(0.99 * static_cast<double>(sorted.size())));
  m.kld_p99 = sorted[rank == 0 ? 0 : rank - 1];
  return m;
}

}  // namespace bitsmith
