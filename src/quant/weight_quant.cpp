// Weight quantization (include/bitsmith/quant/weight_quant.h).
//
// A tensor with quantization axis `a` is viewed as [outer, dim, inner] (dim = shape[a]). Work is
// split into rows that are independent: each output byte (and each scale) is computed by one
// thread with the same arithmetic, so results do not depend on the thread count. Row kernels are
// in quant_kernels.h (AVX2 + scalar twin).
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "quant/quant_kernels.h"
#include "quant/weight_quant_internal.h"

namespace bitsmith {
namespace {

constexpr int64_t kChunk = int64_t{1} << 16;  // elements per per-tensor work item
constexpr int64_t kCols = 1024;               // column panel of column-wise min/max

struct Layout {
  int64_t outer = 1, dim = 1, inner = 1;
};

Layout layout_of(const Shape& s, int axis) {
  Layout l;
  for (int d = 0; d < axis; ++d) l.outer *= s[d];
  l.dim = s[axis];
  for (size_t d = static_cast<size_t>(axis) + 1; d < s.size(); ++d) l.inner *= s[d];
  return l;
}

int resolve_threads(int n) { return n > 0 ? n : omp_get_max_threads(); }

// The thread count for `num_threads` = 0 (auto): one thread for small tensors, where starting a
// parallel region costs more than the work (results are the same for any count).
int auto_threads(int num_threads, int64_t numel) {
  constexpr int64_t kParallelMin = int64_t{1} << 16;
  return num_threads == 0 && numel < kParallelMin ? 1 : num_threads;
}

// fn(item) for item in [0, items), static schedule; items write disjoint outputs.
template <class Fn>
void parallel_for(int64_t items, int num_threads, Fn&& fn) {
  const int nt = static_cast<int>(std::min<int64_t>(std::max(num_threads, 1), items));
  if (nt <= 1 || omp_in_parallel()) {
    for (int64_t i = 0; i < items; ++i) fn(i);
    return;
  }
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t i = 0; i < items; ++i) fn(i);
}

std::string tensor_label(const Tensor& w) { return "tensor '" + w.name() + "'"; }

bool supported_qdtype(DType t) { return t == DType::kI8 || t == DType::kU8 || t == DType::kI4 || t == DType::kU4; }

Status check_input(const Tensor& w, DType qdtype) {
  if (w.dtype() != DType::kF32)
    return invalid_argument(tensor_label(w) + ": dtype " + std::string(dtype_name(w.dtype())) +
                            ", expected f32 to quantize");
  if (!supported_qdtype(qdtype))
    return invalid_argument(tensor_label(w) + ": cannot quantize to " + std::string(dtype_name(qdtype)) +
                            " (expected i8, u8, i4 or u4)");
  return Status::ok();
}

Status non_finite_error(const Tensor& w) {
  const float* x = w.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i)
    if (!std::isfinite(x[i]))
      return invalid_argument(tensor_label(w) + ": element " + std::to_string(i) + " is " +
                              (std::isnan(x[i]) ? "NaN" : "Inf") + "; weights to quantize must be finite");
  return invalid_argument(tensor_label(w) + ": holds NaN or Inf");
}

// The code of x under (scale, zp) before clamping, as the kernels compute it.
double raw_code(float x, float scale, int32_t zp) {
  return static_cast<double>(std::nearbyint(x / scale)) + zp;
}

// Scale and zero point mapping [lo, hi] (lo <= hi, finite) onto [qmin, qmax]; see the header.
// The scale is nudged up by ulps when rounding would put the code of lo or hi outside
// [qmin, qmax], so the codes of values in [lo, hi] always lie in the (possibly reduced) range.
void params_from_range(float lo, float hi, bool is_signed, bool symmetric, int32_t qmin, int32_t qmax,
                       float* scale_out, int32_t* zp_out) {
  lo = std::min(lo, 0.f);
  hi = std::max(hi, 0.f);
  if (lo == 0.f) lo = 0.f;  // -0 -> +0
  double range = 0;
  int32_t zp = 0;
  if (symmetric) {
    zp = is_signed ? 0 : (qmin + qmax + 1) / 2;
    const double amax = std::max(-static_cast<double>(lo), static_cast<double>(hi));
    lo = static_cast<float>(-amax);
    hi = static_cast<float>(amax);
    range = amax / static_cast<double>(qmax - zp);
  } else {
    range = (static_cast<double>(hi) - static_cast<double>(lo)) / static_cast<double>(qmax - qmin);
  }
  float scale = static_cast<float>(range);
  if (!(scale >= std::numeric_limits<float>::min())) scale = range == 0 ? 1.f : std::numeric_limits<float>::min();
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (!symmetric) {
      const double z = std::nearbyint(static_cast<double>(qmin) - static_cast<double>(lo) / scale);
      zp = static_cast<int32_t>(std::clamp(z, static_cast<double>(qmin), static_cast<double>(qmax)));
    }
    if (raw_code(lo, scale, zp) >= qmin && raw_code(hi, scale, zp) <= qmax) break;
    scale = std::nextafter(scale, std::numeric_limits<float>::infinity());
  }
  *scale_out = scale;
  *zp_out = zp;
}

}  // namespace

void quant_range(DType qdtype, bool reduce_range, int32_t* qmin, int32_t* qmax) {
  switch (qdtype) {
    case DType::kI8: *qmin = reduce_range ? -64 : -128; *qmax = reduce_range ? 63 : 127; return;
    case DType::kU8: *qmin = 0; *qmax = reduce_range ? 127 : 255; return;
    case DType::kI4: *qmin = -8; *qmax = 7; return;
    case DType::kU4: *qmin = 0; *qmax = 15; return;
    default: *qmin = 0; *qmax = 0; return;
  }
}

namespace quant {

Expected<QuantParams> compute_weight_params_impl(const Tensor& w, const WeightQuantSpec& spec, int num_threads,
                                                 bool scalar) {
  BS_TRY(check_input(w, spec.qdtype));
  const int nt = resolve_threads(num_threads);
  QuantParams p;
  p.qdtype = spec.qdtype;
  Layout l;
  l.inner = w.numel();
  size_t count = 1;
  if (spec.granularity != Granularity::kPerTensor) {
    const int axis = spec.axis < 0 ? spec.axis + w.rank() : spec.axis;
    if (axis < 0 || axis >= w.rank())
      return invalid_argument(tensor_label(w) + ": axis " + std::to_string(spec.axis) + " is out of range for shape " +
                              shape_str(w.shape()));
    if (spec.granularity == Granularity::kPerBlock && spec.block_size < 2)
      return invalid_argument(tensor_label(w) + ": block size " + std::to_string(spec.block_size) +
                              " is less than 2");
    p.axis = axis;
    l = layout_of(w.shape(), axis);
    if (spec.granularity == Granularity::kPerChannel) {
      count = static_cast<size_t>(l.dim);
    } else {
      p.block_size = spec.block_size;
      count = static_cast<size_t>(l.outer * ((l.dim + spec.block_size - 1) / spec.block_size) * l.inner);
    }
  }
  std::vector<float> lo(count, std::numeric_limits<float>::infinity());
  std::vector<float> hi(count, -std::numeric_limits<float>::infinity());
  std::atomic<bool> bad{false};
  const float* x = w.data<float>();
  const auto note = [&](bool finite) {
    if (!finite) bad.store(true, std::memory_order_relaxed);
  };
  if (spec.granularity == Granularity::kPerTensor) {
    const int64_t n = w.numel(), items = (n + kChunk - 1) / kChunk;
    std::vector<float> clo(static_cast<size_t>(items), lo[0]), chi(static_cast<size_t>(items), hi[0]);
    parallel_for(items, nt, [&](int64_t c) {
      const int64_t b = c * kChunk;
      note(quant::minmax_row(x + b, std::min(kChunk, n - b), &clo[c], &chi[c], scalar));
    });
    for (int64_t c = 0; c < items; ++c) {
      lo[0] = std::min(lo[0], clo[c]);
      hi[0] = std::max(hi[0], chi[c]);
    }
  } else if (spec.granularity == Granularity::kPerChannel && l.inner == 1) {  // channels are columns
    // Each item streams a contiguous range of rows into its own column min/max; min and max are
    // exact, so combining the items gives the same result for any split.
    const int64_t items = std::min<int64_t>(nt, l.outer);
    std::vector<float> ilo(static_cast<size_t>(items * l.dim), lo[0]), ihi(static_cast<size_t>(items * l.dim), hi[0]);
    parallel_for(items, nt, [&](int64_t it) {
      // Column panels of kCols keep the running min/max in L1 while the rows stream by.
      for (int64_t c0 = 0; c0 < l.dim; c0 += kCols) {
        const int64_t nc = std::min(kCols, l.dim - c0);
        const int64_t o0 = l.outer * it / items, o1 = l.outer * (it + 1) / items;
        note(quant::minmax_cols(x + o0 * l.dim + c0, o1 - o0, l.dim, nc, &ilo[it * l.dim + c0], &ihi[it * l.dim + c0],
                                scalar));
      }
    });
    for (int64_t it = 0; it < items; ++it)
      for (int64_t a = 0; a < l.dim; ++a) {
        lo[a] = std::min(lo[a], ilo[it * l.dim + a]);
        hi[a] = std::max(hi[a], ihi[it * l.dim + a]);
      }
  } else if (spec.granularity == Granularity::kPerChannel) {  // channels are rows of `inner`
    parallel_for(l.dim, nt, [&](int64_t a) {
      for (int64_t o = 0; o < l.outer; ++o)
        note(quant::minmax_row(x + (o * l.dim + a) * l.inner, l.inner, &lo[a], &hi[a], scalar));
    });
  } else {
    const int64_t bs = spec.block_size, nb = (l.dim + bs - 1) / bs;
    if (l.inner == 1) {  // blocks are contiguous runs of a row
      parallel_for(l.outer, nt, [&](int64_t o) {
        for (int64_t b = 0; b < nb; ++b) {
          const int64_t a0 = b * bs, k = o * nb + b;
          note(quant::minmax_row(x + o * l.dim + a0, std::min(bs, l.dim - a0), &lo[k], &hi[k], scalar));
        }
      });
    } else {  // blocks are columns over block_size rows
      parallel_for(l.outer * nb, nt, [&](int64_t ob) {
        const int64_t o = ob / nb, b = ob % nb, a1 = std::min(l.dim, (b + 1) * bs);
        float* blo = &lo[static_cast<size_t>(ob * l.inner)];
        float* bhi = &hi[static_cast<size_t>(ob * l.inner)];
        const int64_t a0 = b * bs;
        note(quant::minmax_cols(x + (o * l.dim + a0) * l.inner, a1 - a0, l.inner, l.inner, blo, bhi, scalar));
      });
    }
  }
  if (bad.load()) return non_finite_error(w);

  int32_t qmin = 0, qmax = 0;
  quant_range(spec.qdtype, spec.reduce_range && dtype_bits(spec.qdtype) == 8, &qmin, &qmax);
  const bool is_signed = spec.qdtype == DType::kI8 || spec.qdtype == DType::kI4;
  p.scales.resize(count);
  std::vector<int32_t> zps(count);
  for (size_t k = 0; k < count; ++k) {
    const bool empty = lo[k] > hi[k];  // no elements (a zero-sized dim)
    params_from_range(empty ? 0.f : lo[k], empty ? 0.f : hi[k], is_signed, spec.symmetric, qmin, qmax, &p.scales[k],
                      &zps[k]);
  }
  if (!(spec.symmetric && is_signed)) p.zero_points = std::move(zps);
  return p;
}

Expected<Tensor> quantize_tensor_impl(const Tensor& w, const QuantParams& params, int num_threads, bool scalar) {
  BS_TRY(check_input(w, params.qdtype));
  if (Status s = params.validate(w.shape()); !s) return s.with_context(tensor_label(w));
  const int nt = resolve_threads(num_threads);
  int32_t qmin = 0, qmax = 0;
  quant_range(params.qdtype, false, &qmin, &qmax);
  Tensor q(params.qdtype, w.shape(), w.name());
  const int64_t n = w.numel();
  std::vector<float> zf(params.scales.size(), 0.f);
  for (size_t k = 0; k < params.zero_points.size(); ++k) zf[k] = static_cast<float>(params.zero_points[k]);
  const float* s = params.scales.data();
  const float* x = w.data<float>();
  std::atomic<bool> bad{false};
  const auto note = [&](bool finite) {
    if (!finite) bad.store(true, std::memory_order_relaxed);
  };

  // Work items are contiguous runs of elements [item * len, item * len + len) (the last one may
  // be shorter); fill(item, dst) writes their codes, one byte each, to dst.
  const Layout l = params.axis < 0 ? Layout{1, 1, n} : layout_of(w.shape(), params.axis);
  const int64_t bs = params.block_size, nb = bs > 0 ? (l.dim + bs - 1) / bs : 0;
  int64_t items = 0, len = 0;
  std::function<void(int64_t, uint8_t*)> fill;
  if (params.axis < 0) {
    items = (n + kChunk - 1) / kChunk;
    len = kChunk;
    fill = [&](int64_t c, uint8_t* dst) {
      const int64_t b = c * kChunk;
      note(quant::quantize_row(x + b, std::min(kChunk, n - b), s[0], zf[0], qmin, qmax, dst, scalar));
    };
  } else if (l.inner == 1) {  // one row per outer index; parameters vary along the row
    items = l.outer;
    len = l.dim;
    fill = [&](int64_t o, uint8_t* dst) {
      const float* xr = x + o * l.dim;
      if (bs == 0) {
        note(quant::quantize_row_vec(xr, l.dim, s, zf.data(), qmin, qmax, dst, scalar));
        return;
      }
      for (int64_t b = 0; b < nb; ++b) {
        const int64_t a0 = b * bs, k = o * nb + b;
        note(quant::quantize_row(xr + a0, std::min(bs, l.dim - a0), s[k], zf[k], qmin, qmax, dst + a0, scalar));
      }
    };
  } else {  // rows of `inner`: one parameter per row (per-channel) or one per element (blocked)
    items = l.outer * l.dim;
    len = l.inner;
    fill = [&](int64_t r, uint8_t* dst) {
      const int64_t o = r / l.dim, a = r % l.dim;
      const float* xr = x + r * l.inner;
      if (bs == 0) {
        note(quant::quantize_row(xr, l.inner, s[a], zf[a], qmin, qmax, dst, scalar));
      } else {
        const int64_t k = (o * nb + a / bs) * l.inner;
        note(quant::quantize_row_vec(xr, l.inner, s + k, zf.data() + k, qmin, qmax, dst, scalar));
      }
    };
  }
  auto* out = reinterpret_cast<uint8_t*>(q.mutable_bytes());
  if (!is_sub_byte(params.qdtype)) {
    parallel_for(items, nt, [&](int64_t i) { fill(i, out + i * len); });
  } else if (len % 2 == 0 || items <= 1) {
    // Every item starts on a byte boundary: codes go through a per-item buffer into the output.
    parallel_for(items, nt, [&](int64_t i) {
      const int64_t m = std::min(len, n - i * len);
      std::vector<uint8_t> buf(static_cast<size_t>(m));
      fill(i, buf.data());
      quant::pack_nibbles(buf.data(), m, 0, (m + 1) / 2, out + i * len / 2);
    });
  } else {  // odd rows share bytes: all codes first, then pack
    std::vector<uint8_t> codes(static_cast<size_t>(n));
    parallel_for(items, nt, [&](int64_t i) { fill(i, codes.data() + i * len); });
    const int64_t pairs = (n + 1) / 2;
    parallel_for((pairs + kChunk - 1) / kChunk, nt, [&](int64_t c) {
      quant::pack_nibbles(codes.data(), n, c * kChunk, std::min(pairs, (c + 1) * kChunk), out);
    });
  }
  if (bad.load()) return non_finite_error(w);
  q.set_quant(params);
  return q;
}

}  // namespace quant

Expected<QuantParams> compute_weight_params(const Tensor& w, const WeightQuantSpec& spec) {
  return quant::compute_weight_params_impl(w, spec, auto_threads(0, w.numel()), false);
}

Expected<Tensor> quantize_tensor(const Tensor& w, const QuantParams& params, int num_threads) {
  return quant::quantize_tensor_impl(w, params, auto_threads(num_threads, w.numel()), false);
}

QuantParams activation_params(float lo, float hi, DType qdtype, bool symmetric, bool reduce_range) {
  // Robust to what an observer may hand over: NaN ends count as 0, infinities as the float limits.
  const auto sanitize = [](float v) {
    if (std::isnan(v)) return 0.f;
    return std::clamp(v, std::numeric_limits<float>::lowest(), std::numeric_limits<float>::max());
  };
  lo = sanitize(lo);
  hi = sanitize(hi);
  if (lo > hi) std::swap(lo, hi);
  if (qdtype != DType::kU8) qdtype = DType::kI8;
  int32_t qmin = 0, qmax = 0;
  quant_range(qdtype, reduce_range, &qmin, &qmax);
  QuantParams p;
  p.qdtype = qdtype;
  p.scales.resize(1);
  p.zero_points.resize(1);
  params_from_range(lo, hi, qdtype == DType::kI8, symmetric, qmin, qmax, &p.scales[0], &p.zero_points[0]);
  return p;
}

}  // namespace bitsmith
