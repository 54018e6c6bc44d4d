// Pass: one graph rewrite, declared once in src/passes/passes.def (name, class, summary) with a
// typed Options struct (passes/options.h). See passes/registry.h to create passes by name and
// passes/manager.h to run a pipeline of them.
//
// Contract of every pass:
//  - run() rewrites `model` in place and returns a Status; it never reads files, never prints,
//    never logs. What it did goes into ctx.record(): counters, nodes touched (with what was
//    done) and nodes skipped (with why). These end up in the report.
//  - "Does this apply?" is decided apart from "rewrite it": a node the rewrite does not apply
//    to is skipped and recorded, and a pass that applies nowhere returns OK with the model
//    untouched. An error Status means bad input the pass cannot handle (naming the node), or a
//    bug; it never means "nothing to do".
//  - Only nodes in ctx.scope() are rewritten.
//  - Tensors may share storage (a Tensor is a handle; initializers may be views into a mapped
//    file or into each other). A pass never writes into an existing tensor's bytes; it builds a
//    new Tensor and replaces the initializer.
//  - Randomness comes from ctx.rng() only (seeded), so a pipeline is deterministic for a seed.
//  - The IR stays valid: the PassManager runs verify() after every pass and fails naming it.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "bitsmith/core/status.h"
#include "bitsmith/ir/graph.h"
#include "bitsmith/passes/options.h"
#include "bitsmith/passes/scope.h"
#include "bitsmith/runtime/executor.h"

namespace bitsmith {

// A node a pass changed, and how ("folded into conv1", "replaced by initializer").
struct NodeAction {
  std::string node;    // Node::name ("#<index>" when the node has none)
  std::string op;      // qualified op type
  std::string action;
};

// A node a pass looked at and left alone, and why ("input has 2 consumers").
struct NodeSkip {
  std::string node;
  std::string op;
  std::string reason;
};

// A tensor (an initializer) a pass replaced: by a quantized form, a lower float type, or a
// rewritten float tensor (batchnorm folded in). The report follows these by name, from the input
// model's initializers to what the written model stores.
struct TensorChange {
  std::string tensor;               // initializer name in the model the pass received
  std::string result;               // name of the initializer now holding it ("" if none: removed)
  std::vector<std::string> more_results;  // further initializers holding it (low-rank's 2nd factor)
  DType dtype_before = DType::kUndefined;
  DType dtype_after = DType::kUndefined;
  int64_t numel = 0;
  int64_t bytes_before = 0;         // storage bytes of `tensor`
  int64_t bytes_after = 0;          // storage bytes of what replaced it (scales, zero points included)
  // Error of what is stored (dequantized) against `tensor`; NaN when not measured (a float
  // rewrite such as a batchnorm fold, which changes values on purpose). sqnr_db is +inf when exact.
  double sqnr_db = std::numeric_limits<double>::quiet_NaN();
  double cosine = std::numeric_limits<double>::quiet_NaN();
  double max_abs_err = std::numeric_limits<double>::quiet_NaN();
  std::string how;                  // "int8 per-channel (axis 0)", "batchnorm folded in"
};

// What one pass did; filled by the pass (counters, touched, skipped, notes) and the manager
// (pass, options, scope, wall_ms).
struct PassRecord {
  std::string pass;                       // registered name, e.g. "fold-batchnorm"
  nlohmann::json options;                 // canonical options (every default filled in)
  nlohmann::json scope;                   // canonical scope
  double wall_ms = 0;                     // wall-clock time of run(), in milliseconds
  std::map<std::string, int64_t> counters;
  std::vector<NodeAction> touched;
  std::vector<NodeSkip> skipped;
  std::vector<std::string> notes;         // anything else worth reporting (unmatched scope globs)
  std::vector<TensorChange> tensors;      // initializers replaced, in the order done

  void count(const std::string& counter, int64_t by = 1) { counters[counter] += by; }
  void touch(const Node& node, size_t node_index, std::string action);
  void skip(const Node& node, size_t node_index, std::string reason);
  int64_t counter(const std::string& name) const;  // 0 when never counted

  // {"pass", "options", "scope", "wall_ms", "counters", "touched": [{node, op, action}],
  //  "skipped": [{node, op, reason}], "notes", "tensors": [{tensor, result, more_results, dtype_before, dtype_after,
  //  numel, bytes_before, bytes_after, sqnr_db, cosine, max_abs_err, how}]} (NaN/inf as null)
  nlohmann::json to_json() const;
};

// Calibration data for passes that observe activations: calls `visit` once per batch, in a
// fixed order, stopping at the first non-OK Status (which it returns). Empty when no data was
// given; a pass that needs data then returns kInvalidArgument naming itself.
using BatchVisitor = std::function<Status(const NamedTensors& batch)>;
using CalibrationData = std::function<Status(const BatchVisitor& visit)>;

class PassContext {
 public:
  // `num_threads` 0 means all cores.
  explicit PassContext(uint64_t seed = 0, int num_threads = 0);

  uint64_t seed() const { return seed_; }
  int num_threads() const { return num_threads_; }

  // The RNG of the current pass: reseeded by begin_pass() from (seed, step index, pass name),
  // so a pass's draws depend on those alone, never on how much earlier passes drew.
  std::mt19937_64& rng() { return rng_; }

  const CalibrationData& calibration() const { return calibration_; }
  void set_calibration(CalibrationData data) { calibration_ = std::move(data); }

  const Scope& scope() const { return scope_; }
  PassRecord& record() { return record_; }
  const PassRecord& record() const { return record_; }

  // Starts a pass: fresh record named `pass_name`, `scope`, RNG reseeded. Called by the
  // PassManager; call it yourself when running a pass alone.
  void begin_pass(std::string_view pass_name, size_t step_index, Scope scope = {});

 private:
  uint64_t seed_;
  int num_threads_;
  std::mt19937_64 rng_;
  CalibrationData calibration_;
  Scope scope_;
  PassRecord record_;
};

class Pass {
 public:
  virtual ~Pass() = default;
  // The registered name ("fold-batchnorm").
  virtual std::string_view name() const = 0;
  // The canonical options this pass runs with (every default filled in).
  virtual nlohmann::json options_json() const = 0;
  // Rewrites `model`; see the contract at the top of this file.
  virtual Status run(Model& model, PassContext& ctx) = 0;
};

// Base for passes with an Options struct `O` described by an OptionTable<O>: holds the name
// given by the registry and the options, and implements name() / options_json().
template <class O>
class PassWithOptions : public Pass {
 public:
  using Options = O;
  // `table` must outlive the pass (it is a function-local static of the pass).
  PassWithOptions(std::string_view name, Options options, const OptionTable<O>& table)
      : name_(name), options_(std::move(options)), table_(&table) {}
  std::string_view name() const override { return name_; }
  nlohmann::json options_json() const override { return table_->to_json(options_); }
  const Options& options() const { return options_; }

 private:
  std::string name_;
  Options options_;
  const OptionTable<O>* table_;
};

}  // namespace bitsmith
