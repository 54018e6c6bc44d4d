// PassManager: pipeline parsing and the run loop (time, verify, record).
#include "bitsmith/passes/manager.h"

#include <chrono>

#include "bitsmith/ir/verifier.h"
#include "bitsmith/passes/registry.h"

namespace bitsmith {

void PassManager::add(std::unique_ptr<Pass> pass, Scope scope) {
  steps_.push_back(Step{std::move(pass), std::move(scope)});
}

Status PassManager::add(std::string_view name, const nlohmann::json& options, Scope scope) {
  BS_ASSIGN_OR_RETURN(std::unique_ptr<Pass> pass, create_pass(name, options));
  add(std::move(pass), std::move(scope));
  return Status::ok();
}

Expected<PassManager> PassManager::from_json(const nlohmann::json& pipeline, const std::string& pointer) {
  const std::string where = pointer.empty() ? "(top level)" : pointer;
  if (!pipeline.is_array())
    return invalid_argument(where + ": expected an array of pipeline steps, got " + json_brief(pipeline));
  std::vector<std::string> errors;
  PassManager pm;
  for (size_t i = 0; i < pipeline.size(); ++i) {
    const std::string at = json_pointer_append(pointer, i);
    const nlohmann::json& step = pipeline[i];
    if (!options_detail::check_object_keys(step, {"pass", "options", "scope"}, at, "step key", errors)) continue;
    auto name = step.find("pass");
    if (name == step.end() || !name->is_string()) {
      errors.push_back(json_pointer_append(at, "pass") + ": expected the pass name (a string)" +
                       (name == step.end() ? std::string(", but the key is missing") : ", got " + json_brief(*name)));
      continue;
    }
    Scope scope;
    if (auto s = step.find("scope"); s != step.end())
      scope = Scope::from_json(*s, json_pointer_append(at, "scope"), errors);
    const auto options = step.find("options");
    std::unique_ptr<Pass> pass =
        create_pass(name->get<std::string>(), options == step.end() ? nlohmann::json::object() : *options,
                    json_pointer_append(at, "options"), json_pointer_append(at, "pass"), errors);
    if (pass) pm.add(std::move(pass), std::move(scope));
  }
  if (!errors.empty()) return errors_to_status(errors);
  return pm;
}

nlohmann::json PassManager::to_json() const {
  nlohmann::json j = nlohmann::json::array();
  for (const Step& s : steps_)
    j.push_back({{"pass", std::string(s.pass->name())},
                 {"options", s.pass->options_json()},
                 {"scope", s.scope.to_json()}});
  return j;
}

Status PassManager::run(Model& model, const PassManagerOptions& options) {
  records_.clear();
  PassContext ctx(options.seed, options.num_threads);
  ctx.set_calibration(options.calibration);
  for (size_t i = 0; i < steps_.size(); ++i) {
    Pass& pass = *steps_[i].pass;
    const std::string label = "pipeline step " + std::to_string(i) + " (" + std::string(pass.name()) + ")";
    ctx.begin_pass(pass.name(), i, steps_[i].scope);
    PassRecord& record = ctx.record();
    record.options = pass.options_json();
    record.scope = steps_[i].scope.to_json();
    record.notes = steps_[i].scope.unmatched(model.graph);
    const auto start = std::chrono::steady_clock::now();
    Status status = pass.run(model, ctx);
    record.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    records_.push_back(record);
    if (!status.is_ok()) return status.with_context(label);
    if (Status v = verify(model); !v.is_ok())
      return internal_error(label + ": left an invalid graph: " + v.message());
  }
  return Status::ok();
}

nlohmann::json PassManager::records_json() const {
  nlohmann::json passes = nlohmann::json::array();
  for (const PassRecord& r : records_) passes.push_back(r.to_json());
  return {{"passes", passes}};
}

}  // namespace bitsmith
