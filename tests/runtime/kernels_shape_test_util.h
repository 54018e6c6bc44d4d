// Helpers for the shape / data-movement kernel tests: run one kernel from the registry on given
// inputs (no executor), seeded random tensors of any dtype, and comparisons that print dtypes,
// shapes and the first differing element.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bitsmith/core/tensor.h"
#include "bitsmith/ir/graph.h"
#include "bitsmith/runtime/kernel.h"
#include "bitsmith/runtime/kernel_registry.h"

namespace bitsmith::shape_test {

struct OpResult {
  Status status;
  std::vector<Tensor> outputs;
};

// Runs `op` (default domain, `opset`) on `inputs` (a !defined() tensor is an absent optional
// input) with `attrs`, producing `n_outputs` outputs, with `threads` threads.
inline OpResult run_op(const std::string& op, const std::vector<Tensor>& inputs, std::vector<Attribute> attrs = {},
                       int64_t opset = 17, size_t n_outputs = 1, int threads = 1) {
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
  OpResult r;
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

inline Tensor i64s(const std::vector<int64_t>& v) {
  return Tensor::from_vector<int64_t>(v, {static_cast<int64_t>(v.size())});
}

// A tensor of `dtype` and `shape` with seeded random bytes (strings: short random words).
// Floats get finite values in [-8, 8); bools 0/1.
inline Tensor random_tensor(DType dtype, const Shape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t n = shape_numel(shape);
  if (dtype == DType::kString) {
    std::vector<std::string> v(static_cast<size_t>(n));
    for (auto& s : v) {
      s = "w";  // appended, not `"w" + to_string(...)`: GCC 12 -O3 warns falsely on that form
      s += std::to_string(rng() % 1000);
    }
    return Tensor::strings(shape, v);
  }
  Tensor t(dtype, shape);
  if (dtype == DType::kF32) {
    std::uniform_real_distribution<float> d(-8.f, 8.f);
    for (int64_t i = 0; i < n; ++i) t.mutable_data<float>()[i] = d(rng);
  } else if (dtype == DType::kF64) {
    std::uniform_real_distribution<double> d(-8.0, 8.0);
    for (int64_t i = 0; i < n; ++i) t.mutable_data<double>()[i] = d(rng);
  } else if (dtype == DType::kBool) {
    for (int64_t i = 0; i < n; ++i) t.mutable_data<uint8_t>()[i] = rng() & 1;
  } else {
    for (size_t i = 0; i < t.nbytes(); ++i) t.mutable_bytes()[i] = static_cast<std::byte>(rng() & 0xff);
  }
  return t;
}

// Dtype, shape and content (bytes or strings) equal.
inline ::testing::AssertionResult same_tensor(const Tensor& got, const Tensor& want, const std::string& what) {
  if (got.dtype() != want.dtype() || got.shape() != want.shape())
    return ::testing::AssertionFailure() << what << ": got " << dtype_name(got.dtype()) << " "
                                         << shape_str(got.shape()) << ", want " << dtype_name(want.dtype()) << " "
                                         << shape_str(want.shape());
  if (got.dtype() == DType::kString) {
    for (int64_t i = 0; i < got.numel(); ++i)
      if (got.string_data()[i] != want.string_data()[i])
        return ::testing::AssertionFailure() << what << ": string " << i << " differs (\"" << got.string_data()[i]
                                             << "\" vs \"" << want.string_data()[i] << "\")";
    return ::testing::AssertionSuccess();
  }
  const size_t es = got.nbytes() / std::max<int64_t>(1, got.numel());
  for (size_t b = 0; b < got.nbytes(); ++b)
    if (got.bytes()[b] != want.bytes()[b])
      return ::testing::AssertionFailure() << what << ": element " << b / std::max<size_t>(1, es) << " of "
                                           << shape_str(got.shape()) << " differs";
  return ::testing::AssertionSuccess();
}

// Float tensors (f32/f64) equal within atol + rtol * |want|.
inline ::testing::AssertionResult close_tensor(const Tensor& got, const Tensor& want, double rtol, double atol,
                                               const std::string& what) {
  if (got.dtype() != want.dtype() || got.shape() != want.shape())
    return ::testing::AssertionFailure() << what << ": got " << dtype_name(got.dtype()) << " "
                                         << shape_str(got.shape()) << ", want " << dtype_name(want.dtype()) << " "
                                         << shape_str(want.shape());
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double g = got.dtype() == DType::kF64 ? got.data<double>()[i] : got.data<float>()[i];
    const double w = want.dtype() == DType::kF64 ? want.data<double>()[i] : want.data<float>()[i];
    if (!(std::fabs(g - w) <= atol + rtol * std::fabs(w)))
      return ::testing::AssertionFailure() << what << ": element " << i << " of " << shape_str(got.shape())
                                           << ": got " << g << ", want " << w;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace bitsmith::shape_test
