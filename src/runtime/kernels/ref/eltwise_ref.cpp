#include "runtime/kernels/ref/eltwise_ref.h"

#include <algorithm>

namespace bitsmith::kernels::elt {

bool unary_accepts_integers(UnaryOp op) {
  switch (op) {
    case UnaryOp::kAbs:
    case UnaryOp::kNeg:
    case UnaryOp::kSign:
    case UnaryOp::kRelu:
    case UnaryOp::kErf:
    case UnaryOp::kShrink:
      return true;
    default:
      return false;
  }
}

namespace {

double unary_maths(UnaryOp op, double x) {
  switch (op) {
    case UnaryOp::kAbs: return std::fabs(x);
    case UnaryOp::kNeg: return -x;
    case UnaryOp::kSign: return x > 0 ? 1.0 : (x < 0 ? -1.0 : x);  // keeps 0, -0 and NaN
    case UnaryOp::kSqrt: return std::sqrt(x);
    case UnaryOp::kReciprocal: return 1.0 / x;
    case UnaryOp::kExp: return std::exp(x);
    case UnaryOp::kLog: return std::log(x);
    case UnaryOp::kFloor: return std::floor(x);
    case UnaryOp::kCeil: return std::ceil(x);
    case UnaryOp::kRound: return std::nearbyint(x);  // half to even (default rounding mode)
    case UnaryOp::kErf: return std::erf(x);
    case UnaryOp::kSin: return std::sin(x);
    case UnaryOp::kCos: return std::cos(x);
    case UnaryOp::kTan: return std::tan(x);
    case UnaryOp::kAsin: return std::asin(x);
    case UnaryOp::kAcos: return std::acos(x);
    case UnaryOp::kAtan: return std::atan(x);
    case UnaryOp::kSinh: return std::sinh(x);
    case UnaryOp::kCosh: return std::cosh(x);
    case UnaryOp::kAsinh: return std::asinh(x);
    case UnaryOp::kAcosh: return std::acosh(x);
    case UnaryOp::kAtanh: return std::atanh(x);
    default: return x;
  }
}

}  // namespace

double unary_double(UnaryOp op, double x, const UnaryParams& p) {
  switch (op) {
    case UnaryOp::kRelu: return x < 0 ? 0.0 : x;
    case UnaryOp::kLeakyRelu: return x < 0 ? p.alpha * x : x;
    case UnaryOp::kThresholdedRelu: return x > p.alpha ? x : 0.0;
    case UnaryOp::kSigmoid: return 1.0 / (1.0 + std::exp(-x));
    case UnaryOp::kHardSigmoid: return std::max(0.0, std::min(1.0, p.alpha * x + p.beta));
    case UnaryOp::kHardSwish: return x * std::max(0.0, std::min(1.0, x / 6.0 + 0.5));
    case UnaryOp::kTanh: return std::tanh(x);
    case UnaryOp::kGeluErf: return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
    case UnaryOp::kGeluTanh: {
      // 0.5 x (1 + tanh(u)) == x / (1 + exp(-2u)), without the cancellation for large negative x.
      const double u = std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
      return x / (1.0 + std::exp(-2.0 * u));
    }
    case UnaryOp::kElu: return x < 0 ? p.alpha * std::expm1(x) : x;
    case UnaryOp::kSelu: return p.gamma * (x <= 0 ? p.alpha * std::expm1(x) : x);
    case UnaryOp::kCelu: return std::max(0.0, x) + std::min(0.0, p.alpha * std::expm1(x / p.alpha));
    case UnaryOp::kSoftplus: return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
    case UnaryOp::kSoftsign: return x / (1.0 + std::fabs(x));
    case UnaryOp::kShrink: return x < -p.alpha ? x + p.beta : (x > p.alpha ? x - p.beta : 0.0);
    default: return unary_maths(op, x);
  }
}

}  // namespace bitsmith::kernels::elt
