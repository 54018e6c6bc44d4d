// BatchNormalization (ONNX opsets 1..). Inference: y = x * a[c] + d[c] with
// a = scale / sqrt(var + epsilon) and d = bias - mean * a (per channel, folded in double).
// Training mode (training_mode=1, or extra outputs before opset 14) runs the reference.
// f16/bf16 widen to f32; scale/bias/mean/var may have their own float dtype (opset 15).
#include <cmath>
#include <memory>
#include <vector>

#include "runtime/kernels/dense_util.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/ref/norm_ref.h"

namespace bitsmith::kernels {
namespace {

std::vector<double> to_doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  if (t.dtype() == DType::kF64) {
    for (size_t i = 0; i < v.size(); ++i) v[i] = t.data<double>()[i];
  } else {
    const Tensor f = as_f32(t);
    for (size_t i = 0; i < v.size(); ++i) v[i] = f.data<float>()[i];
  }
  return v;
}

template <class T>
std::vector<T> cast_vec(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

class BatchNormKernel final : public OpKernel {
 public:
  BatchNormKernel(double epsilon, double momentum, bool training)
      : epsilon_(epsilon), momentum_(momentum), training_(training) {}

  Status compute(KernelContext& ctx) override {
    const char* names[5] = {"X", "scale", "B", "input_mean", "input_var"};
    const Tensor* in[5];
    for (size_t i = 0; i < 5; ++i) {
      BS_ASSIGN_OR_RETURN(in[i], required_input(ctx, i, names[i]));
      if (!is_dense_float(in[i]->dtype()))
        return ctx.unsupported_error(std::string(names[i]) + " dtype " + std::string(dtype_name(in[i]->dtype())) + " is not supported");
    }
    const Tensor& x = *in[0];
    if (x.rank() < 2) return ctx.error("X has shape " + shape_str(x.shape()) + ", expected rank >= 2");
    const int64_t n = x.dim(0), c = x.dim(1), s = x.numel() / std::max<int64_t>(n * c, 1);
    for (size_t i = 1; i < 5; ++i)
      if (in[i]->rank() != 1 || in[i]->dim(0) != c)
        return ctx.error(std::string(names[i]) + " has shape " + shape_str(in[i]->shape()) + ", expected [" +
                         std::to_string(c) + "] for X " + shape_str(x.shape()));
    const std::vector<double> scale = to_doubles(*in[1]), bias = to_doubles(*in[2]);
    const std::vector<double> mean = to_doubles(*in[3]), var = to_doubles(*in[4]);
    Tensor y(x.dtype(), x.shape());
    if (training_) return compute_training(ctx, x, n, c, s, scale, bias, mean, var, y);
    if (x.dtype() == DType::kF64) {
      ref::batch_norm<double>(n, c, s, x.data<double>(), scale.data(), bias.data(), mean.data(), var.data(),
                              epsilon_, y.mutable_data<double>());
    } else {
      std::vector<float> a(static_cast<size_t>(c)), d(static_cast<size_t>(c));
      for (int64_t ch = 0; ch < c; ++ch) {
        const double inv = scale[ch] / std::sqrt(var[ch] + epsilon_);
        a[ch] = static_cast<float>(inv);
        d[ch] = static_cast<float>(bias[ch] - mean[ch] * inv);
      }
      const Tensor xf = as_f32(x);
      Tensor yf = x.dtype() == DType::kF32 ? y : Tensor(DType::kF32, x.shape());
      const float* xd = xf.data<float>();
      float* yd = yf.mutable_data<float>();
      parallel_items(n * c, n * c * s >= 32768 ? ctx.num_threads : 1, [&](int64_t p) {
        const float av = a[p % c], dv = d[p % c];
        const float* xs = xd + p * s;
        float* ys = yd + p * s;
        for (int64_t j = 0; j < s; ++j) ys[j] = xs[j] * av + dv;
      });
      if (x.dtype() != DType::kF32) y = narrow_from_f32(yf, x.dtype());
    }
    ctx.outputs[0] = std::move(y);
    return Status::ok();
  }

 private:
  // Outputs 1 and 2: running mean / var (opset >= 14) or mean, var, saved_mean, saved_var (< 14).
  Status compute_training(KernelContext& ctx, const Tensor& x, int64_t n, int64_t c, int64_t s,
                          const std::vector<double>& scale, const std::vector<double>& bias,
                          const std::vector<double>& mean, const std::vector<double>& var, Tensor& y) {
    std::vector<double> xs(static_cast<size_t>(x.numel()));
    if (x.dtype() == DType::kF64) {
      for (size_t i = 0; i < xs.size(); ++i) xs[i] = x.data<double>()[i];
    } else {
      const Tensor xf = as_f32(x);
      for (size_t i = 0; i < xs.size(); ++i) xs[i] = xf.data<float>()[i];
    }
    std::vector<double> yd(xs.size()), rm(static_cast<size_t>(c)), rv(static_cast<size_t>(c));
    std::vector<double> bm(static_cast<size_t>(c)), bv(static_cast<size_t>(c));
    ref::batch_norm_training<double>(n, c, s, xs.data(), scale.data(), bias.data(), mean.data(), var.data(),
                                     epsilon_, momentum_, yd.data(), rm.data(), rv.data(), bm.data(), bv.data());
    const auto emit = [&](const std::vector<double>& v, const Shape& shape) {
      Tensor d(DType::kF64, shape);
      for (size_t i = 0; i < v.size(); ++i) d.mutable_data<double>()[i] = v[i];
      return x.dtype() == DType::kF64 ? d : convert_float(d, x.dtype());
    };
    y = emit(yd, x.shape());
    ctx.outputs[0] = y;
    const Shape cs{c};
    const std::vector<double>* extra[4] = {&rm, &rv, &bm, &bv};  // opset < 14 adds saved_mean/var
    for (size_t i = 1; i < ctx.outputs.size() && i <= 4; ++i)
      if (!ctx.node.outputs[i].empty()) ctx.outputs[i] = emit(*extra[i - 1], cs);
    return Status::ok();
  }

  double epsilon_, momentum_;
  bool training_;
};

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_batch_normalization(const KernelInfo& info) {
  const Node& node = info.node;
  if (node.find_attr("spatial") && node.attr_int("spatial", 1) == 0)
    return unsupported(node.describe() + ": BatchNormalization with spatial=0 is not supported");
  bool training = false;
  if (info.opset >= 14) {
    training = node.attr_int("training_mode", 0) != 0;
  } else {
    for (size_t i = 1; i < node.outputs.size(); ++i) training = training || !node.outputs[i].empty();
  }
  return std::unique_ptr<OpKernel>(new BatchNormKernel(node.attr_float("epsilon", 1e-5f),
                                                       node.attr_float("momentum", 0.9f), training));
}

}  // namespace bitsmith::kernels
