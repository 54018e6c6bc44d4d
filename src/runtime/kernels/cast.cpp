// Cast and CastLike between every numeric dtype, bool, f16, bf16 and string.
//
// Conversion rules (ONNX leaves out-of-range float -> integer undefined; C++ makes it UB, so we
// saturate): float -> integer truncates toward zero and clamps to the target range, NaN -> 0;
// integer -> integer wraps (two's complement, as C++20 defines); anything -> bool is `!= 0`
// (NaN -> true); bool -> number is 0 or 1; f16/bf16 are computed through f32 and rounded to
// nearest even. Numbers -> string use the shortest round-trip form ("0.1", "1e-05", "NaN", "INF",
// "-INF"); string -> number accepts decimal and scientific forms and INF/+INF/-INF/NaN in any case.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <type_traits>

#include "bitsmith/core/half.h"
#include "runtime/kernels/dispatch.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/shape_common.h"

namespace bitsmith::kernels {

using namespace movement;  // NOLINT(google-build-using-namespace): this group's helpers
namespace {

struct F16Tag {};
struct BF16Tag {};

// Storage and compute types of a cast tag.
template <class Tag> struct Repr { using storage = Tag; using value = Tag; };
template <> struct Repr<F16Tag> { using storage = uint16_t; using value = float; };
template <> struct Repr<BF16Tag> { using storage = uint16_t; using value = float; };
template <> struct Repr<bool> { using storage = uint8_t; using value = bool; };

template <class Tag>
typename Repr<Tag>::value load(typename Repr<Tag>::storage s) {
  if constexpr (std::is_same_v<Tag, F16Tag>) return f16_to_f32(s);
  else if constexpr (std::is_same_v<Tag, BF16Tag>) return bf16_to_f32(s);
  else if constexpr (std::is_same_v<Tag, bool>) return s != 0;
  else return s;
}

template <class Tag>
typename Repr<Tag>::storage store(typename Repr<Tag>::value v) {
  if constexpr (std::is_same_v<Tag, F16Tag>) return f32_to_f16(v);
  else if constexpr (std::is_same_v<Tag, BF16Tag>) return f32_to_bf16(v);
  else if constexpr (std::is_same_v<Tag, bool>) return v ? 1 : 0;
  else return v;
}

// One value of type S converted to D under the rules in the file comment.
template <class D, class S>
D convert(S v) {
  if constexpr (std::is_same_v<D, bool>) {
    return v != S(0);
  } else if constexpr (std::is_integral_v<D> && std::is_floating_point_v<S>) {
    if (std::isnan(v)) return 0;
    // Bounds as S: max() rounds up to a power of two for wide D, so `>=` catches it.
    constexpr S kHi = static_cast<S>(std::numeric_limits<D>::max());
    constexpr S kLo = static_cast<S>(std::numeric_limits<D>::lowest());
    if (v >= kHi) return std::numeric_limits<D>::max();
    if (v <= kLo) return std::numeric_limits<D>::lowest();
    return static_cast<D>(v);
  } else {
    return static_cast<D>(v);
  }
}

template <class Fn>
Status visit_cast_type(DType t, Fn&& fn) {
  if (t == DType::kF16) return fn(F16Tag{});
  if (t == DType::kBF16) return fn(BF16Tag{});
  return dispatch_numeric_or_bool(t, std::forward<Fn>(fn));
}

template <class V>
std::string format_number(V v) {
  if constexpr (std::is_floating_point_v<V>) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "INF" : "-INF";
    char buf[64];
    const V a = std::fabs(v);
    const bool fixed = a == 0 || (a >= V(1e-4) && a < V(1e16));
    auto r = std::to_chars(buf, buf + sizeof(buf), v, fixed ? std::chars_format::fixed : std::chars_format::scientific);
    return std::string(buf, r.ptr);
  } else if constexpr (std::is_same_v<V, bool>) {
    return v ? "1" : "0";
  } else {
    return std::to_string(v);
  }
}

// Parses `s` as V; false when it is not a number.
template <class V>
bool parse_number(const std::string& s, V& out) {
  const char* b = s.c_str();
  char* end = nullptr;
  if constexpr (std::is_floating_point_v<V> || std::is_same_v<V, bool>) {
    const double d = std::strtod(b, &end);  // accepts inf, +inf, nan, infinity (any case)
    if (end == b) return false;
    out = convert<V>(d);
  } else if constexpr (std::is_signed_v<V>) {
    const long long x = std::strtoll(b, &end, 10);
    if (end == b) return false;
    out = static_cast<V>(x);
  } else {
    const unsigned long long x = std::strtoull(b, &end, 10);
    if (end == b) return false;
    out = static_cast<V>(x);
  }
  while (*end == ' ' || *end == '\t') ++end;
  return *end == '\0';
}

// f16 <-> f32 through half.h's bulk converters (F16C when built with it), in chunks over the
// threads. Same values as the element-wise path (both round to nearest even and quiet NaNs).
bool cast_f16_f32_bulk(const Tensor& in, Tensor& out, int threads) {
  const bool widen = in.dtype() == DType::kF16 && out.dtype() == DType::kF32;
  const bool narrow = in.dtype() == DType::kF32 && out.dtype() == DType::kF16;
  if (!widen && !narrow) return false;
  const int64_t n = in.numel();
  constexpr int64_t kChunk = 1 << 14;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t i0 = c * kChunk;
    const size_t len = static_cast<size_t>(std::min(kChunk, n - i0));
    if (widen)
      f16_to_f32_n(reinterpret_cast<const uint16_t*>(in.bytes()) + i0, out.mutable_data<float>() + i0, len);
    else
      f32_to_f16_n(in.data<float>() + i0, reinterpret_cast<uint16_t*>(out.mutable_bytes()) + i0, len);
  }
  return true;
}

Status cast_numeric(const Tensor& in, Tensor& out, int threads) {
  const int64_t n = in.numel();
  if (cast_f16_f32_bulk(in, out, threads)) return Status::ok();
  return visit_cast_type(in.dtype(), [&](auto stag) -> Status {
    using S = decltype(stag);
    return visit_cast_type(out.dtype(), [&](auto dtag) -> Status {
      using D = decltype(dtag);
      using SS = typename Repr<S>::storage;
      using DS = typename Repr<D>::storage;
      using DV = typename Repr<D>::value;
      const SS* src = reinterpret_cast<const SS*>(in.bytes());
      DS* dst = reinterpret_cast<DS*>(out.mutable_bytes());
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int64_t i = 0; i < n; ++i) dst[i] = store<D>(convert<DV>(load<S>(src[i])));
      return Status::ok();
    });
  });
}

Status cast_to_string(const Tensor& in, Tensor& out) {
  return visit_cast_type(in.dtype(), [&](auto stag) -> Status {
    using S = decltype(stag);
    using SS = typename Repr<S>::storage;
    const SS* src = reinterpret_cast<const SS*>(in.bytes());
    std::vector<std::string>& dst = out.mutable_string_data();
    for (int64_t i = 0; i < in.numel(); ++i) dst[i] = format_number(load<S>(src[i]));
    return Status::ok();
  });
}

Status cast_from_string(const Tensor& in, Tensor& out) {
  return visit_cast_type(out.dtype(), [&](auto dtag) -> Status {
    using D = decltype(dtag);
    using DV = typename Repr<D>::value;
    auto* dst = reinterpret_cast<typename Repr<D>::storage*>(out.mutable_bytes());
    const std::vector<std::string>& src = in.string_data();
    for (int64_t i = 0; i < in.numel(); ++i) {
      DV v{};
      if (!parse_number(src[i], v))
        return invalid_argument("string \"" + src[i] + "\" at element " + std::to_string(i) + " is not a number");
      dst[i] = store<D>(v);
    }
    return Status::ok();
  });
}

}  // namespace

Status cast_tensor(const Tensor& in, DType to, Tensor& out, int num_threads) {
  if (in.dtype() == to) {
    out = in;
    return Status::ok();
  }
  out = Tensor(to, in.shape());
  if (in.dtype() == DType::kString && to == DType::kString) return Status::ok();
  if (in.dtype() == DType::kString) return cast_from_string(in, out);
  if (to == DType::kString) return cast_to_string(in, out);
  const int threads = threads_for(in.numel() * 8, num_threads);
  return cast_numeric(in, out, threads);
}

namespace {

// The 'to' attribute: an ONNX dtype code, or a type name before opset 6.
Expected<DType> cast_target(const Node& node) {
  const Attribute* a = node.find_attr("to");
  if (!a) return invalid_model("attribute 'to' is required");
  if (a->type == AttrType::kString) {
    static const std::pair<const char*, int> kNames[] = {
        {"FLOAT", 1},   {"UINT8", 2},   {"INT8", 3},   {"UINT16", 4},  {"INT16", 5},
        {"INT32", 6},   {"INT64", 7},   {"STRING", 8}, {"BOOL", 9},    {"FLOAT16", 10},
        {"DOUBLE", 11}, {"UINT32", 12}, {"UINT64", 13}};
    for (const auto& [name, code] : kNames)
      if (a->s == name) return *dtype_from_onnx(code);
    return invalid_model("'to' names an unknown type \"" + a->s + "\"");
  }
  auto t = dtype_from_onnx(static_cast<int>(a->i));
  if (!t) return invalid_model("'to' is an unknown dtype code " + std::to_string(a->i));
  return *t;
}

Status cast_run(KernelContext& ctx, const Tensor& in, DType to) {
  Tensor out;
  BS_TRY(with_node(ctx, cast_tensor(in, to, out, ctx.num_threads)));
  set_output(ctx, 0, std::move(out));
  return Status::ok();
}

bool castable(DType t) {
  return t == DType::kString || t == DType::kF16 || t == DType::kBF16 || t == DType::kBool ||
         (!is_sub_byte(t) && (is_integer(t) || t == DType::kF32 || t == DType::kF64));
}

class CastKernel final : public OpKernel {
 public:
  explicit CastKernel(DType to) : to_(to) {}
  Status compute(KernelContext& ctx) override {
    BS_ASSIGN_OR_RETURN(const Tensor* in, required_input(ctx, 0, "input"));
    if (!castable(in->dtype()) && in->dtype() != to_)
      return ctx.unsupported_error("cast from " + std::string(dtype_name(in->dtype())));
    return cast_run(ctx, *in, to_);
  }

 private:
  DType to_;
};

Status cast_like_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* in, required_input(ctx, 0, "input"));
  BS_ASSIGN_OR_RETURN(const Tensor* like, required_input(ctx, 1, "target_type"));
  if (in->dtype() != like->dtype() && (!castable(in->dtype()) || !castable(like->dtype())))
    return ctx.unsupported_error("cast from " + std::string(dtype_name(in->dtype())) + " to " +
                                 std::string(dtype_name(like->dtype())));
  return cast_run(ctx, *in, like->dtype());
}

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_cast(const KernelInfo& info) {
  Expected<DType> to = cast_target(info.node);
  if (!to) return to.status().with_context(info.node.describe());
  if (!castable(*to)) return unsupported(info.node.describe() + ": cast to " + std::string(dtype_name(*to)));
  return std::unique_ptr<OpKernel>(new CastKernel(*to));
}

Expected<std::unique_ptr<OpKernel>> make_cast_like(const KernelInfo&) { return make_fn_kernel(&cast_like_compute); }

}  // namespace bitsmith::kernels
