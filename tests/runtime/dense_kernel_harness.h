// Test harness for the dense kernels: runs one op's registered kernel directly (no executor)
// through its factory and KernelContext, with chosen inputs marked constant (initializers, so
// the factory may pre-pack them), at a given thread count. Plus seeded random tensors and
// float comparison helpers whose failure messages name the shapes.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "bitsmith/core/tensor.h"
#include "bitsmith/ir/graph.h"
#include "bitsmith/runtime/kernel_registry.h"

namespace bitsmith::test {

struct OpRun {
  std::string op;
  std::vector<Tensor> inputs;         // undefined Tensor = absent optional input
  std::vector<Attribute> attrs;
  std::vector<bool> constant;         // per input: pass it as an initializer (default: no)
  size_t num_outputs = 1;
  int64_t opset = 17;
  std::string domain;                 // "" = ai.onnx
};

// Runs the kernel; the Status names the node on failure.
inline Expected<std::vector<Tensor>> run_op(const OpRun& r, int threads) {
  Graph graph;
  Node node;
  node.name = "test_" + r.op;
  node.op_type = r.op;
  node.domain = r.domain;
  node.attributes = r.attrs;
  std::vector<const Tensor*> ptrs;
  for (size_t i = 0; i < r.inputs.size(); ++i) {
    const bool present = r.inputs[i].defined();
    node.inputs.push_back(present ? "in" + std::to_string(i) : "");
    ptrs.push_back(present ? &r.inputs[i] : nullptr);
    if (present && i < r.constant.size() && r.constant[i]) {
      Tensor t = r.inputs[i];
      t.set_name(node.inputs.back());
      graph.initializers.push_back(t);
    }
  }
  for (size_t i = 0; i < r.num_outputs; ++i) node.outputs.push_back("out" + std::to_string(i));
  const KernelEntry* entry = find_kernel(r.domain, r.op, r.opset);
  if (!entry) return unsupported("no kernel for " + r.op + " at opset " + std::to_string(r.opset));
  KernelInfo info{node, graph, r.opset};
  BS_ASSIGN_OR_RETURN(auto kernel, entry->factory(info));
  std::vector<Tensor> outputs(r.num_outputs);
  KernelContext ctx{node, std::span<const Tensor* const>(ptrs.data(), ptrs.size()), outputs, threads};
  BS_TRY(kernel->compute(ctx));
  return outputs;
}

// Runs at 1, 2 and 3 threads, expects every output byte-identical across thread counts, and
// returns the 1-thread outputs (empty on failure, with a gtest failure recorded).
inline std::vector<Tensor> run_op_all_threads(const OpRun& r, const std::string& what) {
  std::vector<Tensor> first;
  for (int threads : {1, 2, 3}) {
    auto out = run_op(r, threads);
    if (!out.is_ok()) {
      ADD_FAILURE() << what << ": " << out.status().message();
      return {};
    }
    if (threads == 1) {
      first = *out;
      continue;
    }
    for (size_t i = 0; i < first.size(); ++i)
      EXPECT_TRUE(first[i].same_content((*out)[i]))
          << what << ": output " << i << " differs between 1 and " << threads << " threads";
  }
  return first;
}

template <class T = float>
Tensor random_tensor(const Shape& shape, uint32_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937 rng(seed);
  Tensor t(DTypeOf<T>::value, shape);
  T* d = t.mutable_data<T>();
  if constexpr (std::is_floating_point_v<T>) {
    std::uniform_real_distribution<double> dist(lo, hi);
    for (int64_t i = 0; i < t.numel(); ++i) d[i] = static_cast<T>(dist(rng));
  } else {
    std::uniform_int_distribution<int> dist(static_cast<int>(lo), static_cast<int>(hi));
    for (int64_t i = 0; i < t.numel(); ++i) d[i] = static_cast<T>(dist(rng));
  }
  return t;
}

inline double max_abs(const Tensor& t) {
  double m = 0;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::fabs(static_cast<double>(t.data<float>()[i])));
  return m;
}

// Expects got (f32) == want (f32) elementwise within atol; reports the first mismatch.
inline void expect_close(const Tensor& got, const Tensor& want, double atol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what << ": got shape " << shape_str(got.shape()) << ", expected "
                                       << shape_str(want.shape());
  ASSERT_EQ(got.dtype(), DType::kF32) << what;
  int64_t bad = 0, first = -1;
  double worst = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double d = std::fabs(static_cast<double>(got.data<float>()[i]) - want.data<float>()[i]);
    if (!(d <= atol)) {
      if (first < 0) first = i;
      ++bad;
    }
    worst = std::max(worst, d);
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << got.numel() << " values off by more than " << atol
                    << " (worst " << worst << "); first at flat index " << first << " of "
                    << shape_str(got.shape()) << ": got " << (first >= 0 ? got.data<float>()[first] : 0.f)
                    << ", expected " << (first >= 0 ? want.data<float>()[first] : 0.f);
}

}  // namespace bitsmith::test
