// Executor: runs a Model's main graph on the CPU.
//
// Load (create): checks that every node has a kernel (kUnsupported; the message names the first
// unsupported node and lists every unsupported op type), evaluates Constant nodes once and turns
// them into constants (so kernels see them through KernelInfo::constant_input), creates the
// kernels, and plans when each intermediate value can be released (after its last consumer).
// Error messages name the node but not the model file: callers add the file with with_context().
// Run: feeds named inputs (dtype and rank/static dims checked against the graph inputs; symbolic
// and unknown dims accept any size; with ExecutorOptions::dynamic_batch dim 0 does too), runs
// nodes in topological order, returns the graph outputs in order. Input errors are kDataError
// one-liners naming the input, what was expected and what was given.
// Results are bit-identical for any num_threads.
// An Executor borrows nothing from the Model after create() (it copies the graph; tensors share
// storage with the Model's, read-only). run() is not re-entrant: one run at a time per Executor.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bitsmith/core/status.h"
#include "bitsmith/core/tensor.h"
#include "bitsmith/ir/graph.h"

namespace bitsmith {

struct ExecutorOptions {
  int num_threads = 0;  // 0: all cores (omp_get_max_threads())
  // Refuse NaN/Inf in floating-point inputs (kDataError naming the input and the first bad index).
  bool check_finite_inputs = true;
  // Accept any size for dim 0 of every runtime input, even when the model fixes it (a model
  // exported with batch 1 run on batches). Other static dims are still checked.
  bool dynamic_batch = false;
  // Run QDQ units (DequantizeLinear -> Conv / MatMul / Gemm -> QuantizeLinear) as one integer
  // kernel each (see src/runtime/qdq_fusion.h for the patterns and the one-step contract).
  // false: run the graph node by node (the unfused reference).
  bool fuse_qdq = true;
  // Run Cast(float16 weight initializer, to=FLOAT) -> MatMul / Gemm as one kernel that keeps the
  // weight in float16 and widens it panel by panel (see src/runtime/f16_weight_fusion.h); the
  // results are byte-identical to the unfused graph. false: run the Cast every run.
  bool fuse_f16_weights = true;
  // Run float chains (Conv [+ Add] [+ Relu]; MatMul + bias [+ GELU] [+ Add]) as one kernel each
  // (see src/runtime/float_fusion.h); byte-identical to the unfused graph. Intermediate values
  // of a fused chain are then never materialised, so run_observed() does not report them:
  // callers that observe every activation (calibration) set this false.
  bool fuse_float = true;
};

// Memory accounting of the last run(), for tests and reports. Tensors that share storage
// (views, reshapes) are counted once; constants (initializers, folded Constant nodes) are not
// counted.
struct ExecutorStats {
  int64_t peak_live_bytes = 0;    // largest number of bytes held at once (feeds + intermediates)
  int64_t peak_live_values = 0;   // largest number of values held at once
  int64_t nodes_run = 0;
};

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Sees every node output right after the node computed it (before the executor may release it),
// e.g. for calibration observers. The tensor may be kept (copies share storage) but must not be
// written. A non-OK Status stops the run and is returned by run_observed().
using ValueObserver = std::function<Status(const Node& node, const std::string& value_name, const Tensor& value)>;

class Executor {
 public:
  static Expected<std::unique_ptr<Executor>> create(const Model& model, const ExecutorOptions& options = {});
  virtual ~Executor() = default;

  // Graph inputs the caller must feed (initializers excluded), and graph outputs.
  virtual const std::vector<ValueInfo>& inputs() const = 0;
  virtual const std::vector<ValueInfo>& outputs() const = 0;

  // Outputs in graph output order, each named.
  virtual Expected<std::vector<Tensor>> run(const NamedTensors& feeds) = 0;
  // run() that also shows every node output to `observer`, in execution order.
  virtual Expected<std::vector<Tensor>> run_observed(const NamedTensors& feeds, const ValueObserver& observer) = 0;
  virtual int num_threads() const = 0;
  // Statistics of the last successful or failed run() (zeros before the first).
  virtual ExecutorStats last_run_stats() const = 0;
  // The QDQ units (and float16-weight MatMul / Gemm) fused at load, one line each
  // ("node 'fc1' (Gemm) -> com.microsoft.QGemm").
  virtual std::vector<std::string> fused_units() const { return {}; }
};

}  // namespace bitsmith
