// Executor implementation: load-time plan (kernels, value slots, release points) and run loop.
#include "bitsmith/runtime/executor.h"
#include "bitsmith/ir/shape_inference.h"

#include <omp.h>

#include <algorithm>
#include <exception>
#include <new>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "bitsmith/runtime/kernel.h"
#include "bitsmith/runtime/kernel_registry.h"
#include "runtime/executor_feeds.h"
#include "runtime/f16_weight_fusion.h"
#include "runtime/float_fusion.h"
#include "runtime/palette_fold.h"
#include "runtime/qdq_fusion.h"

namespace bitsmith {
namespace {

using executor_detail::check_feed;
using executor_detail::check_finite;

bool is_default_domain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

// Prefixes a kernel's message with the node when the kernel did not name it itself.
Status with_node_context(const Status& s, const Node& node) {
  if (s.is_ok() || s.message().rfind("node '", 0) == 0) return s;
  return s.with_context(node.describe());
}

std::string join(const std::vector<std::string>& items) {
  std::string s;
  for (const std::string& it : items) s += (s.empty() ? "" : ", ") + it;
  return s;
}

// One node of the run plan.
struct Step {
  size_t node = 0;                  // index into graph_.nodes
  std::unique_ptr<OpKernel> kernel;
  std::vector<int> inputs;          // value slot per node input, -1 when absent
  std::vector<int> outputs;         // value slot per node output, -1 when unnamed
  std::vector<int> release_after;   // slots whose last use is this step
};

class CpuExecutor final : public Executor {
 public:
  explicit CpuExecutor(const ExecutorOptions& options) : options_(options) {}

  Status load(const Model& model);

  const std::vector<ValueInfo>& inputs() const override { return inputs_; }
  const std::vector<ValueInfo>& outputs() const override { return graph_.outputs; }
  Expected<std::vector<Tensor>> run(const NamedTensors& feeds) override { return run_observed(feeds, {}); }
  Expected<std::vector<Tensor>> run_observed(const NamedTensors& feeds, const ValueObserver& observer) override;
  int num_threads() const override { return num_threads_; }
  ExecutorStats last_run_stats() const override { return stats_; }
  std::vector<std::string> fused_units() const override { return fused_units_; }

 private:
  int64_t node_opset(const Node& node) const;
  Status check_supported() const;
  Status fold_constant_nodes();
  Status assign_slots();
  Status create_steps();
  void plan_releases();
  Status bind_feeds(const NamedTensors& feeds);
  Status run_step(Step& step, const ValueObserver& observer);
  void set_slot(int slot, Tensor t);
  void release_slot(int slot);
  void clear_run_state();

  ExecutorOptions options_;
  int num_threads_ = 1;
  std::vector<OpsetImport> opsets_;
  Graph graph_;                     // the executor's own copy; constants appended at load
  std::vector<ValueInfo> inputs_;   // runtime inputs
  std::vector<int> input_slots_;    // slot of each runtime input
  std::vector<int> output_slots_;   // slot of each graph output
  std::unordered_map<std::string, int> slot_of_;
  std::vector<Tensor> slots_;       // constants stay; the rest live during run() only
  std::vector<bool> is_constant_;
  std::vector<Step> steps_;
  std::unordered_set<const Storage*> constant_storage_;
  // Live-memory accounting during a run: storage -> number of live slots pointing into it.
  std::unordered_map<const Storage*, int> live_storage_;
  int64_t live_bytes_ = 0;
  int64_t live_values_ = 0;
  ExecutorStats stats_;
  std::vector<std::string> fused_units_;
};

int64_t CpuExecutor::node_opset(const Node& node) const {
  const bool dflt = is_default_domain(node.domain);
  for (const OpsetImport& o : opsets_)
    if (dflt ? is_default_domain(o.domain) : o.domain == node.domain) return o.version;
  return -1;
}

Status CpuExecutor::check_supported() const {
  std::string first;
  std::vector<std::string> ops;
  std::set<std::string> seen;
  for (const Node& node : graph_.nodes) {
    const int64_t opset = node_opset(node);
    if (find_kernel(node.domain, node.op_type, opset)) continue;
    const std::string op = is_default_domain(node.domain) ? node.op_type : node.domain + "." + node.op_type;
    const std::string what = op + " (opset " + std::to_string(opset) + ")";
    if (first.empty()) {
      first = node.describe() + ": operator " + what + " is not supported";
      if (opset < 0) first += " (the model imports no opset for domain '" + node.domain + "')";
    }
    if (seen.insert(what).second) ops.push_back(what);
  }
  if (first.empty()) return Status::ok();
  if (ops.size() == 1) return unsupported(first);
  return unsupported(first + "; unsupported operators in this model: " + join(ops));
}

// Runs every default-domain Constant node once and turns its output into an initializer of
// graph_, so that consumers see it as a constant input at load.
Status CpuExecutor::fold_constant_nodes() {
  std::vector<Tensor> folded;
  std::vector<Node> kept;
  for (Node& node : graph_.nodes) {
    if (node.op_type != "Constant" || !is_default_domain(node.domain) || !node.inputs.empty() ||
        node.outputs.size() != 1 || node.outputs[0].empty()) {
      kept.push_back(std::move(node));
      continue;
    }
    const KernelEntry* entry = find_kernel(node.domain, node.op_type, node_opset(node));
    KernelInfo info{node, graph_, node_opset(node)};
    auto kernel = entry->factory(info);
    if (!kernel.is_ok()) return with_node_context(kernel.status(), node);
    std::vector<Tensor> outs(1);
    KernelContext ctx{node, {}, outs, num_threads_};
    BS_TRY(with_node_context((*kernel)->compute(ctx), node));
    if (!outs[0].defined()) return internal_error(node.describe() + ": kernel produced no output");
    outs[0].set_name(node.outputs[0]);
    folded.push_back(std::move(outs[0]));
  }
  graph_.nodes = std::move(kept);
  for (Tensor& t : folded) graph_.initializers.push_back(std::move(t));
  return Status::ok();
}

Status CpuExecutor::assign_slots() {
  auto add_slot = [&](const std::string& name, const std::string& what) -> Expected<int> {
    auto [it, inserted] = slot_of_.emplace(name, static_cast<int>(slots_.size()));
    if (!inserted) return invalid_model("value '" + name + "' (" + what + ") is defined twice");
    slots_.emplace_back();
    is_constant_.push_back(false);
    return it->second;
  };
  for (const Tensor& t : graph_.initializers) {
    BS_ASSIGN_OR_RETURN(int slot, add_slot(t.name(), "initializer"));
    slots_[slot] = t;
    is_constant_[slot] = true;
    if (t.storage()) constant_storage_.insert(t.storage().get());
  }
  for (const ValueInfo* v : graph_.runtime_inputs()) {
    BS_ASSIGN_OR_RETURN(int slot, add_slot(v->name, "graph input"));
    inputs_.push_back(*v);
    input_slots_.push_back(slot);
  }
  for (const Node& node : graph_.nodes)
    for (const std::string& out : node.outputs)
      if (!out.empty()) {
        auto slot = add_slot(out, "output of " + node.describe());
        if (!slot.is_ok()) return slot.status();
      }
  for (const ValueInfo& out : graph_.outputs) {
    auto it = slot_of_.find(out.name);
    if (it == slot_of_.end()) return invalid_model("graph output '" + out.name + "' is not defined");
    output_slots_.push_back(it->second);
  }
  return Status::ok();
}

Status CpuExecutor::create_steps() {
  BS_ASSIGN_OR_RETURN(std::vector<size_t> order, graph_.topological_order());
  for (size_t index : order) {
    const Node& node = graph_.nodes[index];
    Step step;
    step.node = index;
    for (const std::string& in : node.inputs) {
      if (in.empty()) {
        step.inputs.push_back(-1);
        continue;
      }
      auto it = slot_of_.find(in);
      if (it == slot_of_.end())
        return invalid_model(node.describe() + ": input '" + in + "' is not defined");
      step.inputs.push_back(it->second);
    }
    for (const std::string& out : node.outputs) step.outputs.push_back(out.empty() ? -1 : slot_of_.at(out));
    const int64_t opset = node_opset(node);
    KernelInfo info{node, graph_, opset};
    auto kernel = find_kernel(node.domain, node.op_type, opset)->factory(info);
    if (!kernel.is_ok()) return with_node_context(kernel.status(), node);
    step.kernel = std::move(*kernel);
    steps_.push_back(std::move(step));
  }
  return Status::ok();
}

// Each non-constant, non-output value is released right after its last consumer (or right
// after its producer when nothing consumes it).
void CpuExecutor::plan_releases() {
  std::vector<int> last_use(slots_.size(), -1);
  std::vector<bool> keep(slots_.size(), false);
  for (int s : output_slots_) keep[s] = true;
  for (size_t i = 0; i < slots_.size(); ++i) keep[i] = keep[i] || is_constant_[i];
  for (size_t k = 0; k < steps_.size(); ++k) {
    for (int s : steps_[k].inputs)
      if (s >= 0) last_use[s] = static_cast<int>(k);
    for (int s : steps_[k].outputs)
      if (s >= 0 && last_use[s] < 0) last_use[s] = static_cast<int>(k);
  }
  for (size_t s = 0; s < slots_.size(); ++s)
    if (!keep[s] && last_use[s] >= 0) steps_[last_use[s]].release_after.push_back(static_cast<int>(s));
}

Status CpuExecutor::load(const Model& model) {
  num_threads_ = options_.num_threads > 0 ? options_.num_threads : omp_get_max_threads();
  opsets_ = model.opset_imports;
  graph_ = model.graph;
  BS_TRY(check_supported());
  // Static shape inference: a model whose shapes contradict each other is refused at load,
  // naming the node, rather than failing inside a kernel at run time.
  ShapeInferenceOptions sopt;
  sopt.dynamic_batch = options_.dynamic_batch;
  BS_ASSIGN_OR_RETURN(const ShapeInferenceResult types, infer_shapes(model, sopt));
  BS_TRY(fold_constant_nodes());
  BS_TRY(fold_palette_weights(graph_, opsets_, num_threads_).status());  // cluster pass weights
  if (options_.fuse_qdq) fused_units_ = fuse_qdq_units(graph_, opsets_).units;
  if (options_.fuse_f16_weights)
    for (std::string& u : fuse_f16_weights(graph_, opsets_)) fused_units_.push_back(std::move(u));
  if (options_.fuse_float)
    for (std::string& u : fuse_float_chains(graph_, opsets_, types)) fused_units_.push_back(std::move(u));
  BS_TRY(assign_slots());
  BS_TRY(create_steps());
  plan_releases();
  return Status::ok();
}

void CpuExecutor::set_slot(int slot, Tensor t) {
  release_slot(slot);
  const Storage* st = t.storage().get();
  slots_[slot] = std::move(t);
  ++live_values_;
  if (st && !constant_storage_.count(st) && live_storage_[st]++ == 0)
    live_bytes_ += static_cast<int64_t>(st->nbytes());
  stats_.peak_live_values = std::max(stats_.peak_live_values, live_values_);
  stats_.peak_live_bytes = std::max(stats_.peak_live_bytes, live_bytes_);
}

void CpuExecutor::release_slot(int slot) {
  if (is_constant_[slot] || !slots_[slot].defined()) return;
  const Storage* st = slots_[slot].storage().get();
  if (st && !constant_storage_.count(st)) {
    auto it = live_storage_.find(st);
    if (it != live_storage_.end() && --it->second == 0) {
      live_bytes_ -= static_cast<int64_t>(st->nbytes());
      live_storage_.erase(it);
    }
  }
  --live_values_;
  slots_[slot] = Tensor();
}

void CpuExecutor::clear_run_state() {
  for (size_t s = 0; s < slots_.size(); ++s) release_slot(static_cast<int>(s));
  live_storage_.clear();
  live_bytes_ = 0;
  live_values_ = 0;
}

Status CpuExecutor::bind_feeds(const NamedTensors& feeds) {
  std::vector<bool> given(inputs_.size(), false);
  for (const auto& [name, tensor] : feeds) {
    size_t k = 0;
    while (k < inputs_.size() && inputs_[k].name != name) ++k;
    if (k == inputs_.size()) {
      if (graph_.find_initializer(name))
        return data_error("'" + name + "' is a constant (initializer) of the model, not an input to feed");
      std::vector<std::string> names;
      for (const ValueInfo& v : inputs_) names.push_back(v.name);
      return data_error("'" + name + "' is not an input of the model; its inputs are: " + join(names));
    }
    if (given[k]) return data_error("input '" + name + "' is given twice");
    given[k] = true;
    BS_TRY(check_feed(inputs_[k], tensor, options_.dynamic_batch));
    if (options_.check_finite_inputs) BS_TRY(check_finite(name, tensor));
    set_slot(input_slots_[k], tensor);
  }
  for (size_t k = 0; k < inputs_.size(); ++k)
    if (!given[k])
      return data_error("input '" + inputs_[k].name + "' (" + executor_detail::describe_type(inputs_[k].type) +
                        ") is missing");
  return Status::ok();
}

Status CpuExecutor::run_step(Step& step, const ValueObserver& observer) {
  const Node& node = graph_.nodes[step.node];
  std::vector<const Tensor*> in(step.inputs.size(), nullptr);
  for (size_t i = 0; i < in.size(); ++i) {
    const int s = step.inputs[i];
    if (s < 0) continue;
    if (!slots_[s].defined())
      return internal_error(node.describe() + ": input '" + node.inputs[i] + "' has no value");
    in[i] = &slots_[s];
  }
  std::vector<Tensor> outs(step.outputs.size());
  KernelContext ctx{node, in, outs, num_threads_};
  try {
    BS_TRY(with_node_context(step.kernel->compute(ctx), node));
  } catch (const std::bad_alloc&) {
    return data_error(node.describe() + ": out of memory while computing its outputs");
  } catch (const std::exception& e) {
    return internal_error(node.describe() + ": " + e.what());
  }
  for (size_t o = 0; o < outs.size(); ++o) {
    if (step.outputs[o] < 0) continue;
    if (!outs[o].defined())
      return internal_error(node.describe() + ": kernel produced no value for output '" + node.outputs[o] + "'");
    outs[o].set_name(node.outputs[o]);
    set_slot(step.outputs[o], std::move(outs[o]));
    if (observer) BS_TRY(observer(node, node.outputs[o], slots_[step.outputs[o]]));
  }
  for (int s : step.release_after) release_slot(s);
  ++stats_.nodes_run;
  return Status::ok();
}

Expected<std::vector<Tensor>> CpuExecutor::run_observed(const NamedTensors& feeds, const ValueObserver& observer) {
  stats_ = ExecutorStats{};
  Status st = bind_feeds(feeds);
  for (size_t k = 0; st.is_ok() && k < steps_.size(); ++k) st = run_step(steps_[k], observer);
  std::vector<Tensor> results;
  if (st.is_ok()) {
    for (size_t o = 0; o < output_slots_.size(); ++o) {
      Tensor t = slots_[output_slots_[o]];
      if (!t.defined()) {
        st = internal_error("graph output '" + graph_.outputs[o].name + "' has no value after the run");
        break;
      }
      // The caller owns what it gets: never hand out the executor's own constants.
      if (t.storage() && constant_storage_.count(t.storage().get())) t = t.clone();
      t.set_name(graph_.outputs[o].name);
      results.push_back(std::move(t));
    }
  }
  clear_run_state();
  if (!st.is_ok()) return st;
  return results;
}

}  // namespace

Expected<std::unique_ptr<Executor>> Executor::create(const Model& model, const ExecutorOptions& options) {
  auto exec = std::make_unique<CpuExecutor>(options);
  BS_TRY(exec->load(model));
  return std::unique_ptr<Executor>(std::move(exec));
}

}  // namespace bitsmith
