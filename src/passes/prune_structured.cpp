// prune, pattern "structured": removes whole output channels of Conv (group 1) and output
// neurons of Gemm / MatMul from the graph, so the model gets smaller and faster.
//
// For each layer (topological order; norms taken from its weight as it is then, i.e. without
// input channels an earlier layer's pruning already removed) the k = floor(s * O) output
// channels with the lowest L1 / L2 weight norm are removed (ties: lower index first). Their
// value is followed through the ops below, each losing the same entries; every weighted layer it
// reaches loses the matching input channels:
//   Relu, LeakyRelu, Clip, Sigmoid, Tanh, Identity, Dropout          unchanged (input 0 only)
//   BatchNormalization                    scale, B, mean, var lose the entries (channel axis 1)
//   MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool           unchanged (channel axis 1)
//   Mul / Add with a constant             its entries along the channel axis (kept when 1)
//   Flatten at the channel axis           channel c -> the prod(dims after it) consecutive
//                                         entries from c * prod (those dims must be static)
//   depthwise Conv (group = C, weight [C, 1, ...])  loses the channels (weight, bias, group)
//   Conv group 1 (input 0)                consumer: weight dim 1 loses the input channels
//   Gemm transA=0 (input A), MatMul (input A, weight [K, N])  consumer: the reduction rows
// Anything else on the way (a graph output, a residual Add of two branches, Concat, Reshape, a
// grouped Conv, a subgraph reading the value, a constant shared with other nodes) and the layer
// is skipped with the reason; nothing is changed for it. Nodes reached (consumers, BatchNorm,
// ...) are changed even when outside the pass scope: the scope selects the layers pruned, and
// the rest only drop inputs that no longer exist.
//
// With activation_aware the score is norm x mean |y_c| over the calibration data, y_c the entries
// of output channel c, observed after the BatchNormalization / Mul / Add by a constant directly
// following the layer (so an unfolded BatchNorm does not distort the magnitudes), measured once
// on the model as received (not re-measured between layers).
//
// Every replaced initializer keeps its name and is recorded as a TensorChange (error NaN: the
// values kept are exact; what changes is the function, on purpose). value_info entries of the
// values whose channel count changed are removed (stale). Counters: layers_pruned,
// channels_removed, params_removed, skipped.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <unordered_set>

#include "bitsmith/ir/op_schema.h"
#include "bitsmith/ir/shape_inference.h"
#include "bitsmith/runtime/executor.h"
#include "passes/graph_util.h"
#include "passes/prune_impl.h"

namespace bitsmith::prune_detail {
namespace {

using passes_detail::is_constant_initializer;

// Where a layer's channels sit in a value: along axis `axis` (negative, counted from the end),
// channel c is the entries [c * block, (c + 1) * block).
struct ChannelMap {
  int axis = -1;
  int64_t block = 1;
};

// An initializer losing entries along `axis` (positive), in blocks of `block` per channel.
struct Edit {
  std::string name;
  int axis = 0;
  int64_t block = 1;
  enum class Role { kOutput, kInput, kOther } role = Role::kOther;
};

struct Plan {
  std::vector<Edit> edits;
  struct Touch {
    size_t node = 0;
    std::string what;   // "input", "depthwise", "removed"
    int64_t block = 1;  // entries per channel there
  };
  std::vector<Touch> touched;  // nodes changed besides the layer
  std::vector<size_t> depthwise;                         // Conv nodes whose group becomes C - k
  std::vector<std::string> values;                       // values whose channel count changes
  std::string observed;  // activation_aware: the layer's output, after the BatchNorm / Mul / Add
  ChannelMap observed_map;  // by a constant directly following it
};

struct Walk {
  const Graph& g;
  std::unordered_map<std::string, std::vector<size_t>> consumers;
  std::unordered_map<std::string, int> uses;
  std::unordered_set<std::string> outputs;
  ShapeInferenceResult shapes;  // ranks and static dims of the unpruned graph (empty on error)
  std::set<size_t> visited;

  explicit Walk(const Graph& graph) : g(graph) {}

  int rank_of(const std::string& v) const {
    auto it = shapes.types.find(v);
    return it != shapes.types.end() && it->second.has_shape ? static_cast<int>(it->second.dims.size()) : -1;
  }
  std::string node_name(size_t i) const { return g.nodes[i].describe(); }

  // "" when `name` is a constant f32 initializer used by one node slot only; else why not.
  std::string private_constant(const std::string& name, const std::string& what) const {
    if (name.empty() || !is_constant_initializer(g, name)) return what + " '" + name + "' is not a constant initializer";
    const Tensor& t = *g.find_initializer(name);
    if (t.dtype() != DType::kF32) return what + " '" + name + "' is " + std::string(dtype_name(t.dtype())) + " (only f32)";
    if (auto it = uses.find(name); it != uses.end() && it->second > 1)
      return what + " '" + name + "' is shared by " + std::to_string(it->second) + " uses";
    return "";
  }
  // Adds an edit of `name` along `axis` after checking it holds C channels of `block` there.
  std::string edit(Plan& plan, const std::string& name, const std::string& what, int axis, int64_t block, int64_t channels,
                   Edit::Role role) const {
    if (std::string why = private_constant(name, what); !why.empty()) return why;
    const Tensor& t = *g.find_initializer(name);
    if (axis < 0 || axis >= t.rank() || t.dim(axis) != channels * block)
      return what + " '" + name + "' does not have " + std::to_string(channels * block) + " entries along axis " +
             std::to_string(axis);
    plan.edits.push_back({name, axis, block, role});
    return "";
  }

  std::string follow(const std::string& v, ChannelMap map, int64_t channels, Plan& plan);
  // BatchNorm and Mul/Add by a constant right after the layer: its output is observed after them.
  static void affine_follows(Plan& plan, const std::string& v, const std::string& out) {
    if (plan.observed == v) plan.observed = out;
  }
  std::string through(size_t ni, const std::string& v, ChannelMap map, int64_t channels, Plan& plan);
};

const std::set<std::string> kUnary = {"Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "Identity", "Dropout"};
const std::set<std::string> kPools = {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"};

std::string Walk::follow(const std::string& v, ChannelMap map, int64_t channels, Plan& plan) {
  if (outputs.count(v)) return "value '" + v + "' is a graph output";
  plan.values.push_back(v);
  std::vector<size_t> nodes;
  if (auto it = consumers.find(v); it != consumers.end()) nodes = it->second;
  const int graph_uses = uses.count(v) ? uses.at(v) : 0;
  if (graph_uses != static_cast<int>(nodes.size())) return "value '" + v + "' is read inside a subgraph";
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  for (size_t ni : nodes) {
    if (!visited.insert(ni).second) return "value '" + v + "' reaches " + node_name(ni) + " twice";
    if (std::string why = through(ni, v, map, channels, plan); !why.empty()) return why;
  }
  return "";
}

// Node `ni` reads `v` (whose channels are at `map`): plans its changes and follows its output.
std::string Walk::through(size_t ni, const std::string& v, ChannelMap map, int64_t channels, Plan& plan) {
  const Node& n = g.nodes[ni];
  const std::string at = "value '" + v + "' reaches " + n.describe();
  if (!is_default_domain(n.domain)) return at + " (channels are not followed through it)";
  std::vector<size_t> slots;
  for (size_t s = 0; s < n.inputs.size(); ++s)
    if (n.inputs[s] == v) slots.push_back(s);
  if (slots.size() != 1) return at + " in " + std::to_string(slots.size()) + " inputs";
  const size_t slot = slots[0];
  const std::string& op = n.op_type;
  auto extra_outputs_used = [&]() {
    for (size_t o = 1; o < n.outputs.size(); ++o)
      if (!n.outputs[o].empty() && uses.count(n.outputs[o])) return true;
    return false;
  };
  const int r = rank_of(v);
  const bool channel_at_1 = r >= 2 && r + map.axis == 1 && map.block == 1;
  const std::string out = n.outputs.empty() ? "" : n.outputs[0];

  if (kUnary.count(op) || kPools.count(op)) {
    if (slot != 0) return at + " as input " + std::to_string(slot);
    if (extra_outputs_used()) return at + " whose second output is used";
    if (kPools.count(op) && !channel_at_1) return at + " with the channels not on axis 1 (or rank unknown)";
    return follow(out, map, channels, plan);
  }
  if (op == "BatchNormalization") {
    if (slot != 0) return at + " as input " + std::to_string(slot);
    if (n.outputs.size() > 1 && extra_outputs_used()) return at + " in training mode";
    if (!channel_at_1) return at + " with the channels not on axis 1 (or rank unknown)";
    for (size_t p = 1; p <= 4; ++p)
      if (std::string why = edit(plan, p < n.inputs.size() ? n.inputs[p] : "", n.describe() + " input " + std::to_string(p),
                                 0, 1, channels, Edit::Role::kOther);
          !why.empty())
        return at + ": " + why;
    plan.touched.push_back({ni, "removed", map.block});
    affine_follows(plan, v, out);
    return follow(out, map, channels, plan);
  }
  if (op == "Mul" || op == "Add") {
    const std::string& other = n.inputs[1 - slot];
    if (!is_constant_initializer(g, other))
      return at + " whose other input '" + other + "' is not a constant (e.g. a residual branch)";
    const Tensor& t = *g.find_initializer(other);
    const int q = t.rank() + map.axis;  // the channel axis in the constant (right-aligned)
    if (q >= 0 && t.dim(q) != 1) {
      if (std::string why = edit(plan, other, n.describe() + " constant", q, map.block, channels, Edit::Role::kOther);
          !why.empty())
        return at + ": " + why;
      plan.touched.push_back({ni, "removed", map.block});
    }
    affine_follows(plan, v, out);
    return follow(out, map, channels, plan);
  }
  if (op == "Flatten") {
    if (r < 0) return at + " (input rank unknown)";
    int64_t axis = n.attr_int("axis", 1);
    if (axis < 0) axis += r;
    const int p = r + map.axis;
    if (axis != p) return at + " (Flatten axis " + std::to_string(axis) + " is not the channel axis " + std::to_string(p) + ")";
    const TypeInfo& ti = shapes.types.at(v);
    int64_t inner = 1;
    for (int d = p + 1; d < r; ++d) {
      if (!ti.dims[d].has_value()) return at + " (dim " + std::to_string(d) + " after the channels is not static)";
      inner *= ti.dims[d].value;
    }
    return follow(out, ChannelMap{-1, map.block * inner}, channels, plan);
  }
  if (op == "Conv") {
    if (slot != 0) return at + " as input " + std::to_string(slot);
    if (!channel_at_1) return at + " with the channels not on axis 1 (or rank unknown)";
    const int64_t group = n.attr_int("group", 1);
    const std::string& w = n.inputs.size() > 1 ? n.inputs[1] : "";
    if (group == 1) {
      if (std::string why = edit(plan, w, n.describe() + " weight", 1, 1, channels, Edit::Role::kInput); !why.empty())
        return at + ": " + why;
      plan.touched.push_back({ni, "input", 1});
      return "";
    }
    const Tensor* wt = g.find_initializer(w);
    if (group != channels || !wt || wt->rank() < 3 || wt->dim(0) != channels || wt->dim(1) != 1)
      return at + " with group " + std::to_string(group) + " (only depthwise, weight [C, 1, ...], is followed)";
    if (std::string why = edit(plan, w, n.describe() + " weight", 0, 1, channels, Edit::Role::kOther); !why.empty())
      return at + ": " + why;
    if (n.inputs.size() > 2 && !n.inputs[2].empty())
      if (std::string why = edit(plan, n.inputs[2], n.describe() + " bias", 0, 1, channels, Edit::Role::kOther);
          !why.empty())
        return at + ": " + why;
    plan.depthwise.push_back(ni);
    plan.touched.push_back({ni, "depthwise", 1});
    return follow(out, map, channels, plan);
  }
  if (op == "Gemm" || op == "MatMul") {
    if (slot != 0) return at + " as input " + std::to_string(slot);
    if (map.axis != -1) return at + " with the channels not on the last axis";
    if (op == "Gemm" && n.attr_int("transA", 0) != 0) return at + " with transA=1";
    const std::string& w = n.inputs.size() > 1 ? n.inputs[1] : "";
    const Tensor* wt = g.find_initializer(w);
    if (!wt || wt->rank() != 2) return at + " whose weight is not a 2-D constant";
    const int axis = op == "Gemm" && n.attr_int("transB", 0) != 0 ? 1 : 0;
    if (std::string why = edit(plan, w, n.describe() + " weight", axis, map.block, channels, Edit::Role::kInput);
        !why.empty())
      return at + ": " + why;
    plan.touched.push_back({ni, "input", map.block});
    return "";
  }
  return at + " (channels are not followed through " + op + ")";
}

// `t` without the entries of removed channels along `axis` (channel c: [c * block, (c+1) * block)).
Tensor drop_channels(const Tensor& t, int axis, int64_t block, const std::vector<char>& removed) {
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= t.dim(d);
  for (int d = axis + 1; d < t.rank(); ++d) inner *= t.dim(d);
  const int64_t n = t.dim(axis);
  int64_t kept = 0;
  for (int64_t j = 0; j < n; ++j) kept += !removed[j / block];
  Shape shape = t.shape();
  shape[axis] = kept;
  Tensor out(DType::kF32, shape, t.name());
  const float* src = t.data<float>();
  float* dst = out.mutable_data<float>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < n; ++j) {
      if (removed[j / block]) continue;
      const float* s = src + (o * n + j) * inner;
      dst = std::copy(s, s + inner, dst);
    }
  return out;
}

// Norm of each output channel (entries of `axis` of the weight).
std::vector<double> channel_norms(const Tensor& w, int axis, ChannelCriterion c) {
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= w.dim(d);
  for (int d = axis + 1; d < w.rank(); ++d) inner *= w.dim(d);
  const int64_t n = w.dim(axis);
  std::vector<double> norm(static_cast<size_t>(n), 0.0);
  const float* src = w.data<float>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < inner; ++i) {
        const double x = src[(o * n + j) * inner + i];
        norm[j] += c == ChannelCriterion::kL1 ? std::fabs(x) : x * x;
      }
  if (c == ChannelCriterion::kL2)
    for (double& x : norm) x = std::sqrt(x);
  return norm;
}

// Plans the removal of one layer's output channels; "" or why it cannot be done. `out_axis`
// returns the weight axis holding the output channels.
std::string plan_layer(Walk& walk, const Layer& l, int64_t& channels, int& out_axis, Plan& plan) {
  const Graph& g = walk.g;
  const Node& n = g.nodes[l.index];
  const Tensor& w = *g.find_initializer(l.weight);
  ChannelMap map;
  if (l.op == "Conv") {
    if (n.attr_int("group", 1) != 1)
      return "group " + std::to_string(n.attr_int("group", 1)) +
             " (grouped Convs are not pruned themselves; a depthwise Conv follows its producer's channels)";
    out_axis = 0;
    map.axis = 1 - w.rank();
  } else {
    out_axis = l.op == "Gemm" && n.attr_int("transB", 0) != 0 ? 0 : 1;
  }
  channels = w.dim(out_axis);
  walk.visited.clear();
  walk.visited.insert(l.index);
  plan.edits.push_back({l.weight, out_axis, 1, Edit::Role::kOutput});
  if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
    const std::string& b = n.inputs[2];
    const Tensor* bt = g.find_initializer(b);
    if (l.op == "Conv") {
      if (std::string why = walk.edit(plan, b, "bias", 0, 1, channels, Edit::Role::kOther); !why.empty()) return why;
    } else if (!bt || !is_constant_initializer(g, b)) {
      return "bias '" + b + "' is not a constant initializer";
    } else if (bt->rank() > 0 && bt->dim(-1) != 1) {
      if (std::string why = walk.edit(plan, b, "bias", bt->rank() - 1, 1, channels, Edit::Role::kOther); !why.empty())
        return why;
    }
  }
  if (n.outputs.size() != 1) return "has " + std::to_string(n.outputs.size()) + " outputs";
  plan.observed = n.outputs[0];
  plan.observed_map = map;
  return walk.follow(n.outputs[0], map, channels, plan);
}

const char* criterion_name(ChannelCriterion c) { return c == ChannelCriterion::kL1 ? "l1" : "l2"; }

// Mean |y| per channel of each planned layer's observed value (plans[i].observed, "" for none)
// over the calibration batches, in double, in batch order; means[i] empty for none.
Status mean_abs_activations(const Model& model, PassContext& ctx, const PruneOptions& o, const std::vector<Plan>& plans,
                            std::vector<std::vector<double>>& means) {
  if (!ctx.calibration())
    return invalid_argument("prune: activation_aware needs calibration data (the layers' output activations); give "
                            "calibration data (a recipe's calibration.data) or set activation_aware to false");
  ExecutorOptions eo;
  eo.num_threads = ctx.num_threads();
  eo.dynamic_batch = true;
  eo.fuse_float = false;  // observe every activation (fused chains would hide their inner values)
  BS_ASSIGN_OR_RETURN(std::unique_ptr<Executor> exec, Executor::create(model, eo));
  std::unordered_multimap<std::string, size_t> by_value;
  for (size_t i = 0; i < plans.size(); ++i)
    if (!plans[i].observed.empty()) by_value.emplace(plans[i].observed, i);
  std::vector<std::vector<double>> sums(plans.size());
  std::vector<int64_t> counts(plans.size(), 0);
  auto watch = [&](const Node& node, const std::string& name, const Tensor& t) -> Status {
    auto [lo, hi] = by_value.equal_range(name);
    for (auto it = lo; it != hi; ++it) {
      const ChannelMap map = plans[it->second].observed_map;
      const int axis = t.rank() + map.axis;
      if (t.dtype() != DType::kF32 || axis < 0 || t.dim(axis) % map.block != 0)
        return unsupported("prune: value '" + name + "' (output of " + node.describe() + ") is " +
                           std::string(dtype_name(t.dtype())) + " " + shape_str(t.shape()) +
                           "; activation_aware needs f32 with the channels on axis " + std::to_string(map.axis));
      int64_t outer = 1, inner = 1;
      for (int d = 0; d < axis; ++d) outer *= t.dim(d);
      for (int d = axis + 1; d < t.rank(); ++d) inner *= t.dim(d);
      const int64_t n = t.dim(axis);
      std::vector<double>& s = sums[it->second];
      if (s.empty()) s.assign(static_cast<size_t>(n / map.block), 0.0);
      if (static_cast<int64_t>(s.size()) * map.block != n)
        return data_error("prune: value '" + name + "' of " + node.describe() + " changed its channel count");
      const float* p = t.data<float>();
      for (int64_t a = 0; a < outer; ++a)
        for (int64_t j = 0; j < n; ++j)
          for (int64_t i = 0; i < inner; ++i) s[j / map.block] += std::fabs(static_cast<double>(p[(a * n + j) * inner + i]));
      counts[it->second] += outer * inner * map.block;
    }
    return Status::ok();
  };
  int64_t batch_index = 0, used = 0;
  BS_TRY(ctx.calibration()([&](const NamedTensors& batch) -> Status {
    const int64_t k = batch_index++;
    if (o.calibration_batches > 0 && used >= o.calibration_batches) return Status::ok();
    Expected<std::vector<Tensor>> out = exec->run_observed(batch, watch);
    if (!out) return out.status().with_context("prune: calibration batch " + std::to_string(k));
    ++used;
    return Status::ok();
  }));
  if (used == 0) return data_error("prune: the calibration data is empty (no batches)");
  means.assign(plans.size(), {});
  for (size_t i = 0; i < plans.size(); ++i) {
    means[i] = sums[i];
    for (double& m : means[i]) m /= static_cast<double>(std::max<int64_t>(counts[i], 1));
  }
  ctx.record().counters["calibration_batches"] = used;
  return Status::ok();
}

}  // namespace

Status prune_structured(Model& model, PassContext& ctx, const PruneOptions& o, const std::vector<Layer>& layers) {
  Graph& g = model.graph;
  PassRecord& rec = ctx.record();
  if (layers.empty()) return Status::ok();
  Walk walk(g);
  walk.consumers = g.consumer_index();
  walk.uses = passes_detail::value_use_counts(g);
  for (const ValueInfo& v : g.outputs) walk.outputs.insert(v.name);
  if (auto s = infer_shapes(model); s.is_ok()) walk.shapes = std::move(s).value();
  std::vector<std::vector<double>> act;  // activation_aware: mean |y_c| per layer
  if (o.activation_aware) {
    // Plans on the graph as received, only to find the values to observe (what they flow
    // through does not depend on the other layers' pruning).
    std::vector<Plan> plans(layers.size());
    for (size_t i = 0; i < layers.size(); ++i) {
      int64_t channels = 0;
      int out_axis = 0;
      if (!plan_layer(walk, layers[i], channels, out_axis, plans[i]).empty()) plans[i] = Plan{};
    }
    BS_TRY(mean_abs_activations(model, ctx, o, plans, act));
  }
  const double sparsity = target_sparsity(o);
  for (size_t li = 0; li < layers.size(); ++li) {
    const Layer& l = layers[li];
    Node& node = g.nodes[l.index];
    Plan plan;
    int64_t channels = 0;
    int out_axis = 0;
    if (std::string why = plan_layer(walk, l, channels, out_axis, plan); !why.empty()) {
      rec.skip(node, l.index, "output channels not removed: " + why);
      rec.count("skipped");
      continue;
    }
    const int64_t k = prune_count(sparsity, channels);
    if (k <= 0) {
      rec.skip(node, l.index, "sparsity " + json_brief(nlohmann::json(sparsity)) + " of " + std::to_string(channels) +
                                  " output channels removes none");
      rec.count("skipped");
      continue;
    }
    // The k lowest norms (ties: lower index).
    std::vector<double> norm = channel_norms(*g.find_initializer(l.weight), out_axis, o.criterion);
    if (o.activation_aware) {
      if (act[li].size() != norm.size()) {  // never computed, or the channels changed
        rec.skip(node, l.index, "output channels not removed: no activation statistics of its " +
                                    std::to_string(norm.size()) + " output channels (value '" + plan.observed + "')");
        rec.count("skipped");
        continue;
      }
      for (size_t c = 0; c < norm.size(); ++c) norm[c] *= act[li][c];
    }
    std::vector<int64_t> order(norm.size());
    for (size_t c = 0; c < order.size(); ++c) order[c] = static_cast<int64_t>(c);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return norm[a] < norm[b]; });
    std::vector<char> removed(norm.size(), 0);
    for (int64_t i = 0; i < k; ++i) removed[order[i]] = 1;

    const std::string of = std::to_string(k) + " of " + std::to_string(channels);
    const std::string crit = std::string(criterion_name(o.criterion)) + (o.activation_aware ? " x mean |activation|" : "");
    for (const Edit& e : plan.edits) {
      const Tensor before = *g.find_initializer(e.name);
      Tensor after = drop_channels(before, e.axis, e.block, removed);
      TensorChange t;
      t.tensor = t.result = e.name;
      t.dtype_before = t.dtype_after = DType::kF32;
      t.numel = before.numel();
      t.bytes_before = static_cast<int64_t>(before.nbytes());
      t.bytes_after = static_cast<int64_t>(after.nbytes());
      switch (e.role) {
        case Edit::Role::kOutput: t.how = "removed " + of + " output channels (" + crit + ")"; break;
        case Edit::Role::kInput:
          t.how = "removed " + std::to_string(k * e.block) + " input channels (outputs of " + node.describe() + ")";
          break;
        case Edit::Role::kOther:
          t.how = "removed " + std::to_string(k * e.block) + " entries (channels of " + node.describe() + ")";
          break;
      }
      rec.count("params_removed", before.numel() - after.numel());
      rec.tensors.push_back(std::move(t));
      passes_detail::set_initializer(g, std::move(after));
    }
    for (size_t ni : plan.depthwise)
      if (Attribute* a = g.nodes[ni].find_attr("group")) a->i = channels - k;
    for (const std::string& v : plan.values) passes_detail::erase_value_info(g, v);
    for (const Plan::Touch& t : plan.touched) {
      const std::string n = t.block == 1 ? std::to_string(k) + " " + (t.what == "input" ? "input channels" : "channels")
                                         : std::to_string(k * t.block) + " " + (t.what == "input" ? "inputs" : "entries") +
                                               " (" + std::to_string(k) + " channels x " + std::to_string(t.block) + ")";
      const std::string extra = t.what == "depthwise" ? " (depthwise, group " + std::to_string(channels - k) + ")" : "";
      rec.touch(g.nodes[t.node], t.node, "removed " + n + extra + " (follows " + node.describe() + ")");
    }
    rec.touch(node, l.index, "removed " + of + " output channels (" + crit + " norm)");
    rec.count("layers_pruned");
    rec.count("channels_removed", k);
  }
  return Status::ok();
}

}  // namespace bitsmith::prune_detail
