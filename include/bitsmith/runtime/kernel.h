// Operator kernels: the contract between the executor and each op implementation.
//
// A kernel is created once per node when the executor loads a graph (KernelFactory), where it
// reads and validates attributes and may pre-pack constant inputs (weights). compute() is then
// called once per run. Kernels must:
//  - return a Status naming the node, op and shapes on bad input (never abort);
//  - allocate their outputs into ctx.outputs (one slot per node output; a slot whose output
//    name is empty may be left undefined);
//  - give bit-identical results for any ctx.num_threads (no thread-count-dependent reduction
//    order).
// Every op has a scalar reference kernel in src/runtime/kernels/ref/ (the ground truth); fast
// kernels live next to it and are tested against it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "bitsmith/core/status.h"
#include "bitsmith/core/tensor.h"
#include "bitsmith/ir/graph.h"

namespace bitsmith {

// What a kernel factory sees at load time.
struct KernelInfo {
  const Node& node;
  const Graph& graph;     // the graph the node lives in
  int64_t opset = 0;      // opset version of the node's domain
  // Constant value of input i (an initializer of the graph), or nullptr when it is computed at
  // run time or absent.
  const Tensor* constant_input(size_t i) const;
};

struct KernelContext {
  const Node& node;
  std::span<const Tensor* const> inputs;  // nullptr for an absent optional input
  std::vector<Tensor>& outputs;           // sized to node.outputs.size()
  int num_threads = 1;

  size_t num_inputs() const { return inputs.size(); }
  // Input i or nullptr when absent (i past the end counts as absent).
  const Tensor* input(size_t i) const { return i < inputs.size() ? inputs[i] : nullptr; }
  // Error helper: "node 'x' (Op): <msg>".
  Status error(const std::string& msg) const;
  Status unsupported_error(const std::string& msg) const;
};

class OpKernel {
 public:
  virtual ~OpKernel() = default;
  virtual Status compute(KernelContext& ctx) = 0;
};

using KernelFactory = Expected<std::unique_ptr<OpKernel>> (*)(const KernelInfo& info);

// A kernel whose whole behaviour is one function (for ops with no load-time work).
using KernelFn = Status (*)(KernelContext& ctx);
class FunctionKernel final : public OpKernel {
 public:
  explicit FunctionKernel(KernelFn fn) : fn_(fn) {}
  Status compute(KernelContext& ctx) override { return fn_(ctx); }

 private:
  KernelFn fn_;
};

}  // namespace bitsmith
