// Executor: runs a Model's main graph on the CPU.
//
// Load (create): checks that every node has a kernel (error names the first unsupported node
// and op), creates kernels, infers static shapes where the inputs are static, plans when each
// intermediate value can be released (after its last consumer).
// Run: feeds named inputs (dtype and rank/static dims checked against the graph inputs, one
// dynamic batch dimension allowed), runs nodes in topological order, returns the graph outputs
// in order. Results are bit-identical for any num_threads.
// An Executor borrows nothing from the Model after create() (it copies the graph).
#pragma once

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
};

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Executor {
 public:
  static Expected<std::unique_ptr<Executor>> create(const Model& model, const ExecutorOptions& options = {});
  virtual ~Executor() = default;

  // Graph inputs the caller must feed (initializers excluded), and graph outputs.
  virtual const std::vector<ValueInfo>& inputs() const = 0;
  virtual const std::vector<ValueInfo>& outputs() const = 0;

  // Outputs in graph output order, each named.
  virtual Expected<std::vector<Tensor>> run(const NamedTensors& feeds) = 0;
  virtual int num_threads() const = 0;
};

}  // namespace bitsmith
