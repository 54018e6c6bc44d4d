// cluster (weight sharing): replaces each weight of the weighted layers (Conv, Gemm, MatMul with
// a constant f32 weight used by that node only) in ctx.scope() by 2^bits shared values.
//
//   bits         1..8: 2^bits centroids per codebook (Deep Compression uses 2..8; 1 is allowed:
//                two values, or zero and one value when the weight has pruned zeros)
//   init         linear (equally spaced over [min, max] of the nonzero weights), kmeans++ (D^2
//                sampling, draws from ctx.rng() only) or density (equally spaced quantiles of
//                the weights' empirical CDF), then Lloyd iterations (cluster_kmeans.cpp)
//   granularity  per-tensor (one codebook) or per-channel-group (one per group_size output
//                channels; see cluster_impl.h for which axis that is)
//   refit        least-squares refit of the centroid values on calibration outputs, given the
//                assignments (cluster_refit.cpp); MatMul and Gemm only, Conv keeps k-means values
// Exact zeros (pruned weights) stay exactly zero: centroid 0 of a codebook whose weights
// contain a zero is 0.0 and never moves.
//
// Storage (loads in ONNX Runtime): the initializer W becomes
//   W_indices  uint8, W's shape: the centroid index of each weight
//   W_codebook f32 [groups * 2^bits]: the centroids, group g at [g * 2^bits, (g + 1) * 2^bits)
//   W_offsets  int32 (per-channel-group with more than one group only): g * 2^bits for each
//              output channel, shaped to broadcast against W ([1, N] for [K, N]; [O, 1, ...])
// decoded in the graph by Cast(W_indices, to int32) [-> Add(W_offsets)] -> Gather(W_codebook,
// axis 0) -> the layer's weight input. Indices are uint8 even at <= 4 bits: ONNX Runtime 1.30
// runs Cast from uint4 (opset 21), but bitsmith's own Cast kernel has no 4-bit types; the .bsm
// container packs indices to `bits` bits and entropy-codes them.
// Records: a TensorChange per weight (error of the decoded weight against the one received),
// counters weights_clustered / codebooks / centroids / lloyd_iterations / centroids_refit,
// touched nodes.
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <variant>

#include "bitsmith/ir/op_schema.h"
#include "bitsmith/quant/weight_quant.h"
#include "passes/cluster_impl.h"
#include "passes/graph_util.h"
#include "passes/pass_impl.h"
#include "passes/weighted_layers.h"

namespace bitsmith {
namespace cluster_detail {

using passes_detail::input_at;
using passes_detail::is_constant_initializer;
using passes_detail::own_f32_weight_problem;

const std::vector<std::string> kClusterOps = {"Conv", "Gemm", "MatMul"};

const char* init_name(ClusterInit init) {
  switch (init) {
    case ClusterInit::kLinear: return "linear";
    case ClusterInit::kKMeansPlusPlus: return "kmeans++";
    case ClusterInit::kDensity: return "density";
  }
  return "?";
}

const OptionTable<ClusterOptions>& cluster_option_table() {
  static const OptionTable<ClusterOptions> t =
      OptionTable<ClusterOptions>()
          .integer("bits", &ClusterOptions::bits, "Index bits: 2^bits centroids per codebook", 1, 8)
          .enumeration("init", &ClusterOptions::init,
                       "Initial centroids: linear over [min, max], kmeans++ (seeded), or density (CDF quantiles)",
                       {{"linear", ClusterInit::kLinear},
                        {"kmeans++", ClusterInit::kKMeansPlusPlus},
                        {"density", ClusterInit::kDensity}})
          .enumeration("granularity", &ClusterOptions::granularity,
                       "One codebook per tensor, or per group of group_size output channels",
                       {{"per-tensor", ClusterGranularity::kPerTensor},
                        {"per-channel-group", ClusterGranularity::kPerChannelGroup}})
          .integer("group_size", &ClusterOptions::group_size,
                   "per-channel-group: output channels sharing one codebook (the last group may be smaller)", 1,
                   int64_t{1} << 31)
          .integer("iterations", &ClusterOptions::iterations,
                   "Lloyd iterations at most (stops early when no assignment changes)", 0, 100000)
          .flag("refit", &ClusterOptions::refit,
                "Least-squares refit of the centroids on calibration outputs (MatMul/Gemm; needs calibration data)")
          .integer("calibration_batches", &ClusterOptions::calibration_batches,
                   "refit: calibration batches used (0: all the data given)", 0, int64_t{1} << 40)
          .string_list("ops", &ClusterOptions::ops, "Op types to cluster", kClusterOps);
  return t;
}

std::vector<float> weight_rows(const Tensor& w, const Layer& l) {
  const float* src = w.data<float>();
  std::vector<float> out(static_cast<size_t>(l.rows * l.cols));
  for (int64_t r = 0; r < l.rows; ++r)
    for (int64_t c = 0; c < l.cols; ++c) out[r * l.cols + c] = src[storage_offset(l, r, c)];
  return out;
}

namespace {

using MatchResult = std::variant<Layer, std::string>;

MatchResult match_node(const Graph& g, size_t i, const std::unordered_map<std::string, int>& uses) {
  const Node& node = g.nodes[i];
  Layer l;
  l.index = i;
  l.op = node.op_type;
  l.input = input_at(node, 0);
  l.weight = input_at(node, 1);
  if (std::string why = own_f32_weight_problem(g, l.weight, uses, "clustered"); !why.empty()) return why;
  const Tensor& w = *g.find_initializer(l.weight);
  const float* p = w.data<float>();
  if (!std::all_of(p, p + w.numel(), [](float v) { return std::isfinite(v); }))
    return "weight '" + l.weight + "' has non-finite values";
  if (l.op == "Conv") {
    if (w.rank() < 3) return "weight has rank " + std::to_string(w.rank()) + ", expected at least 3";
    l.rows = w.dim(0);
    l.cols = w.numel() / l.rows;
  } else {
    if (w.rank() != 2) return "weight has rank " + std::to_string(w.rank()) + " (only 2-D weights)";
    l.kn = !(l.op == "Gemm" && node.attr_int("transB", 0) != 0);
    l.rows = l.kn ? w.dim(1) : w.dim(0);
    l.cols = l.kn ? w.dim(0) : w.dim(1);
    l.refit_ok = !l.input.empty() && !g.find_initializer(l.input) &&
                 !(l.op == "Gemm" && node.attr_int("transA", 0) != 0);
  }
  return l;
}

Node make_node(std::string op, std::vector<std::string> inputs, std::string output, std::string name,
               std::vector<Attribute> attrs = {}) {
  Node n;
  n.op_type = std::move(op);
  n.inputs = std::move(inputs);
  n.outputs = {std::move(output)};
  n.name = std::move(name);
  n.attributes = std::move(attrs);
  return n;
}

std::string error_text(const QuantError& e) {
  if (!std::isfinite(e.sqnr_db)) return "exact";
  char buf[48];
  std::snprintf(buf, sizeof buf, "SQNR %.1f dB", e.sqnr_db);
  return buf;
}

class ClusterPass final : public PassWithOptions<ClusterOptions> {
 public:
  ClusterPass(std::string_view name, Options options) : PassWithOptions(name, std::move(options), option_table()) {}
  static const OptionTable<Options>& option_table() { return cluster_option_table(); }

  Status run(Model& model, PassContext& ctx) override {
    Model work = model;  // tensors are shared handles: cheap; an error leaves `model` as it was
    BS_TRY(run_on(work, ctx));
    model = std::move(work);
    return Status::ok();
  }

 private:
  Status run_on(Model& model, PassContext& ctx) const;
  // Clusters one layer; `gram` is null without refit (or for a layer refit does not apply to).
  void cluster_layer(Model& model, PassContext& ctx, const Layer& l, const std::vector<double>* gram,
                     passes_detail::NameAllocator& names) const;
};

void ClusterPass::cluster_layer(Model& model, PassContext& ctx, const Layer& l, const std::vector<double>* gram,
                                passes_detail::NameAllocator& names) const {
  const Options& o = options();
  Graph& g = model.graph;
  PassRecord& rec = ctx.record();
  const Tensor original = *g.find_initializer(l.weight);
  const std::vector<float> w = weight_rows(original, l);
  const int k = 1 << o.bits;
  const int64_t per = o.granularity == ClusterGranularity::kPerTensor ? l.rows : std::min(o.group_size, l.rows);
  const int64_t groups = (l.rows + per - 1) / per;
  // One seed per codebook, drawn in order, so codebooks can be fit in parallel deterministically.
  std::vector<uint64_t> seeds(static_cast<size_t>(groups));
  for (uint64_t& s : seeds) s = ctx.rng()();
  std::vector<Codebook> books(static_cast<size_t>(groups));
  const int threads = ctx.num_threads() > 0 ? ctx.num_threads() : omp_get_max_threads();
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t gi = 0; gi < groups; ++gi) {
    const int64_t r0 = gi * per, r1 = std::min(l.rows, r0 + per);
    const std::vector<float> values(w.begin() + r0 * l.cols, w.begin() + r1 * l.cols);
    std::mt19937_64 rng(seeds[static_cast<size_t>(gi)]);
    books[static_cast<size_t>(gi)] = fit_codebook(values, k, o.init, o.iterations, rng);
  }
  std::vector<uint8_t> assign(w.size());
  int64_t lloyd = 0;
  for (int64_t gi = 0; gi < groups; ++gi) {
    const Codebook& cb = books[static_cast<size_t>(gi)];
    std::copy(cb.assign.begin(), cb.assign.end(), assign.begin() + gi * per * l.cols);
    lloyd += cb.iterations_run;
  }
  int64_t refit = 0;
  if (gram)
    for (int64_t gi = 0; gi < groups; ++gi) {
      Codebook& cb = books[static_cast<size_t>(gi)];
      refit += refit_codebook(w, assign, l.cols, gi * per, std::min(l.rows, (gi + 1) * per), *gram, cb.zero_fixed,
                              ctx.num_threads(), cb.centroids);
    }

  // Stored tensors and the decoded weight (for the measured error).
  Tensor indices(DType::kU8, original.shape()), codebook(DType::kF32, {groups * k}), decoded(DType::kF32, original.shape());
  for (int64_t gi = 0; gi < groups; ++gi)
    for (int j = 0; j < k; ++j)
      codebook.mutable_data<float>()[gi * k + j] = static_cast<float>(books[static_cast<size_t>(gi)].centroids[j]);
  for (int64_t r = 0; r < l.rows; ++r)
    for (int64_t c = 0; c < l.cols; ++c) {
      const int64_t at = storage_offset(l, r, c);
      const uint8_t a = assign[static_cast<size_t>(r * l.cols + c)];
      indices.mutable_data<uint8_t>()[at] = a;
      decoded.mutable_data<float>()[at] = codebook.data<float>()[(r / per) * k + a];
    }
  Tensor offsets;
  if (groups > 1) {
    Shape shape(static_cast<size_t>(original.rank()), 1);
    shape[l.kn ? 1 : 0] = l.rows;
    offsets = Tensor(DType::kI32, shape);
    for (int64_t r = 0; r < l.rows; ++r) offsets.mutable_data<int32_t>()[r] = static_cast<int32_t>((r / per) * k);
  }

  // Graph: Cast -> [Add] -> Gather -> the layer's weight input.
  const std::string node_base = g.nodes[l.index].name.empty() ? l.weight : g.nodes[l.index].name;
  const std::string idx_name = names.make(l.weight + "_indices"), cb_name = names.make(l.weight + "_codebook");
  indices.set_name(idx_name);
  codebook.set_name(cb_name);
  int64_t bytes_after = static_cast<int64_t>(indices.nbytes() + codebook.nbytes() + offsets.nbytes());
  std::string idx32 = names.make(l.weight + "_index32");
  std::vector<Node> added;
  added.push_back(make_node("Cast", {idx_name}, idx32, names.make(node_base + "_cluster_cast"),
                            {Attribute::make_int("to", static_cast<int64_t>(6))}));  // 6: INT32
  if (groups > 1) {
    const std::string off_name = names.make(l.weight + "_offsets"), sum = names.make(l.weight + "_index");
    offsets.set_name(off_name);
    passes_detail::set_initializer(g, std::move(offsets));
    added.push_back(make_node("Add", {idx32, off_name}, sum, names.make(node_base + "_cluster_offset")));
    idx32 = sum;
  }
  const std::string out = names.make(l.weight + "_decoded");
  added.push_back(make_node("Gather", {cb_name, idx32}, out, names.make(node_base + "_cluster_gather"),
                            {Attribute::make_int("axis", 0)}));
  passes_detail::set_initializer(g, std::move(indices));
  passes_detail::set_initializer(g, std::move(codebook));
  g.nodes[l.index].inputs[1] = out;

  const QuantError e = quant_error(original, decoded);
  std::string how = std::to_string(k) + " centroids (" + std::to_string(o.bits) + " bit" + (o.bits > 1 ? "s" : "") +
                    "), " + init_name(o.init);
  if (groups > 1 || o.granularity == ClusterGranularity::kPerChannelGroup)
    how += ", " + std::to_string(groups) + " codebook(s) of " + std::to_string(per) + " output channel(s)";
  const int64_t zero_books = std::count_if(books.begin(), books.end(), [](const Codebook& b) { return b.zero_fixed; });
  if (zero_books > 0) how += ", zeros kept";
  if (gram) how += ", refit";
  TensorChange t;
  t.tensor = l.weight;
  t.result = idx_name;
  t.dtype_before = DType::kF32;
  t.dtype_after = DType::kU8;
  t.numel = original.numel();
  t.bytes_before = static_cast<int64_t>(original.nbytes());
  t.bytes_after = bytes_after;
  t.sqnr_db = e.sqnr_db;
  t.cosine = e.cosine;
  t.max_abs_err = e.max_abs;
  t.how = how;
  rec.tensors.push_back(std::move(t));
  rec.count("weights_clustered");
  rec.count("codebooks", groups);
  rec.count("centroids", groups * k);
  rec.count("lloyd_iterations", lloyd);
  if (gram) rec.count("centroids_refit", refit);
  rec.count("bytes_before", static_cast<int64_t>(original.nbytes()));
  rec.count("bytes_after", bytes_after);
  rec.touch(g.nodes[l.index], l.index,
            "weight '" + l.weight + "' stored as " + how + " (" + error_text(e) + "), decoded by Cast/Gather");
  for (Node& n : added) g.nodes.push_back(std::move(n));
}

Status ClusterPass::run_on(Model& model, PassContext& ctx) const {
  const Options& o = options();
  Graph& g = model.graph;
  PassRecord& rec = ctx.record();
  if (o.refit && !ctx.calibration())
    return invalid_argument(
        "cluster: option refit needs calibration data (the layers' input activations); give calibration data (a "
        "recipe's calibration.data) or set refit to false");
  BS_ASSIGN_OR_RETURN(std::vector<Layer> layers,
                      passes_detail::select_weighted_layers<Layer>(g, ctx, {"cluster", "cluster", "clusters"}, o.ops,
                                                                   kClusterOps, match_node));
  if (layers.empty()) return Status::ok();
  if (model.opset("") < 6)
    return unsupported("cluster: the model imports ONNX opset " + std::to_string(model.opset("")) +
                       "; the decoding Cast/Gather need opset 6 or later");

  // Refit statistics, from one run of the model as received.
  std::vector<Layer> refit_layers;
  std::vector<int> refit_slot(layers.size(), -1);
  if (o.refit)
    for (size_t i = 0; i < layers.size(); ++i) {
      if (layers[i].refit_ok) {
        refit_slot[i] = static_cast<int>(refit_layers.size());
        refit_layers.push_back(layers[i]);
      } else {
        rec.notes.push_back(g.nodes[layers[i].index].describe() +
                            ": refit not applied (only MatMul/Gemm with an activation input, transA 0); k-means "
                            "centroids kept");
      }
    }
  std::vector<std::vector<double>> grams;
  if (!refit_layers.empty()) BS_TRY(collect_grams(model, ctx, o, refit_layers, grams));

  passes_detail::NameAllocator names(g);
  std::vector<std::string> candidates;
  for (size_t i = 0; i < layers.size(); ++i) {
    cluster_layer(model, ctx, layers[i], refit_slot[i] >= 0 ? &grams[static_cast<size_t>(refit_slot[i])] : nullptr,
                  names);
    candidates.push_back(layers[i].weight);
  }
  passes_detail::remove_unused_initializers(g, candidates);
  BS_TRY(g.sort_topologically());
  return Status::ok();
}

}  // namespace
}  // namespace cluster_detail

using ClusterPass = cluster_detail::ClusterPass;

}  // namespace bitsmith

BS_DEFINE_PASS(ClusterPass)
