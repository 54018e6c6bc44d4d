// low-rank: replaces the weight of a Gemm / MatMul / Conv in ctx.scope() by two factors (a
// truncated SVD), so the layer becomes two smaller ones:
//   MatMul(x, W[K, N])          -> MatMul(x, A[K, r]) -> MatMul(., B[r, N])
//   Gemm(x, W, C) (transA=0)    -> MatMul(x, A[K, r]) -> Gemm(., B[r, N], C) (alpha folded into
//                                  A and B, beta and C kept)
//   Conv 1x1 (group 1)          -> Conv(x, A[r, C, 1, 1]) -> Conv(., B[O, r, 1, 1], bias)
//   Conv kh x kw (group 1)      -> Conv(x, A[r, C, kh, 1]) vertical strides/pads/dilations
//                                  -> Conv(., B[O, r, 1, kw], bias) horizontal ones (Tai et al.)
// The second node produces the original output (consumers unchanged). See low_rank_impl.h for
// the matrix M [m, n] each weight is seen as.
//
// Rank (rank_by): "energy" keeps a fraction of sum s_k^2, "ratio" ceil(ratio * min(m, n)),
// "error" the smallest rank whose relative Frobenius error is within max_error, "fixed" `rank`
// (larger than min(m, n) is an error naming the node). A layer is only factored when
// r (m + n) < m n (fewer parameters); otherwise it is skipped with the counts.
// activation_aware (SVD-LLM): M is whitened by the covariance of the layer's input over the
// calibration data (all layers' statistics from one run of the unmodified model), so the rank
// is chosen on, and the truncation minimises, the output error ||X (M - A B)|| rather than the
// weight error. It applies to MatMul, Gemm and 1x1 Conv; spatial Convs use plain SVD (a note
// says so): their im2col covariance mixes the horizontal taps that the factorization splits.
// Records: a TensorChange per weight (result: A's name; bytes_after: A and B; the error of A B
// against the weight), counters layers_factorized / params_before / params_after (of the
// factored layers) / skipped, touched nodes with the rank and its reason.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <variant>

#include "bitsmith/ir/op_schema.h"
#include "bitsmith/quant/weight_quant.h"
#include "passes/graph_util.h"
#include "passes/low_rank_impl.h"
#include "passes/pass_impl.h"
#include "passes/weighted_layers.h"

namespace bitsmith {
namespace low_rank_detail {

using passes_detail::input_at;
using passes_detail::is_constant_initializer;
using passes_detail::own_f32_weight_problem;

const std::vector<std::string> kFactorableOps = {"Conv", "Gemm", "MatMul"};

const OptionTable<LowRankOptions>& low_rank_option_table() {
  static const OptionTable<LowRankOptions> t =
      OptionTable<LowRankOptions>()
          .enumeration("rank_by", &LowRankOptions::rank_by,
                       "energy: keep a fraction of the squared singular values; ratio: a fraction of the full "
                       "rank; error: smallest rank within a relative error; fixed: `rank`",
                       {{"energy", RankBy::kEnergy}, {"ratio", RankBy::kRatio}, {"error", RankBy::kError},
                        {"fixed", RankBy::kFixed}})
          .real("energy", &LowRankOptions::energy, "rank_by energy: fraction of sum s^2 kept, in (0, 1]", 0.0, 1.0)
          .real("ratio", &LowRankOptions::ratio, "rank_by ratio: rank = ceil(ratio * min(rows, cols)), in (0, 1]",
                0.0, 1.0)
          .real("max_error", &LowRankOptions::max_error,
                "rank_by error: relative Frobenius error allowed per layer (of the output error when "
                "activation_aware)",
                0.0, 1.0)
          .optional_integer("rank", &LowRankOptions::rank, "rank_by fixed: the rank of every layer", 1,
                            int64_t{1} << 40)
          .flag("activation_aware", &LowRankOptions::activation_aware,
                "Whiten with the calibration activations' covariance (SVD-LLM); needs calibration data")
          .real("damping", &LowRankOptions::damping,
                "activation_aware: fraction of the mean diagonal of X^T X added to its diagonal", 0.0, 100.0)
          .enumeration("conv", &LowRankOptions::conv,
                       "Convs factored: none, pointwise (1x1), spatial (kh x kw into kh x 1 then 1 x kw), both",
                       {{"none", ConvMode::kNone}, {"pointwise", ConvMode::kPointwise},
                        {"spatial", ConvMode::kSpatial}, {"both", ConvMode::kBoth}})
          .integer("calibration_batches", &LowRankOptions::calibration_batches,
                   "activation_aware: calibration batches used (0: all the data given)", 0, int64_t{1} << 40)
          .string_list("ops", &LowRankOptions::ops, "Op types to factor", kFactorableOps);
  return t;
}

const char* rank_by_name(RankBy r) {
  switch (r) {
    case RankBy::kEnergy: return "energy";
    case RankBy::kRatio: return "ratio";
    case RankBy::kError: return "error";
    case RankBy::kFixed: return "fixed";
  }
  return "?";
}

namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string matrix_str(const Layer& l) { return "[" + std::to_string(l.m) + ", " + std::to_string(l.n) + "]"; }

using MatchResult = std::variant<Layer, std::string>;

MatchResult match_node(const Graph& g, size_t i, const LowRankOptions& o, const std::unordered_map<std::string, int>& uses) {
  const Node& node = g.nodes[i];
  Layer l;
  l.index = i;
  l.op = node.op_type;
  l.weight = input_at(node, 1);
  if (std::string why = own_f32_weight_problem(g, l.weight, uses, "factored"); !why.empty()) return why;
  const Tensor& w = *g.find_initializer(l.weight);
  if (l.op == "Conv") {
    if (o.conv == ConvMode::kNone) return "options.conv is \"none\"";
    if (std::string r = passes_detail::conv_input_geometry(node, w, l.stats_input); !r.empty()) return r;
    const passes_detail::LayerInput& g2 = l.stats_input;
    l.out_ch = w.dim(0), l.in_ch = w.dim(1), l.kh = w.dim(2), l.kw = w.dim(3);
    l.strides = {g2.stride_h, g2.stride_w};
    l.dilations = {g2.dil_h, g2.dil_w};
    l.pads = {g2.pad_top, g2.pad_left, g2.pad_bottom, g2.pad_right};
    const bool pointwise = l.kh == 1 && l.kw == 1;
    if (pointwise && o.conv == ConvMode::kSpatial) return "1x1 Conv (options.conv is \"spatial\")";
    if (!pointwise && o.conv == ConvMode::kPointwise) return "spatial Conv (options.conv is \"pointwise\")";
    l.m = l.in_ch * l.kh;
    l.n = l.out_ch * l.kw;
    l.stats_input.cols = l.in_ch * l.kh * l.kw;
    l.whiten = pointwise;
  } else {
    if (w.rank() != 2) return "weight has rank " + std::to_string(w.rank()) + " (only 2-D weights)";
    if (l.op == "Gemm") {
      if (node.attr_int("transA", 0) != 0) return "transA=1 (only transA=0)";
      l.alpha = node.attr_float("alpha", 1.f);
      if (l.alpha == 0) return "alpha is 0";
      l.trans_b = node.attr_int("transB", 0) != 0;
    }
    l.m = l.trans_b ? w.dim(1) : w.dim(0);
    l.n = l.trans_b ? w.dim(0) : w.dim(1);
    l.stats_input.cols = l.m;
    l.whiten = true;
  }
  l.stats_input.index = i;
  l.stats_input.input = input_at(node, 0);
  // Whitening needs the input to be an activation.
  if (l.stats_input.input.empty() || g.find_initializer(l.stats_input.input)) l.whiten = false;
  l.whiten = l.whiten && o.activation_aware;
  return l;
}

class LowRankPass final : public PassWithOptions<LowRankOptions> {
 public:
  LowRankPass(std::string_view name, Options options) : PassWithOptions(name, std::move(options), option_table()) {}
  static const OptionTable<Options>& option_table() { return low_rank_option_table(); }

  static void validate(const Options& o, const std::string& pointer, std::vector<std::string>& errors) {
    if (!(o.energy > 0))
      errors.push_back(json_pointer_append(pointer, "energy") + ": " + num(o.energy) + " is out of range (0, 1]");
    if (!(o.ratio > 0))
      errors.push_back(json_pointer_append(pointer, "ratio") + ": " + num(o.ratio) + " is out of range (0, 1]");
    if (o.rank_by == RankBy::kFixed && !o.rank)
      errors.push_back(json_pointer_append(pointer, "rank") + ": rank_by \"fixed\" needs a rank");
    if (o.rank_by != RankBy::kFixed && o.rank)
      errors.push_back(json_pointer_append(pointer, "rank") + ": a rank is only used with rank_by \"fixed\" (rank_by is \"" +
                       rank_by_name(o.rank_by) + "\")");
  }

  Status run(Model& model, PassContext& ctx) override {
    Model work = model;  // tensors are shared handles: cheap; an error leaves `model` as it was
    BS_TRY(run_on(work, ctx));
    model = std::move(work);
    return Status::ok();
  }

 private:
  Status run_on(Model& model, PassContext& ctx) const;
  std::string describe_rank(int64_t r, int64_t p, bool whitened) const;
};

std::string LowRankPass::describe_rank(int64_t r, int64_t p, bool whitened) const {
  const Options& o = options();
  std::string why;
  switch (o.rank_by) {
    case RankBy::kEnergy: why = "energy " + num(o.energy); break;
    case RankBy::kRatio: why = "ratio " + num(o.ratio); break;
    case RankBy::kError: why = "max_error " + num(o.max_error); break;
    case RankBy::kFixed: why = "fixed"; break;
  }
  return "rank " + std::to_string(r) + " of " + std::to_string(p) + " (" + why + (whitened ? ", activation-aware" : "") +
         ")";
}

Status LowRankPass::run_on(Model& model, PassContext& ctx) const {
  const Options& o = options();
  Graph& g = model.graph;
  PassRecord& rec = ctx.record();
  auto match = [&](const Graph& graph, size_t i, const std::unordered_map<std::string, int>& uses) {
    return match_node(graph, i, o, uses);
  };
  BS_ASSIGN_OR_RETURN(std::vector<Layer> layers,
                      passes_detail::select_weighted_layers<Layer>(g, ctx, {"low-rank", "factor", "factors"}, o.ops,
                                                                   kFactorableOps, match));
  for (const Layer& l : layers)
    if (o.rank_by == RankBy::kFixed && *o.rank > std::min(l.m, l.n))
      return invalid_argument("low-rank: rank " + std::to_string(*o.rank) + " is larger than the weight matrix of " +
                              g.nodes[l.index].describe() + " allows: '" + l.weight + "' is factored as a " +
                              matrix_str(l) + " matrix (rank at most " + std::to_string(std::min(l.m, l.n)) + ")");
  if (layers.empty()) return Status::ok();

  // Input statistics of the layers to whiten, from one run of the unmodified model.
  std::vector<size_t> whitened;
  std::vector<passes_detail::LayerInput> inputs;
  std::vector<std::string> plain_convs;
  for (size_t k = 0; k < layers.size(); ++k) {
    if (layers[k].whiten) {
      whitened.push_back(k);
      inputs.push_back(layers[k].stats_input);
    } else if (o.activation_aware && layers[k].op == "Conv") {
      plain_convs.push_back(g.nodes[layers[k].index].describe());
    }
  }
  if (!plain_convs.empty())
    rec.notes.push_back("activation_aware applies to MatMul, Gemm and 1x1 Conv; plain SVD for " +
                        bracket_list(plain_convs));
  std::vector<passes_detail::LayerStats> stats;
  if (!inputs.empty()) {
    passes_detail::StatsRequest req;
    req.who = "low-rank";
    req.need = "activation_aware";
    req.no_data = "low-rank: activation_aware needs calibration data (the layers' input activations); give "
                  "calibration data (a recipe's calibration.data) or set activation_aware to false";
    req.max_batches = o.calibration_batches;
    req.full = true;
    BS_TRY(passes_detail::collect_layer_stats(model, ctx, inputs, req, stats));
  }
  std::vector<const passes_detail::LayerStats*> stats_of(layers.size(), nullptr);
  for (size_t k = 0; k < whitened.size(); ++k) stats_of[whitened[k]] = &stats[k];

  passes_detail::NameAllocator names(g);
  std::vector<std::string> replaced;
  size_t inserted = 0;  // nodes added so far (each layer becomes two)
  for (size_t k = 0; k < layers.size(); ++k) {
    Layer l = layers[k];
    l.index += inserted;
    const Node node = g.nodes[l.index];
    const Tensor original = *g.find_initializer(l.weight);
    const std::vector<double> mat = weight_matrix(original, l);
    Decomposition d;
    Status s = decompose(mat, l.m, l.n, stats_of[k] ? &stats_of[k]->gram : nullptr, o.damping, d);
    if (!s.is_ok()) return s.with_context("low-rank: " + node.describe());
    if (stats_of[k] && !d.whitened)
      rec.notes.push_back(node.describe() + ": its input was all zero on the calibration data; plain SVD");
    if (d.whitened && d.damping != o.damping)
      rec.notes.push_back(node.describe() + ": damping raised to " + num(d.damping) +
                          " (the input covariance was not positive definite)");
    const int64_t r = select_rank(d.s, o);
    const int64_t before = l.m * l.n, after = r * (l.m + l.n);
    const std::string rank = describe_rank(r, d.p, d.whitened);
    if (after >= before) {
      const std::string m = std::to_string(l.m), n = std::to_string(l.n);
      rec.skip(node, layers[k].index,
               rank + " would not reduce parameters: " + std::to_string(r) + " x (" + m + " + " + n +
                   ") = " + std::to_string(after) + " >= " + m + " x " + n + " = " + std::to_string(before));
      rec.count("skipped");
      continue;
    }
    const Factors f = truncate(d, r);
    const QuantError e = quant_error(original, tensor_from_matrix(product(f, l.m, l.n), original, l));
    const Replacement rep = replace_with_factors(g, l, f, names);
    ++inserted;
    std::string shape;  // ", 3x1 Conv then 1x3 Conv"
    if (l.op == "Conv") shape = ", " + std::to_string(l.kh) + "x1 Conv then 1x" + std::to_string(l.kw) + " Conv";
    TensorChange t;
    t.tensor = l.weight;
    t.result = rep.a_name;
    t.more_results = {rep.b_name};
    t.dtype_before = t.dtype_after = DType::kF32;
    t.numel = original.numel();
    t.bytes_before = static_cast<int64_t>(original.nbytes());
    t.bytes_after = rep.bytes;
    t.sqnr_db = e.sqnr_db;
    t.cosine = e.cosine;
    t.max_abs_err = e.max_abs;
    t.how = rank + shape;
    rec.tensors.push_back(std::move(t));
    rec.count("layers_factorized");
    rec.count("params_before", before);
    rec.count("params_after", after);
    rec.touch(node, layers[k].index,
              "factored " + matrix_str(l) + " into '" + rep.a_name + "' and '" + rep.b_name + "', " + rank + shape);
    replaced.push_back(l.weight);
  }
  passes_detail::remove_unused_initializers(g, replaced);
  return Status::ok();
}

}  // namespace
}  // namespace low_rank_detail

using LowRankPass = low_rank_detail::LowRankPass;

}  // namespace bitsmith

BS_DEFINE_PASS(LowRankPass)
