// PassManager: runs a pipeline of (pass, scope) steps on a Model, in order.
//
// For each step it starts a fresh PassRecord in the PassContext (RNG reseeded from the seed and
// the step), runs the pass, times it (wall-clock ms), then runs verify(model): a pass that
// leaves a broken IR fails the pipeline with kInternal naming the pass. It stops at the first
// failure; the model is then left as the failing pass left it (callers that need the original
// keep a copy). Scope globs and op types that match no node are recorded as notes.
//
// Pipeline JSON (strict; every error collected, each naming its JSON pointer):
//   [{"pass": "fold-batchnorm"},
//    {"pass": "fold-constants", "options": {"max_output_bytes": 1048576},
//     "scope": {"exclude": {"ops": ["Shape"]}}}]
// "options" and "scope" are optional. to_json() returns the canonical form: every step with its
// full options (defaults filled in) and scope.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bitsmith/core/status.h"
#include "bitsmith/ir/graph.h"
#include "bitsmith/passes/pass.h"
#include "bitsmith/passes/scope.h"

namespace bitsmith {

struct PassManagerOptions {
  uint64_t seed = 0;
  int num_threads = 0;            // 0: all cores
  CalibrationData calibration;    // empty: no calibration data
};

class PassManager {
 public:
  PassManager() = default;
  PassManager(PassManager&&) = default;
  PassManager& operator=(PassManager&&) = default;

  void add(std::unique_ptr<Pass> pass, Scope scope = {});
  // Adds registered pass `name` with JSON options; errors as create_pass().
  Status add(std::string_view name, const nlohmann::json& options = nlohmann::json::object(), Scope scope = {});

  // Parses the pipeline JSON array found at `pointer` (e.g. "/pipeline").
  static Expected<PassManager> from_json(const nlohmann::json& pipeline, const std::string& pointer = "");
  // Canonical pipeline JSON.
  nlohmann::json to_json() const;

  size_t size() const { return steps_.size(); }

  // Runs every step on `model`. Errors: "pipeline step <i> (<pass>): <pass's message>" with the
  // pass's code; "pipeline step <i> (<pass>): left an invalid graph: <verifier message>" (kInternal).
  Status run(Model& model, const PassManagerOptions& options = {});

  // One record per step that ran (the failed one included), in order.
  const std::vector<PassRecord>& records() const { return records_; }
  // {"passes": [record.to_json(), ...]}
  nlohmann::json records_json() const;

 private:
  struct Step {
    std::unique_ptr<Pass> pass;
    Scope scope;
  };
  std::vector<Step> steps_;
  std::vector<PassRecord> records_;
};

}  // namespace bitsmith
