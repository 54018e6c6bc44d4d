// Resize (opset 10: scales input, asymmetric coordinates; opset 11+: roi/scales/sizes inputs and
// every coordinate_transformation_mode) and Upsample (opset 7 scales attribute, opset 9 input).
//
// Semantics follow ONNX's reference (onnx/backend/test/case/node/resize.py): the resized length
// used by the coordinate formulas is `scale * input_length` (a real number) when scales are
// given and the integer size when sizes are given; taps outside the input are clamped to the
// edge (cubic with exclude_outside drops them and renormalises). Each output axis gets a table
// of (input index, weight) taps; an output value is the nested weighted sum over axes,
// innermost axis first. Interpolation runs in f64; integer outputs are rounded to nearest.
// Nearest mode on opset < 11 ("simple", as ONNX Runtime does it): floor when upsampling, ceil
// when downsampling.
#include <algorithm>
#include <cmath>

#include "runtime/kernels/kernels.h"
#include "runtime/kernels/shape_common.h"

namespace bitsmith::kernels {

using namespace movement;  // NOLINT(google-build-using-namespace): this group's helpers
namespace {

enum class Interp { kNearest, kLinear, kCubic };
enum class Coord { kHalfPixel, kPytorchHalfPixel, kAlignCorners, kAsymmetric, kTfHalfPixelForNn, kTfCropAndResize };
enum class Nearest { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil, kSimple };

struct ResizeAttrs {
  Interp interp = Interp::kNearest;
  Coord coord = Coord::kHalfPixel;
  Nearest nearest = Nearest::kRoundPreferFloor;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  double extrapolation = 0.0;
};

Expected<ResizeAttrs> parse_attrs(const Node& node, int64_t opset, bool upsample) {
  ResizeAttrs a;
  const std::string mode = node.attr_string("mode", "nearest");
  if (mode == "nearest") a.interp = Interp::kNearest;
  else if (mode == "linear" || mode == "bilinear") a.interp = Interp::kLinear;
  else if (mode == "cubic" && !upsample && opset >= 11) a.interp = Interp::kCubic;
  else return invalid_model("mode \"" + mode + "\" is not supported");
  if (upsample || opset < 11) {
    a.coord = Coord::kAsymmetric;
    a.nearest = Nearest::kSimple;
    return a;
  }
  const std::string coord = node.attr_string("coordinate_transformation_mode", "half_pixel");
  static const std::pair<const char*, Coord> kCoords[] = {
      {"half_pixel", Coord::kHalfPixel}, {"pytorch_half_pixel", Coord::kPytorchHalfPixel},
      {"align_corners", Coord::kAlignCorners}, {"asymmetric", Coord::kAsymmetric},
      {"tf_half_pixel_for_nn", Coord::kTfHalfPixelForNn}, {"tf_crop_and_resize", Coord::kTfCropAndResize}};
  bool found = false;
  for (const auto& [name, c] : kCoords)
    if (coord == name) a.coord = c, found = true;
  if (!found) return invalid_model("coordinate_transformation_mode \"" + coord + "\" is not supported");
  const std::string nm = node.attr_string("nearest_mode", "round_prefer_floor");
  if (nm == "round_prefer_floor") a.nearest = Nearest::kRoundPreferFloor;
  else if (nm == "round_prefer_ceil") a.nearest = Nearest::kRoundPreferCeil;
  else if (nm == "floor") a.nearest = Nearest::kFloor;
  else if (nm == "ceil") a.nearest = Nearest::kCeil;
  else return invalid_model("nearest_mode \"" + nm + "\" is not supported");
  a.cubic_a = node.attr_float("cubic_coeff_a", -0.75f);
  a.exclude_outside = node.attr_int("exclude_outside", 0) != 0;
  a.extrapolation = node.attr_float("extrapolation_value", 0.f);
  if (node.attr_int("antialias", 0) != 0) return unsupported("antialias is not supported");
  if (node.find_attr("axes")) return unsupported("the 'axes' attribute (opset 18) is not supported");
  if (node.attr_string("keep_aspect_ratio_policy", "stretch") != "stretch")
    return unsupported("keep_aspect_ratio_policy other than stretch is not supported");
  return a;
}

// The taps of one output axis: output coordinate o reads idx[begin[o] .. begin[o+1]) with
// weights w; extrapolate[o] marks tf_crop_and_resize coordinates outside the input.
struct AxisTaps {
  std::vector<int64_t> begin{0};
  std::vector<int64_t> idx;
  std::vector<double> w;
  std::vector<uint8_t> extrapolate;
};

double cubic_weight(double t, double a) {
  t = std::fabs(t);
  if (t <= 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

// Input coordinate of output coordinate x (may lie outside [0, in_len - 1]).
double source_coord(const ResizeAttrs& a, double x, int64_t in_len, double out_len_f, double scale,
                    double roi_start, double roi_end) {
  switch (a.coord) {
    case Coord::kHalfPixel: return (x + 0.5) / scale - 0.5;
    case Coord::kPytorchHalfPixel: return out_len_f > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
    case Coord::kAlignCorners: return out_len_f == 1 ? 0.0 : x * (in_len - 1) / (out_len_f - 1);
    case Coord::kAsymmetric: return x / scale;
    case Coord::kTfHalfPixelForNn: return (x + 0.5) / scale;
    case Coord::kTfCropAndResize:
      return out_len_f > 1 ? roi_start * (in_len - 1) + x * (roi_end - roi_start) * (in_len - 1) / (out_len_f - 1)
                           : 0.5 * (roi_start + roi_end) * (in_len - 1);
  }
  return 0.0;
}

AxisTaps axis_taps(const ResizeAttrs& a, int64_t in_len, int64_t out_len, double out_len_f, double scale,
                   double roi_start, double roi_end) {
  AxisTaps t;
  auto add = [&](int64_t i, double w) {
    if (w == 0.0) return;
    t.idx.push_back(std::clamp<int64_t>(i, 0, in_len - 1));
    t.w.push_back(w);
  };
  for (int64_t o = 0; o < out_len; ++o) {
    const double x = source_coord(a, static_cast<double>(o), in_len, out_len_f, scale, roi_start, roi_end);
    const bool outside = a.coord == Coord::kTfCropAndResize && (x < 0 || x > in_len - 1);
    t.extrapolate.push_back(outside ? 1 : 0);
    const int64_t base = static_cast<int64_t>(std::ceil(x)) - 1;  // taps start here; ratio in (0, 1]
    const double ratio = x - static_cast<double>(base);
    if (outside) {
      // no taps: the value is the extrapolation value
    } else if (a.interp == Interp::kNearest) {
      bool up = true;  // pick base + 1 (else base)
      if (ratio != 1.0) {
        switch (a.nearest) {
          case Nearest::kRoundPreferFloor: up = ratio > 0.5; break;
          case Nearest::kRoundPreferCeil: up = ratio >= 0.5; break;
          case Nearest::kFloor: up = false; break;
          case Nearest::kCeil: up = true; break;
          case Nearest::kSimple: up = scale < 1.0; break;
        }
      }
      add(up ? base + 1 : base, 1.0);
    } else if (a.interp == Interp::kLinear) {
      add(base, 1.0 - ratio);
      add(base + 1, ratio);
    } else {
      double w[4];
      double sum = 0;
      for (int k = 0; k < 4; ++k) {
        const int64_t i = base - 1 + k;
        w[k] = cubic_weight(ratio + 1 - k, a.cubic_a);
        if (a.exclude_outside && (i < 0 || i >= in_len)) w[k] = 0;
        sum += w[k];
      }
      for (int k = 0; k < 4; ++k) add(base - 1 + k, a.exclude_outside ? w[k] / sum : w[k]);
    }
    t.begin.push_back(static_cast<int64_t>(t.idx.size()));
  }
  return t;
}

struct Plan {
  Shape out_shape;
  std::vector<AxisTaps> taps;
};

// Value at output multi-index `o` for axes [axis, rank), reading input from `off`.
double interpolate(const Plan& p, const double* in, const std::vector<int64_t>& strides, const int64_t* o,
                   size_t axis, int64_t off, double extrapolation) {
  if (axis == p.taps.size()) return in[off];
  const AxisTaps& t = p.taps[axis];
  if (t.extrapolate[o[axis]]) return extrapolation;
  double sum = 0;
  for (int64_t k = t.begin[o[axis]]; k < t.begin[o[axis] + 1]; ++k)
    sum += t.w[k] * interpolate(p, in, strides, o, axis + 1, off + t.idx[k] * strides[axis], extrapolation);
  return sum;
}

Status run_interpolation(KernelContext& ctx, const Tensor& x, const Plan& p, const ResizeAttrs& a) {
  const size_t rank = p.out_shape.size();
  const std::vector<int64_t> strides = shape_strides(x.shape());
  const int64_t n = shape_numel(p.out_shape);
  const int threads = threads_for(n * 64, ctx.num_threads);
  if (a.interp == Interp::kNearest && a.coord != Coord::kTfCropAndResize) {
    // Pure gather: one tap per axis, any dtype.
    Tensor& out = alloc_output(ctx, 0, x.dtype(), p.out_shape);
    return with_node(ctx, dispatch_by_size(x.dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      const T* src = elems<T>(x);
      T* dst = mutable_elems<T>(out);
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int64_t flat = 0; flat < n; ++flat) {
        int64_t rem = flat, off = 0;
        for (size_t d = rank; d-- > 0;) {
          const int64_t c = rem % p.out_shape[d];
          rem /= p.out_shape[d];
          off += p.taps[d].idx[p.taps[d].begin[c]] * strides[d];
        }
        dst[flat] = src[off];
      }
      return Status::ok();
    }));
  }
  if (x.dtype() == DType::kString || x.dtype() == DType::kBool)
    return ctx.unsupported_error("interpolation of " + std::string(dtype_name(x.dtype())) + " tensors");
  Tensor xd;
  BS_TRY(with_node(ctx, cast_tensor(x, DType::kF64, xd, ctx.num_threads)));
  Tensor yd(DType::kF64, p.out_shape);
  const double* in = xd.data<double>();
  double* y = yd.mutable_data<double>();
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t flat = 0; flat < n; ++flat) {
    int64_t o[16];
    int64_t rem = flat;
    for (size_t d = rank; d-- > 0;) {
      o[d] = rem % p.out_shape[d];
      rem /= p.out_shape[d];
    }
    y[flat] = interpolate(p, in, strides, o, 0, 0, a.extrapolation);
  }
  if (is_integer(x.dtype()))
    for (int64_t i = 0; i < n; ++i) y[i] = std::nearbyint(y[i]);
  Tensor out;
  BS_TRY(with_node(ctx, cast_tensor(yd, x.dtype(), out, ctx.num_threads)));
  set_output(ctx, 0, std::move(out));
  return Status::ok();
}

// Builds the plan from either per-axis scales or output sizes (exactly one non-empty).
Expected<Plan> make_plan(const Tensor& x, const ResizeAttrs& a, const std::vector<double>& scales,
                         const std::vector<int64_t>& sizes, const std::vector<double>& roi) {
  const int64_t rank = x.rank();
  if (rank > 16) return unsupported("rank above 16");
  const bool by_size = !sizes.empty();
  if (static_cast<int64_t>(by_size ? sizes.size() : scales.size()) != rank)
    return invalid_model(std::string(by_size ? "sizes" : "scales") + " must have one entry per input dim (" +
                         std::to_string(rank) + ")");
  if (!roi.empty() && static_cast<int64_t>(roi.size()) != 2 * rank)
    return invalid_model("roi must have " + std::to_string(2 * rank) + " entries");
  Plan p;
  for (int64_t d = 0; d < rank; ++d) {
    const int64_t in_len = x.dim(static_cast<int>(d));
    const double rs = roi.empty() ? 0.0 : roi[d], re = roi.empty() ? 1.0 : roi[rank + d];
    int64_t out_len = 0;
    double scale = 0, out_len_f = 0;
    if (by_size) {
      out_len = sizes[d];
      if (out_len < 0) return invalid_model("sizes has a negative entry");
      scale = in_len > 0 ? static_cast<double>(out_len) / in_len : 1.0;
      out_len_f = static_cast<double>(out_len);
    } else {
      scale = scales[d];
      if (!(scale > 0)) return invalid_model("scales must be positive");
      const double span = a.coord == Coord::kTfCropAndResize ? re - rs : 1.0;
      out_len_f = scale * in_len;
      out_len = static_cast<int64_t>(std::floor(in_len * span * scale));
    }
    if (in_len == 0 && out_len > 0) return invalid_model("cannot resize an empty dim to a non-empty one");
    p.out_shape.push_back(out_len);
    p.taps.push_back(axis_taps(a, in_len, out_len, out_len_f, scale, rs, re));
  }
  BS_TRY(check_shape(p.out_shape, "output shape"));
  return p;
}

class ResizeKernel final : public OpKernel {
 public:
  ResizeKernel(ResizeAttrs a, int64_t opset, bool upsample, std::vector<double> attr_scales)
      : a_(a), opset_(opset), upsample_(upsample), attr_scales_(std::move(attr_scales)) {}

  Status compute(KernelContext& ctx) override {
    BS_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
    std::vector<double> scales = attr_scales_, roi;
    std::vector<int64_t> sizes;
    if (upsample_ || opset_ < 11) {
      if (scales.empty()) {
        BS_ASSIGN_OR_RETURN(const Tensor* s, required_input(ctx, 1, "scales"));
        BS_ASSIGN_OR_RETURN(scales, with_node(ctx, read_float_list(*s, "scales")));
      }
    } else {
      if (const Tensor* r = ctx.input(1); r && r->numel() > 0 && a_.coord == Coord::kTfCropAndResize) {
        BS_ASSIGN_OR_RETURN(roi, with_node(ctx, read_float_list(*r, "roi")));
      }
      if (const Tensor* s = ctx.input(2); s && s->numel() > 0) {
        BS_ASSIGN_OR_RETURN(scales, with_node(ctx, read_float_list(*s, "scales")));
      }
      if (const Tensor* s = ctx.input(3); s && s->numel() > 0) {
        BS_ASSIGN_OR_RETURN(sizes, with_node(ctx, read_int_list(*s, "sizes")));
      }
      if (scales.empty() == sizes.empty()) return ctx.error("exactly one of scales and sizes must be given");
    }
    if (!sizes.empty()) scales.clear();
    BS_ASSIGN_OR_RETURN(Plan p, with_node(ctx, make_plan(*x, a_, scales, sizes, roi)));
    return run_interpolation(ctx, *x, p, a_);
  }

 private:
  ResizeAttrs a_;
  int64_t opset_;
  bool upsample_;
  std::vector<double> attr_scales_;  // Upsample-7's 'scales' attribute
};

Expected<std::unique_ptr<OpKernel>> make_resize_kernel(const KernelInfo& info, bool upsample) {
  Expected<ResizeAttrs> a = parse_attrs(info.node, info.opset, upsample);
  if (!a) return a.status().with_context(info.node.describe());
  std::vector<double> attr_scales;
  if (upsample && info.opset < 9) {
    for (float s : info.node.attr_floats("scales")) attr_scales.push_back(s);
    if (attr_scales.empty()) return invalid_model(info.node.describe() + ": attribute 'scales' is required");
  }
  return std::unique_ptr<OpKernel>(new ResizeKernel(*a, info.opset, upsample, std::move(attr_scales)));
}

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_resize(const KernelInfo& info) { return make_resize_kernel(info, false); }
Expected<std::unique_ptr<OpKernel>> make_upsample(const KernelInfo& info) { return make_resize_kernel(info, true); }

}  // namespace bitsmith::kernels
