// Scalar reference for the Reduce* ops (reduce.cpp): one element at a time over the whole input in
// row-major order, each output accumulating its inputs in that order. The fast path in reduce.cpp
// accumulates each output in the same order, so the two agree bitwise.
//
// Accumulators: double for float inputs, int64/uint64 (wrapping) for integers. LogSumExp shifts by
// the slice maximum (when finite) before exponentiating; it is float-only.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "bitsmith/core/shape.h"
#include "runtime/kernels/broadcast.h"
#include "runtime/kernels/ref/eltwise_ref.h"

namespace bitsmith::kernels::elt {

enum class ReduceOp { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

template <class T>
struct Reducer {
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double,
                                 std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>;
  ReduceOp op;

  Acc init() const {
    if (op == ReduceOp::kProd) return Acc(1);
    if constexpr (std::is_floating_point_v<T>) {
      if (op == ReduceOp::kMax) return -std::numeric_limits<double>::infinity();
      if (op == ReduceOp::kMin) return std::numeric_limits<double>::infinity();
    } else {
      if (op == ReduceOp::kMax) return static_cast<Acc>(std::numeric_limits<T>::lowest());
      if (op == ReduceOp::kMin) return static_cast<Acc>(std::numeric_limits<T>::max());
    }
    return Acc(0);
  }

  // One accumulation step of op kOp (compile-time, for loops that hoist the dispatch); `shift` is
  // the slice maximum for LogSumExp (0 when not finite), unused otherwise.
  template <ReduceOp kOp>
  static Acc add_as(Acc acc, T value, Acc shift) {
    const Acc v = static_cast<Acc>(value);
    if constexpr (kOp == ReduceOp::kProd) return wrap_mul(acc, v);
    else if constexpr (kOp == ReduceOp::kMax) return MaxOp{}(acc, v);
    else if constexpr (kOp == ReduceOp::kMin) return MinOp{}(acc, v);
    else if constexpr (kOp == ReduceOp::kL1) return wrap_add(acc, is_negative(v) ? wrap_neg(v) : v);
    else if constexpr (kOp == ReduceOp::kL2 || kOp == ReduceOp::kSumSquare) return wrap_add(acc, wrap_mul(v, v));
    else if constexpr (kOp == ReduceOp::kLogSumExp) {
      if constexpr (std::is_floating_point_v<T>) return acc + std::exp(v - shift);
      else return acc;
    } else {
      return wrap_add(acc, v);  // Sum, Mean, LogSum
    }
  }

  Acc add(Acc acc, T value, Acc shift) const {
    switch (op) {
      case ReduceOp::kSum: return add_as<ReduceOp::kSum>(acc, value, shift);
      case ReduceOp::kMean: return add_as<ReduceOp::kMean>(acc, value, shift);
      case ReduceOp::kMax: return add_as<ReduceOp::kMax>(acc, value, shift);
      case ReduceOp::kMin: return add_as<ReduceOp::kMin>(acc, value, shift);
      case ReduceOp::kProd: return add_as<ReduceOp::kProd>(acc, value, shift);
      case ReduceOp::kL1: return add_as<ReduceOp::kL1>(acc, value, shift);
      case ReduceOp::kL2: return add_as<ReduceOp::kL2>(acc, value, shift);
      case ReduceOp::kLogSum: return add_as<ReduceOp::kLogSum>(acc, value, shift);
      case ReduceOp::kLogSumExp: return add_as<ReduceOp::kLogSumExp>(acc, value, shift);
      case ReduceOp::kSumSquare: return add_as<ReduceOp::kSumSquare>(acc, value, shift);
    }
    return acc;
  }

  T finish(Acc acc, int64_t count, Acc shift) const {
    switch (op) {
      case ReduceOp::kMean:
        if constexpr (std::is_floating_point_v<T>) return static_cast<T>(acc / static_cast<double>(count));
        else return count ? static_cast<T>(acc / static_cast<Acc>(count)) : T(0);
      case ReduceOp::kL2: return static_cast<T>(std::sqrt(static_cast<double>(acc)));
      case ReduceOp::kLogSum: return static_cast<T>(std::log(static_cast<double>(acc)));
      case ReduceOp::kLogSumExp: return static_cast<T>(static_cast<double>(shift) + std::log(static_cast<double>(acc)));
      default: return static_cast<T>(acc);
    }
  }
};

// Reduces x (shape `shape`) over the dims d with reduce[d] set; y holds the kept dims (row-major).
template <class T>
void reduce_ref(ReduceOp op, const T* x, const Shape& shape, const std::vector<bool>& reduce, T* y) {
  using Acc = typename Reducer<T>::Acc;
  const Reducer<T> r{op};
  const int rank = static_cast<int>(shape.size());
  std::vector<int64_t> y_strides(rank, 0);
  int64_t y_numel = 1, count = 1;
  for (int d = rank - 1; d >= 0; --d) {
    if (reduce[d]) {
      count *= shape[d];
    } else {
      y_strides[d] = y_numel;
      y_numel *= shape[d];
    }
  }
  const std::vector<std::vector<int64_t>> strides = {y_strides};
  std::vector<Acc> shift(static_cast<size_t>(y_numel), Acc(0));
  if (op == ReduceOp::kLogSumExp) {
    const Reducer<T> mx{ReduceOp::kMax};
    std::vector<Acc> m(static_cast<size_t>(y_numel), mx.init());
    for_each_broadcast(shape, strides, [&](int64_t i, const int64_t* off) { m[off[0]] = mx.add(m[off[0]], x[i], 0); });
    for (size_t j = 0; j < m.size(); ++j) shift[j] = std::isfinite(static_cast<double>(m[j])) ? m[j] : Acc(0);
  }
  std::vector<Acc> acc(static_cast<size_t>(y_numel), r.init());
  for_each_broadcast(shape, strides, [&](int64_t i, const int64_t* off) {
    acc[off[0]] = r.add(acc[off[0]], x[i], shift[off[0]]);
  });
  for (int64_t j = 0; j < y_numel; ++j) y[j] = r.finish(acc[j], count, shift[j]);
}

}  // namespace bitsmith::kernels::elt
