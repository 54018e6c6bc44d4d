// quantize: the static QDQ rewrite and the dynamic rewrite.
//
// Static QDQ writes complete units, the form ONNX Runtime fuses into integer kernels (trap (b) of
// issue 4: a MatMul whose output is not quantized is left in float and its weights are
// dequantized on every call):
//   x -> Q -> DQ -> op(DQ(W_q), DQ(bias_i32)) -> Q -> DQ -> y
// Every activation that is input 0 or output 0 of a quantized node gets ONE Q/DQ pair, shared by
// all its consumers. A node output keeps its name on the DQ (the op writes "<y>_float"), so graph
// outputs and value_info stay valid. The bias becomes int32 with scale x_scale * w_scale[c] and
// zero point 0 (what ORT's QDQ selectors require to fuse Conv and Gemm).
//
// Dynamic (ONNX's standard form, what ORT's quantize_dynamic writes), for both formats:
//   DynamicQuantizeLinear(x) -> (x_q u8, x_scale, x_zp)
//   MatMulInteger(x_q, W_q, x_zp, W_zp) | ConvInteger(...) -> Cast(float) -> Mul(x_scale * w_scale)
//   [-> Add(bias)] -> y
// Gemm weights are stored as [K, N] (transposed when transB) with alpha folded in. The weight
// zero point is written as a scalar when uniform (ORT's ConvInteger accepts only that).
#include <algorithm>
#include <set>

#include "bitsmith/ir/op_schema.h"
#include "passes/quantize_impl.h"

namespace bitsmith::quantize_detail {

namespace {

struct ActQ {
  std::string scale, zero_point;  // initializer names
  QuantParams params;
};

// Inserts Q/DQ for activation `v` (see the file comment): `v` is a node output or a graph input.
void insert_activation_qdq(RewriteContext& rc, const std::string& v, const ActQ& aq,
                           const std::unordered_map<std::string, size_t>& producers,
                           const std::unordered_map<std::string, std::vector<size_t>>& consumers) {
  Graph& g = rc.model.graph;
  const std::string q = rc.names.make(v + "_quantized");
  auto p = producers.find(v);
  if (p != producers.end()) {
    Node& prod = g.nodes[p->second];
    const std::string f = rc.names.make(v + "_float");
    for (std::string& out : prod.outputs)
      if (out == v) out = f;
    passes_detail::erase_value_info(g, v);
    rc.insert_after(p->second, make_node("QuantizeLinear", {f, aq.scale, aq.zero_point}, {q}, rc.names.make(v + "_Q")));
    rc.insert_after(p->second, make_node("DequantizeLinear", {q, aq.scale, aq.zero_point}, {v}, rc.names.make(v + "_DQ")));
    return;
  }
  // A graph input: consumers switch to the DQ output.
  const std::string dq = rc.names.make(v + "_dequantized");
  const auto& cons = consumers.at(v);
  const size_t first = *std::min_element(cons.begin(), cons.end());
  rc.insert_before(first, make_node("QuantizeLinear", {v, aq.scale, aq.zero_point}, {q}, rc.names.make(v + "_Q")));
  rc.insert_before(first, make_node("DequantizeLinear", {q, aq.scale, aq.zero_point}, {dq}, rc.names.make(v + "_DQ")));
  for (size_t c : cons)
    for (std::string& in : g.nodes[c].inputs)
      if (in == v) in = dq;
}

ActQ add_activation_params(RewriteContext& rc, const std::string& v, const std::pair<float, float>& range) {
  ActQ aq;
  aq.params = activation_qparams(range, rc.o.activations);
  Graph& g = rc.model.graph;
  aq.scale = add_initializer(g, scalar_f32(aq.params.scales.at(0)), v + "_scale", rc.names);
  const int32_t zp = aq.params.zero_points.empty() ? 0 : aq.params.zero_points[0];
  aq.zero_point = add_initializer(g, scalar_int(rc.o.activations.dtype, zp), v + "_zero_point", rc.names);
  return aq;
}

}  // namespace

Status rewrite_static_qdq(RewriteContext& rc, const std::vector<QuantNode>& nodes, const Ranges& ranges) {
  Graph& g = rc.model.graph;
  PassRecord& rec = rc.ctx.record();
  const auto producers = g.producer_index();
  const auto consumers = g.consumer_index();
  // Activations, in first-use order.
  std::vector<std::string> acts;
  std::set<std::string> seen;
  for (const QuantNode& n : nodes)
    for (const std::string& v : {g.nodes[n.index].inputs[0], g.nodes[n.index].outputs[0]})
      if (seen.insert(v).second) acts.push_back(v);
  std::unordered_map<std::string, ActQ> act_q;
  for (const std::string& v : acts) act_q[v] = add_activation_params(rc, v, ranges.at(v));

  for (const QuantNode& n : nodes) {
    Node& node = g.nodes[n.index];
    const std::string x = node.inputs[0];
    const int axis = output_axis(n, false);
    Tensor w = *g.find_initializer(n.weight);
    if (n.op == "Gemm" && n.alpha != 1.f) {
      QuantNode scaled = n;
      scaled.trans_b = false;  // scale only
      w = weight_as_kn(w, scaled);
    }
    Expected<QuantizedWeight> qw = quantize_weight(w, rc.o.weights, rc.o.weights.granularity == Granularity::kPerTensor ? 0 : axis,
                                                   rc.ctx.num_threads());
    if (!qw) return qw.status().with_context(node.describe() + ": weight '" + n.weight + "'");
    record_weight(rc.ctx.record(), n.weight, *qw, describe_weight(rc.o.weights, axis));
    const std::string err = error_note(qw->error);
    const std::vector<float> w_scales = qw->params.scales;
    const int64_t channels = w.dim(axis);
    std::vector<Attribute> wattrs;
    if (rc.o.weights.granularity == Granularity::kPerChannel) wattrs.push_back(Attribute::make_int("axis", axis));
    const WeightNames wn = add_weight_initializers(g, std::move(qw).value(), n.weight, rc.names);
    rc.ctx.record().tensors.back().result = wn.q;
    const std::string wdq = rc.names.make(n.weight + "_dequantized");
    rc.insert_before(n.index, make_node("DequantizeLinear", {wn.q, wn.scale, wn.zero_point}, {wdq},
                                        rc.names.make(node.name + "_weight_DQ"), std::move(wattrs)));
    node.inputs[1] = wdq;
    rc.unused_candidates.push_back(n.weight);
    std::string action = "weight '" + n.weight + "' " + describe_weight(rc.o.weights, axis) + err;
    if (!n.bias.empty()) {
      const Tensor& b = *g.find_initializer(n.bias);
      auto [bq, bs] = quantize_bias(b, n.beta, act_q.at(x).params.scales[0], w_scales, channels);
      std::vector<Attribute> battrs;
      if (bs.rank() == 1) battrs.push_back(Attribute::make_int("axis", 0));
      const Tensor b_copy = b;  // adding initializers may move the graph's tensors
      const Tensor bq_copy = bq, bs_copy = bs;
      const std::string bq_name = add_initializer(g, std::move(bq), n.bias + "_quantized", rc.names);
      const std::string bs_name = add_initializer(g, std::move(bs), n.bias + "_scale", rc.names);
      record_bias(rec, b_copy, n.beta, n.bias, bq_copy, &bs_copy, bq_name, "int32, scale x_scale * w_scale");
      const std::string bdq = rc.names.make(n.bias + "_dequantized");
      rc.insert_before(n.index, make_node("DequantizeLinear", {bq_name, bs_name}, {bdq},
                                          rc.names.make(node.name + "_bias_DQ"), std::move(battrs)));
      node.inputs[2] = bdq;
      rc.unused_candidates.push_back(n.bias);
      action += ", bias int32";
    }
    if (n.op == "Gemm") {
      for (Attribute& a : node.attributes)
        if (a.name == "alpha" || a.name == "beta") a = Attribute::make_float(a.name, 1.f);
    }
    rec.touch(node, n.index, action + ", activations " + std::string(dtype_name(rc.o.activations.dtype)) +
                                 " static QDQ on input '" + x + "' and output '" + node.outputs[0] + "'");
    rec.count("nodes_quantized");
  }
  for (const std::string& v : acts) insert_activation_qdq(rc, v, act_q.at(v), producers, consumers);
  rec.count("activations_quantized", static_cast<int64_t>(acts.size()));
  return Status::ok();
}

Status rewrite_dynamic(RewriteContext& rc, const std::vector<QuantNode>& nodes) {
  Graph& g = rc.model.graph;
  PassRecord& rec = rc.ctx.record();
  struct DynQ {
    std::string q, scale, zero_point;
  };
  std::unordered_map<std::string, DynQ> dyn;
  for (const QuantNode& n : nodes) {
    const Node node = g.nodes[n.index];  // a copy: the node is replaced
    const std::string x = node.inputs[0], y = node.outputs[0];
    auto it = dyn.find(x);
    if (it == dyn.end()) {
      DynQ d{rc.names.make(x + "_quantized"), rc.names.make(x + "_scale"), rc.names.make(x + "_zero_point")};
      rc.insert_before(n.index, make_node("DynamicQuantizeLinear", {x}, {d.q, d.scale, d.zero_point},
                                          rc.names.make(x + "_DynamicQuantize")));
      it = dyn.emplace(x, d).first;
    }
    const DynQ& d = it->second;
    const bool conv = n.op == "Conv";
    Tensor w = weight_as_kn(*g.find_initializer(n.weight), n);
    const int axis = output_axis(n, true);
    Expected<QuantizedWeight> qw = quantize_weight(w, rc.o.weights, rc.o.weights.granularity == Granularity::kPerTensor ? 0 : axis,
                                                   rc.ctx.num_threads());
    if (!qw) return qw.status().with_context(node.describe() + ": weight '" + n.weight + "'");
    record_weight(rc.ctx.record(), n.weight, *qw, describe_weight(rc.o.weights, axis));
    const std::string err = error_note(qw->error);
    const QuantParams params = qw->params;
    const int64_t channels = w.dim(axis);
    // Integer ops take the zero point apart from the scale: scalar when uniform.
    std::vector<int32_t> zps = params.zero_points;
    const bool uniform = zps.empty() || std::all_of(zps.begin(), zps.end(), [&](int32_t z) { return z == zps[0]; });
    Tensor zp = uniform ? scalar_int(rc.o.weights.dtype, zps.empty() ? 0 : zps[0])
                        : zero_point_tensor(rc.o.weights.dtype, zps, {channels});
    const std::string wq = add_initializer(g, std::move(qw->q), n.weight + "_quantized", rc.names);
    rc.ctx.record().tensors.back().result = wq;
    const std::string wzp = add_initializer(g, std::move(zp), n.weight + "_zero_point", rc.names);
    // Weight scale shaped to broadcast against the op's output: [C] for [.., N], [C, 1, 1] for NCHW.
    Shape sshape = params.scales.size() == 1 ? Shape{} : Shape{channels};
    if (conv && params.scales.size() > 1) sshape.resize(static_cast<size_t>(w.rank() - 1), 1);
    Tensor ws(DType::kF32, sshape);
    std::copy(params.scales.begin(), params.scales.end(), ws.mutable_data<float>());
    const std::string ws_name = add_initializer(g, std::move(ws), n.weight + "_scale", rc.names);
    rc.unused_candidates.push_back(n.weight);

    const std::string base = node.name.empty() ? y : node.name;
    const std::string yi = rc.names.make(y + "_int32"), yf = rc.names.make(y + "_int32_float"),
                      sc = rc.names.make(y + "_scale"), ym = n.bias.empty() ? y : rc.names.make(y + "_unbiased");
    Node integer_op = conv ? make_node("ConvInteger", {d.q, wq, d.zero_point, wzp}, {yi}, node.name, conv_attributes(node))
                           : make_node("MatMulInteger", {d.q, wq, d.zero_point, wzp}, {yi}, node.name);
    rc.insert_before(n.index, std::move(integer_op));
    rc.insert_before(n.index, make_node("Cast", {yi}, {yf}, rc.names.make(base + "_cast"),
                                        {Attribute::make_int("to", dtype_to_onnx(DType::kF32))}));
    rc.insert_before(n.index, make_node("Mul", {d.scale, ws_name}, {sc}, rc.names.make(base + "_scale_mul")));
    rc.insert_before(n.index, make_node("Mul", {yf, sc}, {ym}, rc.names.make(base + "_rescale")));
    if (!n.bias.empty()) {
      const Tensor& b = *g.find_initializer(n.bias);
      Shape bshape = {channels};
      if (conv) bshape.resize(static_cast<size_t>(w.rank() - 1), 1);
      Tensor bt(DType::kF32, bshape);
      for (int64_t c = 0; c < channels; ++c)
        bt.mutable_data<float>()[c] = n.beta * b.data<float>()[b.numel() == 1 ? 0 : c];
      const Tensor b_copy = b, bt_copy = bt;
      const std::string bname = add_initializer(g, std::move(bt), n.bias + "_folded", rc.names);
      record_bias(rc.ctx.record(), b_copy, n.beta, n.bias, bt_copy, nullptr, bname, "float, added after the integer op");
      rc.insert_before(n.index, make_node("Add", {ym, bname}, {y}, rc.names.make(base + "_bias")));
      rc.unused_candidates.push_back(n.bias);
    }
    rc.erase[n.index] = true;
    std::string note = "weight '" + n.weight + "' " + describe_weight(rc.o.weights, axis) + err + "; " +
                       (conv ? "ConvInteger" : "MatMulInteger") + " with DynamicQuantizeLinear on '" + x + "'";
    if (!uniform && conv) note += " (per-channel weight zero points: ONNX Runtime's ConvInteger refuses them)";
    rec.touch(node, n.index, note);
    rec.count("nodes_quantized");
  }
  rec.count("activations_quantized", static_cast<int64_t>(dyn.size()));
  return Status::ok();
}

}  // namespace bitsmith::quantize_detail
