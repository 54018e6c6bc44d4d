// Scalar reference code for the elementwise kernels: the ground truth the fast paths in
// unary.cpp / activation.cpp / binary.cpp / compare_logic.cpp / variadic.cpp are tested against,
// and the path those kernels take for dtypes without a fast path (f64, integers).
//
// Float maths is done in double and rounded once to the element type. Integer arithmetic wraps
// (two's complement) instead of overflowing; integer division and modulo by zero are rejected by
// the kernels before any of this runs.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "bitsmith/core/shape.h"
#include "runtime/kernels/broadcast.h"

namespace bitsmith::kernels::elt {

// ---- unary ----

enum class UnaryOp {
  // maths
  kAbs, kNeg, kSign, kSqrt, kReciprocal, kExp, kLog, kFloor, kCeil, kRound, kErf,
  kSin, kCos, kTan, kAsin, kAcos, kAtan, kSinh, kCosh, kAsinh, kAcosh, kAtanh,
  // activations (parameters in UnaryParams, named after the ONNX attributes)
  kRelu,
  kLeakyRelu,        // alpha
  kThresholdedRelu,  // alpha
  kSigmoid,
  kHardSigmoid,      // alpha, beta: max(0, min(1, alpha x + beta))
  kHardSwish,        // x * HardSigmoid(x) with alpha 1/6, beta 0.5
  kTanh,
  kGeluErf,          // 0.5 x (1 + erf(x / sqrt 2))
  kGeluTanh,         // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  kElu,              // alpha
  kSelu,             // alpha, gamma
  kCelu,             // alpha
  kSoftplus,
  kSoftsign,
  kShrink,           // alpha = lambd, beta = bias
};

struct UnaryParams {
  double alpha = 0.0;
  double beta = 0.0;
  double gamma = 0.0;
};

// Ops that accept integer inputs (the rest are float-only).
bool unary_accepts_integers(UnaryOp op);

// The op on one value in double precision.
double unary_double(UnaryOp op, double x, const UnaryParams& p);

// Wrapping integer arithmetic: computed in an unsigned type at least 32 bits wide.
template <class T>
using WrapType = std::conditional_t<(sizeof(T) < 4), uint32_t, std::make_unsigned_t<T>>;
template <class T> T wrap_add(T a, T b) {
  if constexpr (std::is_integral_v<T>) return static_cast<T>(WrapType<T>(a) + WrapType<T>(b));
  else return a + b;
}
template <class T> T wrap_sub(T a, T b) {
  if constexpr (std::is_integral_v<T>) return static_cast<T>(WrapType<T>(a) - WrapType<T>(b));
  else return a - b;
}
template <class T> T wrap_mul(T a, T b) {
  if constexpr (std::is_integral_v<T>) return static_cast<T>(WrapType<T>(a) * WrapType<T>(b));
  else return a * b;
}
template <class T> T wrap_neg(T a) { return wrap_sub(T(0), a); }
// v < 0 without a tautological comparison for unsigned types.
template <class T> bool is_negative(T v) {
  if constexpr (std::is_signed_v<T>) return v < T(0);
  else return false;
}

// The op on one value of type T (integers: Abs, Neg, Sign and Relu exactly; other ops through
// double).
template <class T>
T unary_value(UnaryOp op, T x, const UnaryParams& p) {
  if constexpr (std::is_integral_v<T>) {
    switch (op) {
      case UnaryOp::kAbs: return is_negative(x) ? wrap_neg(x) : x;
      case UnaryOp::kNeg: return wrap_neg(x);
      case UnaryOp::kSign: return x > T(0) ? T(1) : (is_negative(x) ? wrap_neg(T(1)) : T(0));
      case UnaryOp::kRelu: return is_negative(x) ? T(0) : x;
      default: return static_cast<T>(unary_double(op, static_cast<double>(x), p));
    }
  } else {
    return static_cast<T>(unary_double(op, static_cast<double>(x), p));
  }
}

template <class T>
void unary_ref(UnaryOp op, const UnaryParams& p, const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = unary_value(op, x[i], p);
}

// ---- binary (functors shared by the reference and the fast loops, so both agree bitwise) ----

struct AddOp { template <class T> T operator()(T a, T b) const { return wrap_add(a, b); } };
struct SubOp { template <class T> T operator()(T a, T b) const { return wrap_sub(a, b); } };
struct MulOp { template <class T> T operator()(T a, T b) const { return wrap_mul(a, b); } };
// Integer division truncates toward zero; b == 0 gives 0 (kernels reject it first).
struct DivOp {
  template <class T> T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      if (b == T(0)) return T(0);
      if constexpr (std::is_signed_v<T>) {
        if (b == T(-1)) return wrap_neg(a);
      }
      return static_cast<T>(a / b);
    } else {
      return a / b;
    }
  }
};
// fmod = true: C fmod (sign of the dividend); false: Python/numpy mod (sign of the divisor).
struct ModOp {
  bool fmod = false;
  template <class T> T operator()(T a, T b) const {
    T r;
    if constexpr (std::is_integral_v<T>) {
      if (b == T(0)) return T(0);
      if constexpr (std::is_signed_v<T>) {
        if (b == T(-1)) return T(0);
      }
      r = static_cast<T>(a % b);
    } else {
      r = static_cast<T>(std::fmod(a, b));
    }
    if constexpr (std::is_signed_v<T>) {
      if (!fmod && r != T(0) && (is_negative(r) != is_negative(b))) r = wrap_add(r, b);
    }
    return r;
  }
};
template <class T> bool is_nan_value(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}
// NaN-propagating like numpy.maximum / numpy.minimum.
struct MaxOp { template <class T> T operator()(T a, T b) const { return (b > a || is_nan_value(b)) ? b : a; } };
struct MinOp { template <class T> T operator()(T a, T b) const { return (b < a || is_nan_value(b)) ? b : a; } };
// a = X, b = slope.
struct PReluOp { template <class T> T operator()(T a, T b) const { return is_negative(a) ? wrap_mul(a, b) : a; } };
// Shifts of `bits` >= the type's width give 0.
struct ShlOp {
  template <class T> T operator()(T a, T b) const {
    return b >= T(sizeof(T) * 8) ? T(0) : static_cast<T>(WrapType<T>(a) << b);
  }
};
struct ShrOp {
  template <class T> T operator()(T a, T b) const { return b >= T(sizeof(T) * 8) ? T(0) : static_cast<T>(a >> b); }
};
struct EqualOp { template <class T> bool operator()(T a, T b) const { return a == b; } };
struct LessOp { template <class T> bool operator()(T a, T b) const { return a < b; } };
struct GreaterOp { template <class T> bool operator()(T a, T b) const { return a > b; } };
struct LessEqualOp { template <class T> bool operator()(T a, T b) const { return a <= b; } };
struct GreaterEqualOp { template <class T> bool operator()(T a, T b) const { return a >= b; } };
struct AndOp { bool operator()(bool a, bool b) const { return a && b; } };
struct OrOp { bool operator()(bool a, bool b) const { return a || b; } };
struct XorOp { bool operator()(bool a, bool b) const { return a != b; } };

// y[i] = f(a[ia], b[ib]) over the broadcast of a_shape and b_shape (= y_shape), one element at a
// time in row-major order.
template <class T, class U, class F>
void binary_ref(const T* a, const Shape& a_shape, const T* b, const Shape& b_shape, U* y,
                const Shape& y_shape, F f) {
  const std::vector<std::vector<int64_t>> strides = {broadcast_strides(a_shape, y_shape),
                                                     broadcast_strides(b_shape, y_shape)};
  for_each_broadcast(y_shape, strides, [&](int64_t i, const int64_t* off) { y[i] = f(a[off[0]], b[off[1]]); });
}

}  // namespace bitsmith::kernels::elt
