// fold-batchnorm: BatchNormalization (inference form) folded into the weighted op feeding it.
//
// BatchNormalization computes, per channel c (axis 1):
//   y = scale[c] * (x - mean[c]) / sqrt(var[c] + epsilon) + B[c] = s[c] * x + (B[c] - s[c] * mean[c])
// with s[c] = scale[c] / sqrt(var[c] + epsilon). When x = W * a + b comes from an op that is
// linear in its weight W with output channel c, then y = (s*W) * a + (s*(b - mean) + B): the BN
// disappears into a rescaled weight and a new bias. Folded for:
//   Conv           W [M, C/group, k...]: output channel m scales row m of W; bias input 2.
//   ConvTranspose  W [C, M/group, k...]: output channel m = g*(M/group) + j scales W[ci, j, ...]
//                  for the input channels ci of group g; bias input 2.
//   Gemm           Y = alpha*A'*B' + beta*C with Y [M, N]: column n of B' scales; the new
//                  C' = s*(beta*C - mean) + B (shape [N]) and beta becomes 1.
//   MatMul         A [M, K] x W [K, N] (A must be known to have rank 2, since BN's channel axis
//                  is 1): becomes Gemm(A, s*W, C') with C' = B - s*mean.
// The arithmetic runs in double and rounds once to f32.
//
// "Does it apply?" (match_batchnorm) checks, and records the first failed check as the skip
// reason: BN in inference form (one output, training_mode 0, spatial 1); its input produced by
// an allowed op whose output has no other use (no other consumer, not a graph output); scale,
// B, mean and var constant f32 initializers of one shape [C]; the producer's weight (and bias)
// constant f32 initializers whose output channel count is C; var + epsilon > 0; both nodes in
// scope. "Rewrite" (plan_fold, then apply_fold) builds new initializers (never writing into
// existing tensors; a weight or bias shared with another node gets a new name), renames the
// producer's output to the BN's output, and erases the BN. Initializers left unused are removed.
#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "bitsmith/ir/op_schema.h"
#include "bitsmith/passes/options.h"
#include "bitsmith/passes/pass.h"
#include "passes/graph_util.h"
#include "passes/pass_impl.h"

namespace bitsmith {
namespace {

using passes_detail::erase_nodes;
using passes_detail::erase_value_info;
using passes_detail::find_value_type;
using passes_detail::is_constant_initializer;
using passes_detail::NameAllocator;
using passes_detail::remove_unused_initializers;
using passes_detail::set_initializer;
using passes_detail::value_use_counts;

const std::vector<std::string> kFoldableProducers = {"Conv", "ConvTranspose", "Gemm", "MatMul"};

struct FoldBatchNormOptions {
  std::vector<std::string> producers = kFoldableProducers;
};

const OptionTable<FoldBatchNormOptions>& fold_batchnorm_table() {
  static const OptionTable<FoldBatchNormOptions> table = OptionTable<FoldBatchNormOptions>().string_list(
      "producers", &FoldBatchNormOptions::producers,
      "Op types a BatchNormalization may be folded into (MatMul becomes Gemm)", kFoldableProducers);
  return table;
}

// A BatchNormalization the rewrite applies to. Tensors are handles sharing the graph's storage.
struct BnMatch {
  size_t bn = 0;
  size_t producer = 0;
  std::string op;               // the producer's op type
  Tensor scale, shift_b, mean, var;
  double epsilon = 0;
  Tensor weight;                // the producer's weight (input 1)
  Tensor bias;                  // Conv/ConvTranspose bias or Gemm C (input 2); undefined if absent
  int64_t group = 1;            // ConvTranspose
  bool trans_b = false;         // Gemm
  double beta = 1;              // Gemm
};

// The new initializers of one fold (names are given when applied).
struct FoldPlan {
  Tensor weight;
  Tensor bias;
};

using MatchResult = std::variant<BnMatch, std::string>;  // the match, or why it does not apply

// Reads the constant f32 initializer `name` into `out`; returns why not, or "".
std::string constant_f32(const Graph& g, const std::string& name, const std::string& what, Tensor& out) {
  if (name.empty()) return what + " is absent";
  if (!is_constant_initializer(g, name))
    return what + " '" + name + "' is not a constant initializer" +
           (g.find_initializer(name) ? " (it is also a graph input)" : "");
  out = *g.find_initializer(name);
  if (out.dtype() != DType::kF32)
    return what + " '" + name + "' is " + std::string(dtype_name(out.dtype())) + "; only f32 is folded";
  return "";
}

std::string input_name(const Node& node, size_t i) { return i < node.inputs.size() ? node.inputs[i] : ""; }

// Checks the BatchNormalization itself and its four parameters; fills m's BN fields.
std::string match_bn_node(const Graph& g, const Node& bn, BnMatch& m) {
  if (bn.inputs.size() != 5) return "has " + std::to_string(bn.inputs.size()) + " inputs, expected 5";
  for (size_t k = 1; k < bn.outputs.size(); ++k)
    if (!bn.outputs[k].empty()) return "computes running statistics (training-mode outputs)";
  if (bn.attr_int("training_mode", 0) != 0) return "training_mode=1";
  if (bn.attr_int("spatial", 1) != 1) return "spatial=0 (per-activation statistics)";
  const char* what[] = {"scale", "B", "mean", "var"};
  Tensor* dst[] = {&m.scale, &m.shift_b, &m.mean, &m.var};
  for (size_t k = 0; k < 4; ++k)
    if (std::string r = constant_f32(g, bn.inputs[k + 1], what[k], *dst[k]); !r.empty()) return r;
  const Shape c_shape = {m.scale.numel()};
  for (size_t k = 0; k < 4; ++k)
    if (dst[k]->shape() != c_shape)
      return std::string(what[k]) + " has shape " + shape_str(dst[k]->shape()) + ", expected " + shape_str(c_shape);
  m.epsilon = bn.attr_float("epsilon", 1e-5f);
  const float* var = m.var.data<float>();
  for (int64_t c = 0; c < m.var.numel(); ++c)
    if (!(static_cast<double>(var[c]) + m.epsilon > 0))
      return "var + epsilon is not positive at channel " + std::to_string(c);
  return "";
}

std::string channel_mismatch(const std::string& what, int64_t got, int64_t channels) {
  return what + " has " + std::to_string(got) + " output channels, BatchNormalization has " + std::to_string(channels);
}

// Checks the producer's weight and bias against C channels; fills m's producer fields.
std::string match_producer(const Graph& g, const Node& p, int64_t channels, BnMatch& m) {
  m.op = p.op_type;
  if (std::string r = constant_f32(g, input_name(p, 1), "weight", m.weight); !r.empty()) return r;
  const Tensor& w = m.weight;
  int64_t out_channels = 0;
  if (p.op_type == "Conv" || p.op_type == "ConvTranspose") {
    if (w.rank() < 3) return "weight has rank " + std::to_string(w.rank()) + ", expected at least 3";
    m.group = p.attr_int("group", 1);
    if (p.op_type == "ConvTranspose" && (m.group < 1 || w.dim(0) % m.group != 0))
      return "group " + std::to_string(m.group) + " does not divide the weight's " + std::to_string(w.dim(0)) +
             " input channels";
    out_channels = p.op_type == "Conv" ? w.dim(0) : w.dim(1) * m.group;
  } else {
    if (w.rank() != 2) return "weight has rank " + std::to_string(w.rank()) + ", expected 2";
    m.trans_b = p.op_type == "Gemm" && p.attr_int("transB", 0) != 0;
    out_channels = m.trans_b ? w.dim(0) : w.dim(1);
  }
  if (out_channels != channels) return channel_mismatch("weight", out_channels, channels);
  if (p.op_type == "MatMul") {
    const TypeInfo* t = find_value_type(g, input_name(p, 0));
    if (!t || !t->has_shape)
      return "rank of input '" + input_name(p, 0) +
             "' is unknown (only a rank-2 MatMul has its output channels on BatchNormalization's axis 1)";
    if (t->dims.size() != 2)
      return "input '" + input_name(p, 0) + "' has rank " + std::to_string(t->dims.size()) +
             ", so BatchNormalization's axis 1 is not the MatMul's output channel";
    return "";
  }
  if (input_name(p, 2).empty()) return "";
  if (std::string r = constant_f32(g, input_name(p, 2), "bias", m.bias); !r.empty()) return r;
  const Shape& bs = m.bias.shape();
  const bool ok = p.op_type == "Gemm" ? (m.bias.numel() == 1 || bs == Shape{channels} || bs == Shape{1, channels})
                                      : bs == Shape{channels};
  if (!ok) return "bias has shape " + shape_str(bs) + ", expected [" + std::to_string(channels) + "]";
  m.beta = p.op_type == "Gemm" ? p.attr_float("beta", 1.f) : 1.0;
  return "";
}

struct MatchInputs {
  const FoldBatchNormOptions& options;
  const std::unordered_map<std::string, size_t>& producers;
  const std::unordered_map<std::string, int>& uses;
  const std::vector<bool>& in_scope;
};

MatchResult match_batchnorm(const Graph& g, size_t bn_index, const MatchInputs& in) {
  const Node& bn = g.nodes[bn_index];
  BnMatch m;
  m.bn = bn_index;
  if (std::string r = match_bn_node(g, bn, m); !r.empty()) return r;
  const std::string& x = bn.inputs[0];
  auto it = in.producers.find(x);
  if (it == in.producers.end()) return "input '" + x + "' is not computed by a node";
  m.producer = it->second;
  const Node& p = g.nodes[m.producer];
  const auto& allowed = in.options.producers;
  if (!is_default_domain(p.domain) || std::find(allowed.begin(), allowed.end(), p.op_type) == allowed.end())
    return "input comes from " + qualified_op(p) + ", not one of " + bracket_list(allowed);
  if (!in.in_scope[m.producer]) return "producer '" + p.name + "' is outside the pass scope";
  if (const int n = in.uses.at(x); n != 1)
    return "input '" + x + "' has " + std::to_string(n) + " uses (consumers or graph outputs), folding needs 1";
  if (std::string r = match_producer(g, p, m.scale.numel(), m); !r.empty()) return r;
  return m;
}

// s[c] = scale / sqrt(var + eps) and shift[c] = B - s * mean, in double.
void bn_affine(const BnMatch& m, std::vector<double>& s, std::vector<double>& shift) {
  const int64_t channels = m.scale.numel();
  s.resize(channels);
  shift.resize(channels);
  for (int64_t c = 0; c < channels; ++c) {
    s[c] = m.scale.data<float>()[c] / std::sqrt(static_cast<double>(m.var.data<float>()[c]) + m.epsilon);
    shift[c] = m.shift_b.data<float>()[c] - s[c] * m.mean.data<float>()[c];
  }
}

// The rescaled weight: element e of W belongs to output channel channel_of(e).
Tensor scaled_weight(const BnMatch& m, const std::vector<double>& s) {
  const Tensor& w = m.weight;
  Tensor out(DType::kF32, w.shape());
  const float* src = w.data<float>();
  float* dst = out.mutable_data<float>();
  const int64_t n = w.numel();
  if (n == 0) return out;
  const int64_t inner = w.rank() > 2 ? n / (w.dim(0) * w.dim(1)) : 1;  // spatial size for convs
  for (int64_t e = 0; e < n; ++e) {
    int64_t c = 0;
    if (m.op == "Conv") {
      c = e / (n / w.dim(0));
    } else if (m.op == "ConvTranspose") {
      const int64_t ci = e / (w.dim(1) * inner), j = (e / inner) % w.dim(1);
      c = (ci / (w.dim(0) / m.group)) * w.dim(1) + j;
    } else {
      c = m.trans_b ? e / w.dim(1) : e % w.dim(1);  // Gemm/MatMul: [N, K] or [K, N]
    }
    dst[e] = static_cast<float>(src[e] * s[c]);
  }
  return out;
}

FoldPlan plan_fold(const BnMatch& m) {
  std::vector<double> s, shift;
  bn_affine(m, s, shift);
  const int64_t channels = m.scale.numel();
  FoldPlan plan{scaled_weight(m, s), Tensor(DType::kF32, {channels})};
  float* b = plan.bias.mutable_data<float>();
  for (int64_t c = 0; c < channels; ++c) {
    double old = 0;
    if (m.bias.defined()) old = m.beta * m.bias.data<float>()[m.bias.numel() == 1 ? 0 : c];
    b[c] = static_cast<float>(s[c] * old + shift[c]);
  }
  return plan;
}

// "stem.0.weight" -> "stem.0.bias"; otherwise "<weight>_bias".
std::string bias_base_name(const std::string& weight_name) {
  const std::string suffix = "weight";
  if (weight_name.size() > suffix.size() &&
      weight_name.compare(weight_name.size() - suffix.size(), suffix.size(), suffix) == 0)
    return weight_name.substr(0, weight_name.size() - suffix.size()) + "bias";
  return weight_name + "_bias";
}

void set_float_attr(Node& node, const std::string& name, float v) {
  if (Attribute* a = node.find_attr(name)) *a = Attribute::make_float(name, v);
  else node.attributes.push_back(Attribute::make_float(name, v));
}

// Rewrites the graph for one match. Names of initializers that may have become unused are
// appended to `candidates`.
void apply_fold(Graph& g, const BnMatch& m, FoldPlan plan, const std::unordered_map<std::string, int>& uses,
                NameAllocator& names, std::vector<std::string>& candidates, PassRecord& rec) {
  Node& p = g.nodes[m.producer];
  const Node& bn = g.nodes[m.bn];
  const std::string old_w = p.inputs[1];
  const std::string w_name = uses.at(old_w) == 1 ? old_w : names.make(old_w + "_bnfold");
  const std::string old_b = input_name(p, 2);
  const std::string b_name = !old_b.empty() && uses.at(old_b) == 1 ? old_b : names.make(bias_base_name(old_w));
  plan.weight.set_name(w_name);
  plan.bias.set_name(b_name);
  // The weight keeps its role with new values (error not measured: the fold changes values on purpose).
  TensorChange c;
  c.tensor = old_w;
  c.result = w_name;
  c.dtype_before = c.dtype_after = plan.weight.dtype();
  c.numel = plan.weight.numel();
  c.bytes_before = c.bytes_after = static_cast<int64_t>(plan.weight.nbytes());
  c.how = "batchnorm '" + bn.name + "' folded in";
  rec.tensors.push_back(std::move(c));
  for (size_t k = 1; k < 5; ++k) {  // scale, B, mean, var: absorbed
    const Tensor* t = g.find_initializer(bn.inputs[k]);
    if (!t) continue;
    TensorChange f;
    f.tensor = bn.inputs[k];
    f.dtype_before = t->dtype();
    f.numel = t->numel();
    f.bytes_before = static_cast<int64_t>(t->nbytes());
    f.how = "folded into '" + w_name + "' and '" + b_name + "'";
    rec.tensors.push_back(std::move(f));
  }
  set_initializer(g, std::move(plan.weight));
  set_initializer(g, std::move(plan.bias));
  for (const std::string& old : {old_w, old_b})
    if (!old.empty()) candidates.push_back(old);
  for (size_t k = 1; k < 5; ++k) candidates.push_back(bn.inputs[k]);
  p.inputs.resize(std::max<size_t>(p.inputs.size(), 3));
  p.inputs[1] = w_name;
  p.inputs[2] = b_name;
  if (m.op == "Gemm") set_float_attr(p, "beta", 1.f);
  if (m.op == "MatMul") p.op_type = "Gemm";
  erase_value_info(g, p.outputs[0]);
  p.outputs[0] = bn.outputs[0];
}

class FoldBatchNormPass final : public PassWithOptions<FoldBatchNormOptions> {
 public:
  FoldBatchNormPass(std::string_view name, Options options)
      : PassWithOptions(name, std::move(options), option_table()) {}
  static const OptionTable<Options>& option_table() { return fold_batchnorm_table(); }

  Status run(Model& model, PassContext& ctx) override {
    Graph& g = model.graph;
    PassRecord& rec = ctx.record();
    const std::vector<bool> in_scope = ctx.scope().select(g);
    const auto producers = g.producer_index();
    const auto uses = value_use_counts(g);
    const MatchInputs inputs{options(), producers, uses, in_scope};
    std::vector<std::pair<BnMatch, FoldPlan>> folds;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& node = g.nodes[i];
      if (node.op_type != "BatchNormalization" || !is_default_domain(node.domain)) continue;
      MatchResult r = in_scope[i] ? match_batchnorm(g, i, inputs) : MatchResult("outside the pass scope");
      if (auto* reason = std::get_if<std::string>(&r)) {
        rec.skip(node, i, *reason);
        rec.count("skipped");
        continue;
      }
      BnMatch& m = std::get<BnMatch>(r);
      FoldPlan plan = plan_fold(m);
      folds.emplace_back(std::move(m), std::move(plan));
    }
    if (folds.empty()) return Status::ok();
    NameAllocator names(g);
    std::vector<bool> erase(g.nodes.size(), false);
    std::vector<std::string> candidates;
    for (auto& [m, plan] : folds) {
      const Node& p = g.nodes[m.producer];
      rec.touch(g.nodes[m.bn], m.bn, "folded into '" + p.name + "' (" + m.op + ")");
      rec.count("folded");
      if (input_name(p, 2).empty()) rec.count("biases_created");
      if (m.op == "MatMul") rec.count("matmul_to_gemm");
      apply_fold(g, m, std::move(plan), uses, names, candidates, rec);
      erase[m.bn] = true;
    }
    erase_nodes(g, erase);
    rec.count("initializers_removed", static_cast<int64_t>(remove_unused_initializers(g, candidates)));
    return Status::ok();
  }
};

}  // namespace
}  // namespace bitsmith

BS_DEFINE_PASS(FoldBatchNormPass)
