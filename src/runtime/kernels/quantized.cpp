// QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear (ONNX opsets 10 / 13 / 19 / 21:
// per-tensor, per-axis and blocked scales), plus the helpers of quantized_common.h.
// Arithmetic is the inline helpers of ref/quantized_ref.h, so results equal the references.
#include <algorithm>
#include <cstring>
#include <memory>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "bitsmith/core/half.h"
#include "runtime/kernels/dense_util.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/quantized_common.h"
#include "runtime/kernels/ref/quantized_ref.h"

namespace bitsmith::kernels {

bool quant_range(DType t, int32_t& qmin, int32_t& qmax) {
  switch (t) {
    case DType::kU8: qmin = 0; qmax = 255; return true;
    case DType::kI8: qmin = -128; qmax = 127; return true;
    case DType::kU16: qmin = 0; qmax = 65535; return true;
    case DType::kI16: qmin = -32768; qmax = 32767; return true;
    case DType::kU4: qmin = 0; qmax = 15; return true;
    case DType::kI4: qmin = -8; qmax = 7; return true;
    case DType::kI32: qmin = INT32_MIN; qmax = INT32_MAX; return true;
    default: return false;
  }
}

std::vector<float> scale_values(const Tensor& t) {
  const Tensor f = as_f32(t);
  const float* d = f.data<float>();
  return std::vector<float>(d, d + f.numel());
}

std::vector<int32_t> int_values32(const Tensor& t) {
  std::vector<int32_t> v(static_cast<size_t>(t.numel()));
  const std::byte* raw = t.bytes();
  for (size_t i = 0; i < v.size(); ++i) {
    switch (t.dtype()) {
      case DType::kU8: v[i] = t.data<uint8_t>()[i]; break;
      case DType::kI8: v[i] = t.data<int8_t>()[i]; break;
      case DType::kU16: v[i] = t.data<uint16_t>()[i]; break;
      case DType::kI16: v[i] = t.data<int16_t>()[i]; break;
      case DType::kI32: v[i] = t.data<int32_t>()[i]; break;
      case DType::kU4:
      case DType::kI4: {
        const uint8_t byte = static_cast<uint8_t>(raw[i / 2]);
        const int32_t nib = (i % 2 == 0) ? (byte & 0xf) : (byte >> 4);
        v[i] = (t.dtype() == DType::kI4 && nib >= 8) ? nib - 16 : nib;
        break;
      }
      default: v[i] = 0; break;
    }
  }
  return v;
}

void store_int(DType dtype, int64_t index, int32_t value, std::byte* out) {
  switch (dtype) {
    case DType::kU8: reinterpret_cast<uint8_t*>(out)[index] = static_cast<uint8_t>(value); break;
    case DType::kI8: reinterpret_cast<int8_t*>(out)[index] = static_cast<int8_t>(value); break;
    case DType::kU16: reinterpret_cast<uint16_t*>(out)[index] = static_cast<uint16_t>(value); break;
    case DType::kI16: reinterpret_cast<int16_t*>(out)[index] = static_cast<int16_t>(value); break;
    case DType::kI32: reinterpret_cast<int32_t*>(out)[index] = value; break;
    case DType::kU4:
    case DType::kI4: {
      uint8_t& byte = reinterpret_cast<uint8_t&>(out[index / 2]);
      const uint8_t nib = static_cast<uint8_t>(value) & 0xf;
      byte = index % 2 == 0 ? static_cast<uint8_t>((byte & 0xf0) | nib) : static_cast<uint8_t>((byte & 0x0f) | (nib << 4));
      break;
    }
    default: break;
  }
}

Status check_param_count(const KernelContext& ctx, const Tensor& t, int64_t count, const char* what) {
  const bool scalar = t.numel() == 1 && t.rank() <= 1;
  if (scalar || (t.rank() == 1 && t.dim(0) == count)) return Status::ok();
  return ctx.error(std::string(what) + " has shape " + shape_str(t.shape()) + ", expected a scalar or [" +
                   std::to_string(count) + "]");
}

std::vector<PackedA> pack_a_blocks(MatView a, int64_t m, int64_t k) {
  std::vector<PackedA> blocks;
  for (int64_t k0 = 0; k0 < k; k0 += kGemmKc) {
    MatView v = a;
    v.data += a.trans ? k0 * a.ld : k0;
    blocks.emplace_back(v, m, std::min(kGemmKc, k - k0));
  }
  return blocks;
}

std::vector<PackedB> pack_b_blocks(MatView b, int64_t k, int64_t n) {
  std::vector<PackedB> blocks;
  for (int64_t k0 = 0; k0 < k; k0 += kGemmKc) {
    MatView v = b;
    v.data += b.trans ? k0 : k0 * b.ld;
    blocks.emplace_back(v, std::min(kGemmKc, k - k0), n);
  }
  return blocks;
}

void igemm_exact_st(int64_t m, int64_t n, int64_t k, const IntGemmA& a, const IntGemmB& b, int32_t* c,
                    int64_t ldc) {
  thread_local std::vector<float> tmp;
  if (tmp.size() < static_cast<size_t>(m * n)) tmp.resize(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0);
  for (int64_t k0 = 0, kb = 0; k0 < k; k0 += kGemmKc, ++kb) {
    const int64_t kc = std::min(kGemmKc, k - k0);
    GemmA ga;
    if (a.blocks) {
      ga.packed = &(*a.blocks)[kb];
      ga.offset = a.offset;
    } else {
      ga.view = a.view;
      ga.view.data += a.view.trans ? k0 * a.view.ld : k0;
    }
    GemmB gb;
    if (b.blocks) {
      gb.packed = &(*b.blocks)[kb];
      gb.offset = b.offset;
    } else {
      gb.view = b.view;
      gb.view.data += b.view.trans ? k0 : k0 * b.view.ld;
    }
    sgemm_st(m, n, kc, 1.f, ga, gb, 0.f, tmp.data(), n);
    for (int64_t i = 0; i < m; ++i) {
      int32_t* ci = c + i * ldc;
      const float* ti = tmp.data() + i * n;
      for (int64_t j = 0; j < n; ++j) ci[j] += static_cast<int32_t>(ti[j]);
    }
  }
}

namespace {

// The [outer, axis_dim, inner] view of x for the scale layout, validated against the scale shape.
Status make_layout(const KernelContext& ctx, const Shape& x, const Tensor& scale, int64_t axis_attr,
                   int64_t block_size, QuantLayout& l) {
  const int rank = static_cast<int>(x.size());
  l = QuantLayout{};
  l.inner = shape_numel(x);
  if (scale.numel() == 1 && scale.rank() <= 1 && block_size <= 0) return Status::ok();  // per tensor
  const int64_t axis = axis_attr < 0 ? axis_attr + rank : axis_attr;
  if (axis < 0 || axis >= rank)
    return ctx.error("axis " + std::to_string(axis_attr) + " is out of range for input " + shape_str(x));
  l.per_tensor = false;
  l.outer = shape_numel(Shape(x.begin(), x.begin() + axis));
  l.axis_dim = x[axis];
  l.inner = shape_numel(Shape(x.begin() + axis + 1, x.end()));
  if (block_size > 0) {
    l.block_size = block_size;
    Shape want = x;
    want[axis] = (x[axis] + block_size - 1) / block_size;
    if (scale.shape() != want)
      return ctx.error("blocked scale has shape " + shape_str(scale.shape()) + ", expected " + shape_str(want) +
                       " (block_size " + std::to_string(block_size) + ")");
    return Status::ok();
  }
  if (scale.rank() != 1 || scale.dim(0) != l.axis_dim)
    return ctx.error("scale has shape " + shape_str(scale.shape()) + ", expected a scalar or [" +
                     std::to_string(l.axis_dim) + "] (axis " + std::to_string(axis) + " of " + shape_str(x) + ")");
  return Status::ok();
}

// Per-tensor QuantizeLinear of f32 to 8 bits, 8 values at a time: the same steps as
// quantize_value (IEEE division, round half to even, + zero point, clamp with NaN -> qmin), so the
// same bytes. T is uint8_t or int8_t.
template <class T>
void quantize_per_tensor_8bit(const float* x, T* y, int64_t n, float scale, int32_t zp, int32_t qmin, int32_t qmax,
                              int num_threads) {
  constexpr int64_t kBlock = 1 << 16;
  parallel_items((n + kBlock - 1) / kBlock, n >= 2 * kBlock ? num_threads : 1, [&](int64_t blk) {
    const int64_t b = blk * kBlock, e = std::min(n, b + kBlock);
    int64_t i = b;
#if defined(__AVX2__)
    const __m256 vs = _mm256_set1_ps(scale), vz = _mm256_set1_ps(static_cast<float>(zp));
    const __m256 lo = _mm256_set1_ps(static_cast<float>(qmin)), hi = _mm256_set1_ps(static_cast<float>(qmax));
    for (; i + 8 <= e; i += 8) {
      __m256 v = _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(x + i), vs), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      v = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(v, vz), lo), hi);  // max(NaN, lo) is lo
      alignas(32) int32_t q[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(q), _mm256_cvtps_epi32(v));
      for (int k = 0; k < 8; ++k) y[i + k] = static_cast<T>(q[k]);
    }
#endif
    for (; i < e; ++i) y[i] = static_cast<T>(quantize_value(x[i], scale, zp, qmin, qmax));
  });
}

class QuantizeLinearKernel final : public OpKernel {
 public:
  QuantizeLinearKernel(int64_t axis, int64_t block_size, DType default_out)
      : axis_(axis), block_size_(block_size), default_out_(default_out) {}

  Status compute(KernelContext& ctx) override {
    BS_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "x"));
    BS_ASSIGN_OR_RETURN(const Tensor* scale, required_input(ctx, 1, "y_scale"));
    const Tensor* zp = ctx.input(2);
    const DType out_t = zp ? zp->dtype() : default_out_;
    int32_t qmin = 0, qmax = 0;
    if (!quant_range(out_t, qmin, qmax) || out_t == DType::kI32)
      return ctx.unsupported_error("output dtype " + std::string(dtype_name(out_t)) + " is not supported");
    if (!is_dense_float(scale->dtype()) || scale->dtype() == DType::kF64)
      return ctx.unsupported_error("y_scale dtype " + std::string(dtype_name(scale->dtype())) + " is not supported");
    Tensor xf;
    if (x->dtype() == DType::kI32) {
      xf = Tensor(DType::kF32, x->shape());
      for (int64_t i = 0; i < x->numel(); ++i) xf.mutable_data<float>()[i] = static_cast<float>(x->data<int32_t>()[i]);
    } else if (x->dtype() == DType::kF32 || x->dtype() == DType::kF16 || x->dtype() == DType::kBF16) {
      xf = as_f32(*x);
    } else {
      return ctx.unsupported_error("x dtype " + std::string(dtype_name(x->dtype())) + " is not supported");
    }
    QuantLayout l;
    BS_TRY(make_layout(ctx, x->shape(), *scale, axis_, block_size_, l));
    if (zp && zp->shape() != scale->shape() && !(zp->numel() == 1 && scale->numel() == 1))
      return ctx.error("y_zero_point shape " + shape_str(zp->shape()) + " differs from y_scale " + shape_str(scale->shape()));
    const std::vector<float> s = scale_values(*scale);
    const std::vector<int32_t> z = zp ? int_values32(*zp) : std::vector<int32_t>(s.size(), 0);
    Tensor y(out_t, x->shape());
    const float* xd = xf.data<float>();
    if (l.per_tensor && (out_t == DType::kU8 || out_t == DType::kI8)) {
      if (out_t == DType::kU8)
        quantize_per_tensor_8bit(xd, y.mutable_data<uint8_t>(), x->numel(), s[0], z[0], qmin, qmax, ctx.num_threads);
      else
        quantize_per_tensor_8bit(xd, y.mutable_data<int8_t>(), x->numel(), s[0], z[0], qmin, qmax, ctx.num_threads);
      ctx.outputs[0] = std::move(y);
      return Status::ok();
    }
    std::byte* out = y.mutable_bytes();
    const auto run = [&](auto* yd) {
      for (int64_t o = 0; o < l.outer; ++o)
        for (int64_t a = 0; a < l.axis_dim; ++a) {
          const int64_t base = (o * l.axis_dim + a) * l.inner;
          for (int64_t i = 0; i < l.inner; ++i) {
            const int64_t p = l.param_index(o, a, i);
            const int32_t q = quantize_value(xd[base + i], s[p], z[p], qmin, qmax);
            if constexpr (std::is_same_v<decltype(yd), std::byte*>) store_int(out_t, base + i, q, yd);
            else yd[base + i] = static_cast<std::remove_pointer_t<decltype(yd)>>(q);
          }
        }
    };
    if (out_t == DType::kU8) run(y.mutable_data<uint8_t>());
    else if (out_t == DType::kI8) run(y.mutable_data<int8_t>());
    else run(out);
    ctx.outputs[0] = std::move(y);
    return Status::ok();
  }

 private:
  int64_t axis_, block_size_;
  DType default_out_;
};

class DequantizeLinearKernel final : public OpKernel {
 public:
  DequantizeLinearKernel(int64_t axis, int64_t block_size) : axis_(axis), block_size_(block_size) {}

  Status compute(KernelContext& ctx) override {
    BS_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "x"));
    BS_ASSIGN_OR_RETURN(const Tensor* scale, required_input(ctx, 1, "x_scale"));
    const Tensor* zp = ctx.input(2);
    int32_t qmin = 0, qmax = 0;
    if (!quant_range(x->dtype(), qmin, qmax))
      return ctx.unsupported_error("x dtype " + std::string(dtype_name(x->dtype())) + " is not supported");
    if (!is_dense_float(scale->dtype()) || scale->dtype() == DType::kF64)
      return ctx.unsupported_error("x_scale dtype " + std::string(dtype_name(scale->dtype())) + " is not supported");
    if (zp) BS_TRY(expect_dtype(ctx, *zp, x->dtype(), "x_zero_point"));
    QuantLayout l;
    BS_TRY(make_layout(ctx, x->shape(), *scale, axis_, block_size_, l));
    if (zp && zp->shape() != scale->shape() && !(zp->numel() == 1 && scale->numel() == 1))
      return ctx.error("x_zero_point shape " + shape_str(zp->shape()) + " differs from x_scale " + shape_str(scale->shape()));
    const std::vector<float> s = scale_values(*scale);
    const std::vector<int32_t> z = zp ? int_values32(*zp) : std::vector<int32_t>(s.size(), 0);
    Tensor yf(DType::kF32, x->shape());
    float* yd = yf.mutable_data<float>();
    const auto run = [&](const auto* xd) {
      for (int64_t o = 0; o < l.outer; ++o)
        for (int64_t a = 0; a < l.axis_dim; ++a) {
          const int64_t base = (o * l.axis_dim + a) * l.inner;
          if (l.block_size == 0) {
            const int64_t p = l.param_index(o, a, 0);
            const float sp = s[p];
            const int32_t zpv = z[p];
            for (int64_t i = 0; i < l.inner; ++i) yd[base + i] = static_cast<float>(static_cast<int32_t>(xd[base + i]) - zpv) * sp;
          } else {
            for (int64_t i = 0; i < l.inner; ++i) {
              const int64_t p = l.param_index(o, a, i);
              yd[base + i] = static_cast<float>(static_cast<int32_t>(xd[base + i]) - z[p]) * s[p];
            }
          }
        }
    };
    switch (x->dtype()) {
      case DType::kU8: run(x->data<uint8_t>()); break;
      case DType::kI8: run(x->data<int8_t>()); break;
      case DType::kU16: run(x->data<uint16_t>()); break;
      case DType::kI16: run(x->data<int16_t>()); break;
      case DType::kI32: run(x->data<int32_t>()); break;
      default: {  // packed 4-bit: unpack first
        const std::vector<int32_t> v = int_values32(*x);
        run(v.data());
        break;
      }
    }
    ctx.outputs[0] = scale->dtype() == DType::kF32 ? yf : narrow_from_f32(yf, scale->dtype());
    return Status::ok();
  }

 private:
  int64_t axis_, block_size_;
};

Status dynamic_quantize_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "x"));
  if (x->dtype() != DType::kF32 && x->dtype() != DType::kF16 && x->dtype() != DType::kBF16)
    return ctx.unsupported_error("x dtype " + std::string(dtype_name(x->dtype())) + " is not supported");
  const Tensor xf = as_f32(*x);
  Tensor y(DType::kU8, x->shape()), scale(DType::kF32, {}), zp(DType::kU8, {});
  ref::dynamic_quantize_linear(x->numel(), xf.data<float>(), y.mutable_data<uint8_t>(), scale.mutable_data<float>(),
                               zp.mutable_data<uint8_t>());
  ctx.outputs[0] = std::move(y);
  if (ctx.outputs.size() > 1) ctx.outputs[1] = std::move(scale);
  if (ctx.outputs.size() > 2) ctx.outputs[2] = std::move(zp);
  return Status::ok();
}

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_quantize_linear(const KernelInfo& info) {
  const Node& node = info.node;
  const int64_t axis = info.opset >= 13 ? node.attr_int("axis", 1) : 1;
  const int64_t block = info.opset >= 21 ? node.attr_int("block_size", 0) : 0;
  if (block < 0) return invalid_model(node.describe() + ": block_size " + std::to_string(block) + " is negative");
  DType out = DType::kU8;
  if (const int64_t code = node.attr_int("output_dtype", 0); code != 0) {
    const auto t = dtype_from_onnx(static_cast<int>(code));
    if (!t) return unsupported(node.describe() + ": output_dtype " + std::to_string(code) + " is not supported");
    out = *t;
  }
  return std::unique_ptr<OpKernel>(new QuantizeLinearKernel(axis, block, out));
}

Expected<std::unique_ptr<OpKernel>> make_dequantize_linear(const KernelInfo& info) {
  const Node& node = info.node;
  const int64_t axis = info.opset >= 13 ? node.attr_int("axis", 1) : 1;
  const int64_t block = info.opset >= 21 ? node.attr_int("block_size", 0) : 0;
  if (block < 0) return invalid_model(node.describe() + ": block_size " + std::to_string(block) + " is negative");
  return std::unique_ptr<OpKernel>(new DequantizeLinearKernel(axis, block));
}

Expected<std::unique_ptr<OpKernel>> make_dynamic_quantize_linear(const KernelInfo&) {
  return make_fn_kernel(&dynamic_quantize_compute);
}

}  // namespace bitsmith::kernels
