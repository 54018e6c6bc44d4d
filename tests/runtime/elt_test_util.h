// Helpers for the elementwise / normalization / reduction kernel tests: run one kernel from the
// registry on given inputs (no executor), seeded random tensors, and tolerance comparisons that
// print shapes and the first mismatch.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bitsmith/core/tensor.h"
#include "bitsmith/ir/graph.h"
#include "bitsmith/runtime/kernel.h"
#include "bitsmith/runtime/kernel_registry.h"

namespace bitsmith::elt_test {

struct OpRun {
  Status status;
  std::vector<Tensor> outputs;
};

// Builds a one-node graph for `op` (inputs that are !defined() are absent), finds its kernel for
// `opset` and runs it once with `threads`.
inline OpRun run_op(const std::string& op, const std::vector<Tensor>& inputs, std::vector<Attribute> attrs = {},
                    int64_t opset = 17, int threads = 1, size_t n_outputs = 1) {
  Node node;
  node.name = "n0";
  node.op_type = op;
  node.attributes = std::move(attrs);
  std::vector<const Tensor*> ptrs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    node.inputs.push_back(inputs[i].defined() ? "in" + std::to_string(i) : "");
    ptrs.push_back(inputs[i].defined() ? &inputs[i] : nullptr);
  }
  for (size_t i = 0; i < n_outputs; ++i) node.outputs.push_back("out" + std::to_string(i));
  Graph graph;
  OpRun r;
  const KernelEntry* e = find_kernel("", op, opset);
  if (!e) {
    r.status = unsupported("no kernel for " + op + " at opset " + std::to_string(opset));
    return r;
  }
  KernelInfo info{node, graph, opset};
  auto k = e->factory(info);
  if (!k.is_ok()) {
    r.status = k.status();
    return r;
  }
  r.outputs.resize(n_outputs);
  KernelContext ctx{node, ptrs, r.outputs, threads};
  r.status = (*k)->compute(ctx);
  return r;
}

// Uniform floats in [lo, hi) from a fixed seed.
inline std::vector<float> random_floats(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

template <class T>
std::vector<T> random_ints(size_t n, int64_t lo, int64_t hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> d(lo, hi);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(d(rng));
  return v;
}

inline Tensor f32_tensor(const Shape& shape, float lo, float hi, uint32_t seed) {
  return Tensor::from_vector<float>(random_floats(static_cast<size_t>(shape_numel(shape)), lo, hi, seed), shape);
}

// The first index where |got - want| > atol + rtol * |want| (NaN == NaN, infinities exact), or
// -1.
template <class T, class U>
int64_t first_mismatch(const T* got, const U* want, int64_t n, double rtol, double atol) {
  for (int64_t i = 0; i < n; ++i) {
    const double g = static_cast<double>(got[i]), w = static_cast<double>(want[i]);
    if (std::isnan(g) && std::isnan(w)) continue;
    if (std::isinf(w) || std::isinf(g)) {
      if (g != w) return i;
      continue;
    }
    if (!(std::fabs(g - w) <= atol + rtol * std::fabs(w))) return i;
  }
  return -1;
}

template <class T, class U>
::testing::AssertionResult values_close(const T* got, const U* want, int64_t n, double rtol, double atol,
                                        const std::string& what) {
  const int64_t i = first_mismatch(got, want, n, rtol, atol);
  if (i < 0) return ::testing::AssertionSuccess();
  std::ostringstream os;
  os.precision(9);
  os << what << ": index " << i << " of " << n << ": got " << static_cast<double>(got[i]) << ", want "
     << static_cast<double>(want[i]) << " (rtol " << rtol << ", atol " << atol << ")";
  return ::testing::AssertionFailure() << os.str();
}

// Dtype, shape and bytes equal.
inline ::testing::AssertionResult same_bytes(const Tensor& a, const Tensor& b, const std::string& what) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape())
    return ::testing::AssertionFailure() << what << ": " << dtype_name(a.dtype()) << " " << shape_str(a.shape())
                                         << " vs " << dtype_name(b.dtype()) << " " << shape_str(b.shape());
  if (a.nbytes() && std::memcmp(a.bytes(), b.bytes(), a.nbytes()) != 0)
    return ::testing::AssertionFailure() << what << ": bytes differ (shape " << shape_str(a.shape()) << ")";
  return ::testing::AssertionSuccess();
}

}  // namespace bitsmith::elt_test
