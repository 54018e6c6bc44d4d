// prune: sets weights of the weighted layers (Conv, Gemm, MatMul with a constant f32 weight) in
// ctx.scope() to exactly zero; the weight stays a dense f32 initializer (same bytes).
//
//   method "magnitude"  lowest |w| (no data)
//   method "wanda"      lowest |w| * ||x_j||_2 per output row (Sun et al. 2023), x_j the layer's
//                       input feature j over the calibration rows
//   method "sparsegpt"  one-shot OBS pruning with weight updates from the calibration Hessian
//                       (prune_sparsegpt.cpp)
//   pattern "unstructured"  a fraction `sparsity` of each layer (see prune_impl.h for the groups
//                           the count is taken over); "n:m": at most n nonzeros in every m
//                           consecutive weights along the reduction axis (2:4, 4:8);
//                           "structured": whole output channels (Conv) / neurons (Gemm, MatMul)
//                           with the lowest L1/L2 weight norm (`criterion`) are removed from the
//                           graph with the consumers' matching inputs (prune_structured.cpp;
//                           method magnitude only; `activation_aware` scales the norms by the
//                           channels' mean |output| on the calibration data)
//   threshold "global"      unstructured only: one magnitude threshold over all the layers in
//                           scope sets each layer's sparsity (layers end up different, the total
//                           matches); with wanda / sparsegpt those per-layer sparsities are then
//                           reached by the method's own scores (scores of different layers are
//                           not comparable: activation scales differ).
// wanda / sparsegpt need calibration data; with `sequential` (default) the layers are pruned in
// waves, each layer's input statistics taken with every layer before it already pruned (the
// paper's setting); otherwise all from the unpruned model in one run. Conv works with every
// method when group is 1 and the weight is 2-D spatial (im2col rows); other Convs are pruned by
// magnitude only (skipped, with the reason, by the data methods).
// Records: a TensorChange per weight (error of the pruned weight against the one received),
// counters weights_total / weights_zero / layers_pruned, touched nodes with the sparsity reached.
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <variant>

#include "bitsmith/ir/op_schema.h"
#include "bitsmith/quant/weight_quant.h"
#include "passes/graph_util.h"
#include "passes/pass_impl.h"
#include "passes/prune_impl.h"
#include "passes/weighted_layers.h"

namespace bitsmith {
namespace prune_detail {

using passes_detail::input_at;
using passes_detail::is_constant_initializer;
using passes_detail::own_f32_weight_problem;

const std::vector<std::string> kPrunableOps = {"Conv", "Gemm", "MatMul"};

const OptionTable<PruneOptions>& prune_option_table() {
  static const OptionTable<PruneOptions> t =
      OptionTable<PruneOptions>()
          .enumeration("method", &PruneOptions::method,
                       "magnitude: lowest |w|; wanda: lowest |w|*||x||; sparsegpt: OBS with weight updates "
                       "(wanda and sparsegpt need calibration data)",
                       {{"magnitude", PruneMethod::kMagnitude},
                        {"wanda", PruneMethod::kWanda},
                        {"sparsegpt", PruneMethod::kSparseGpt}})
          .optional_real("sparsity", &PruneOptions::sparsity,
                         "Fraction of each layer's weights set to zero, in [0, 1) (null: 0.5); with pattern n:m "
                         "it is 1 - n/m")
          .enumeration("pattern", &PruneOptions::pattern,
                       "unstructured: any weights; n:m: at most n nonzeros in every m consecutive weights along "
                       "the reduction axis; structured: whole output channels / neurons removed from the graph",
                       {{"unstructured", PrunePattern::kUnstructured},
                        {"n:m", PrunePattern::kNM},
                        {"structured", PrunePattern::kStructured}})
          .integer("n", &PruneOptions::n, "N:M: nonzeros kept per group (less than m)", 1, 63)
          .integer("m", &PruneOptions::m, "N:M: group size", 2, 64)
          .enumeration("threshold", &PruneOptions::threshold,
                       "layer: each layer to `sparsity`; global: one magnitude threshold over all layers in scope "
                       "(unstructured only)",
                       {{"layer", ThresholdScope::kLayer}, {"global", ThresholdScope::kGlobal}})
          .real("damping", &PruneOptions::damping,
                "sparsegpt: fraction of the mean diagonal of X^T X added to its diagonal", 0.0, 100.0)
          .integer("block_size", &PruneOptions::block_size,
                   "sparsegpt: columns per block (masks chosen per block; a multiple of m for n:m)", 1, 1 << 20)
          .flag("sequential", &PruneOptions::sequential,
                "wanda/sparsegpt: take each layer's input statistics with the layers before it already pruned")
          .integer("calibration_batches", &PruneOptions::calibration_batches,
                   "Calibration batches used (0: all the data given)", 0, int64_t{1} << 40)
          .string_list("ops", &PruneOptions::ops, "Op types to prune", kPrunableOps)
          .enumeration("criterion", &PruneOptions::criterion,
                       "structured: norm of an output channel's weights ranking it (lowest removed)",
                       {{"l1", ChannelCriterion::kL1}, {"l2", ChannelCriterion::kL2}})
          .flag("activation_aware", &PruneOptions::activation_aware,
                "structured: rank channels by norm x mean |output| over the calibration data (outputs taken "
                "after a BatchNormalization / per-channel Mul or Add that directly follows; needs calibration "
                "data; statistics of the model as received)");
  return t;
}

namespace {

const char* method_name(PruneMethod m) {
  switch (m) {
    case PruneMethod::kMagnitude: return "magnitude";
    case PruneMethod::kWanda: return "wanda";
    case PruneMethod::kSparseGpt: return "sparsegpt";
  }
  return "?";
}

std::string percent(double f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * f);
  return buf;
}

using MatchResult = std::variant<Layer, std::string>;

MatchResult match_node(const Graph& g, size_t i, const PruneOptions& o, const std::unordered_map<std::string, int>& uses) {
  const Node& node = g.nodes[i];
  Layer l;
  l.index = i;
  l.op = node.op_type;
  l.input = input_at(node, 0);
  l.weight = input_at(node, 1);
  if (std::string why = own_f32_weight_problem(g, l.weight, uses, "pruned"); !why.empty()) return why;
  const Tensor& w = *g.find_initializer(l.weight);
  if (l.op == "Conv") {
    if (w.rank() < 3) return "weight has rank " + std::to_string(w.rank()) + ", expected at least 3";
    l.rows = w.dim(0);
    l.cols = w.numel() / l.rows;
  } else {
    if (w.rank() != 2) return "weight has rank " + std::to_string(w.rank()) + " (only 2-D weights)";
    l.kn = !(l.op == "Gemm" && node.attr_int("transB", 0) != 0);
    l.rows = l.kn ? w.dim(1) : w.dim(0);
    l.cols = l.kn ? w.dim(0) : w.dim(1);
  }
  if (o.pattern == PrunePattern::kNM && l.cols % o.m != 0)
    return "reduction axis has " + std::to_string(l.cols) + " weights, not a multiple of m = " + std::to_string(o.m);
  if (!needs_data(o)) return l;
  const std::string why = std::string(method_name(o.method)) + " needs the input activations: ";
  if (l.input.empty() || g.find_initializer(l.input)) return why + "input 0 is not an activation";
  if (l.op == "Gemm" && node.attr_int("transA", 0) != 0) return why + "transA=1 (only transA=0)";
  if (l.op == "Conv")
    if (std::string r = passes_detail::conv_input_geometry(node, w, l); !r.empty()) return why + r;
  return l;
}

class PrunePass final : public PassWithOptions<PruneOptions> {
 public:
  PrunePass(std::string_view name, Options options) : PassWithOptions(name, std::move(options), option_table()) {}
  static const OptionTable<Options>& option_table() { return prune_option_table(); }

  static void validate(const Options& o, const std::string& pointer, std::vector<std::string>& errors) {
    const std::string sp = json_pointer_append(pointer, "sparsity");
    if (o.sparsity && !(*o.sparsity >= 0 && *o.sparsity < 1))
      errors.push_back(sp + ": " + json_brief(nlohmann::json(*o.sparsity)) + " is out of range [0, 1)");
    if (o.pattern == PrunePattern::kStructured) {
      if (o.method != PruneMethod::kMagnitude)
        errors.push_back(json_pointer_append(pointer, "method") + ": \"" + method_name(o.method) +
                         "\" does not apply to pattern \"structured\" (channels are ranked by weight norm, see "
                         "criterion; use \"magnitude\")");
      if (o.threshold == ThresholdScope::kGlobal)
        errors.push_back(json_pointer_append(pointer, "threshold") + ": \"global\" is for pattern \"unstructured\"");
    }
    if (o.activation_aware && o.pattern != PrunePattern::kStructured)
      errors.push_back(json_pointer_append(pointer, "activation_aware") + ": only for pattern \"structured\" (wanda "
                       "and sparsegpt are the activation-aware methods of the other patterns)");
    if (o.pattern != PrunePattern::kNM) return;
    if (o.n >= o.m)
      errors.push_back(json_pointer_append(pointer, "n") + ": n (" + std::to_string(o.n) + ") must be less than m (" +
                       std::to_string(o.m) + "): pattern n:m keeps at most n nonzeros in every m weights");
    if (o.sparsity && o.n < o.m && std::fabs(*o.sparsity - (1.0 - static_cast<double>(o.n) / o.m)) > 1e-9)
      errors.push_back(sp + ": pattern n:m prunes 1 - n/m = " +
                       json_brief(nlohmann::json(1.0 - static_cast<double>(o.n) / o.m)) + " of the weights; leave "
                       "sparsity null (got " + json_brief(nlohmann::json(*o.sparsity)) + ")");
    if (o.threshold == ThresholdScope::kGlobal)
      errors.push_back(json_pointer_append(pointer, "threshold") + ": \"global\" is for pattern \"unstructured\"");
    if (o.method == PruneMethod::kSparseGpt && o.block_size % o.m != 0)
      errors.push_back(json_pointer_append(pointer, "block_size") + ": " + std::to_string(o.block_size) +
                       " is not a multiple of m = " + std::to_string(o.m) + " (sparsegpt with n:m)");
  }

  Status run(Model& model, PassContext& ctx) override {
    Model work = model;  // tensors are shared handles: cheap; an error leaves `model` as it was
    BS_TRY(run_on(work, ctx));
    model = std::move(work);
    return Status::ok();
  }

 private:
  Status run_on(Model& model, PassContext& ctx) const;
  Status prune_layer(Model& model, PassContext& ctx, const Layer& l, double sparsity, const LayerStats* stats) const;
};

// Layers of `pending` whose input does not depend on the output of any pending layer.
std::vector<size_t> next_wave(const Graph& g, const std::vector<Layer>& layers, const std::vector<size_t>& pending) {
  std::set<size_t> pending_nodes;
  for (size_t p : pending) pending_nodes.insert(layers[p].index);
  std::set<std::string> tainted;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    bool t = pending_nodes.count(i) > 0;
    for (const std::string& in : n.inputs) t = t || (!in.empty() && tainted.count(in));
    if (t)
      for (const std::string& out : n.outputs) tainted.insert(out);
  }
  std::vector<size_t> wave;
  for (size_t p : pending)
    if (!tainted.count(layers[p].input)) wave.push_back(p);
  return wave;
}

Status PrunePass::prune_layer(Model& model, PassContext& ctx, const Layer& l, double sparsity,
                              const LayerStats* stats) const {
  const Options& o = options();
  Graph& g = model.graph;
  const Tensor original = *g.find_initializer(l.weight);
  std::vector<float> w = weight_rows(original, l);
  PassRecord& rec = ctx.record();
  const Node& node = g.nodes[l.index];
  if (o.method == PruneMethod::kSparseGpt) {
    double damp = o.damping;
    const int threads = ctx.num_threads() > 0 ? ctx.num_threads() : omp_get_max_threads();
    Status s = sparsegpt(w, l.rows, l.cols, stats->gram, o, sparsity, threads, damp);
    if (!s.is_ok()) return s.with_context("prune: " + node.describe());
    if (damp != o.damping)
      rec.notes.push_back(node.describe() + ": sparsegpt damping raised to " + json_brief(nlohmann::json(damp)) +
                          " (the input Hessian was not positive definite)");
  } else {
    prune_by_score(w, l.rows, l.cols, stats ? stats->sumsq : std::vector<double>{}, o, sparsity);
  }
  Tensor pruned = weight_from_rows(w, original, l);
  const auto zeros = static_cast<int64_t>(std::count(w.begin(), w.end(), 0.f));
  const double achieved = static_cast<double>(zeros) / static_cast<double>(w.size());
  const std::string pattern =
      o.pattern == PrunePattern::kNM ? std::to_string(o.n) + ":" + std::to_string(o.m) : percent(sparsity) + " unstructured";
  const QuantError e = quant_error(original, pruned);
  TensorChange t;
  t.tensor = t.result = l.weight;
  t.dtype_before = t.dtype_after = DType::kF32;
  t.numel = original.numel();
  t.bytes_before = t.bytes_after = static_cast<int64_t>(original.nbytes());
  t.sqnr_db = e.sqnr_db;
  t.cosine = e.cosine;
  t.max_abs_err = e.max_abs;
  t.how = pattern + " (" + method_name(o.method) + ")";
  rec.tensors.push_back(std::move(t));
  rec.count("weights_total", original.numel());
  rec.count("weights_zero", zeros);
  rec.count("layers_pruned");
  rec.touch(node, l.index, "pruned to " + percent(achieved) + " zeros (" + pattern + ", " + method_name(o.method) + ")");
  passes_detail::set_initializer(g, std::move(pruned));
  return Status::ok();
}

Status PrunePass::run_on(Model& model, PassContext& ctx) const {
  const Options& o = options();
  Graph& g = model.graph;
  auto match = [&](const Graph& graph, size_t i, const std::unordered_map<std::string, int>& uses) {
    return match_node(graph, i, o, uses);
  };
  BS_ASSIGN_OR_RETURN(std::vector<Layer> layers, passes_detail::select_weighted_layers<Layer>(
                                                     g, ctx, {"prune", "prune", "prunes"}, o.ops, kPrunableOps, match));
  if (o.pattern == PrunePattern::kStructured) return prune_structured(model, ctx, o, layers);
  if (layers.empty()) return Status::ok();

  // Sparsity of each layer (unused by n:m).
  std::vector<double> sparsity(layers.size(), target_sparsity(o));
  if (o.pattern == PrunePattern::kUnstructured && o.threshold == ThresholdScope::kGlobal) {
    std::vector<std::vector<float>> all;
    for (const Layer& l : layers) all.push_back(weight_rows(*g.find_initializer(l.weight), l));
    sparsity = global_sparsities(all, target_sparsity(o));
  }
  if (!needs_data(o)) {
    for (size_t i = 0; i < layers.size(); ++i) BS_TRY(prune_layer(model, ctx, layers[i], sparsity[i], nullptr));
    return Status::ok();
  }
  const bool full = o.method == PruneMethod::kSparseGpt;
  std::vector<size_t> pending(layers.size());
  for (size_t i = 0; i < pending.size(); ++i) pending[i] = i;
  while (!pending.empty()) {
    const std::vector<size_t> wave = o.sequential ? next_wave(g, layers, pending) : pending;
    std::vector<Layer> wave_layers;
    for (size_t p : wave) wave_layers.push_back(layers[p]);
    std::vector<LayerStats> stats;
    BS_TRY(collect_stats(model, ctx, o, wave_layers, full, stats));
    for (size_t k = 0; k < wave.size(); ++k) {
      BS_TRY(prune_layer(model, ctx, wave_layers[k], sparsity[wave[k]], &stats[k]));
      stats[k] = LayerStats{};  // free the Hessian
    }
    std::erase_if(pending, [&](size_t p) { return std::find(wave.begin(), wave.end(), p) != wave.end(); });
  }
  return Status::ok();
}

}  // namespace
}  // namespace prune_detail

using PrunePass = prune_detail::PrunePass;

}  // namespace bitsmith

BS_DEFINE_PASS(PrunePass)
