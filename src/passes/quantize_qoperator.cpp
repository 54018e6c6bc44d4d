// quantize: the static QOperator rewrite.
//   Conv   -> QLinearConv(x_q, x_s, x_zp, W_q, W_s, W_zp, y_s, y_zp, bias_i32) -> DequantizeLinear -> y
//   MatMul -> QLinearMatMul(x_q, x_s, x_zp, W_q, W_s, W_zp, y_s, y_zp) -> DequantizeLinear -> y
//   Gemm   -> QLinearMatMul with W as [K, N] (alpha folded) -> DequantizeLinear -> Add(beta * C) -> y
// An activation enters through one QuantizeLinear (shared by its consumers); a quantized output
// read by the next QLinear op is used as is (no DQ/Q pair in between); its DequantizeLinear is
// kept only when something else reads the float value (another op, a graph output).
// For a Gemm with bias, the QLinearMatMul output excludes the bias, so its range is the observed
// output range shifted by the bias: [lo - max(C), hi - min(C)].
#include <algorithm>

#include "passes/quantize_impl.h"

namespace bitsmith::quantize_detail {

namespace {

struct QValue {
  std::string q, scale, zero_point;
  QuantParams params;
};

QValue make_params(RewriteContext& rc, const std::string& v, const std::pair<float, float>& range) {
  QValue qv;
  qv.params = activation_qparams(range, rc.o.activations);
  Graph& g = rc.model.graph;
  qv.scale = add_initializer(g, scalar_f32(qv.params.scales.at(0)), v + "_scale", rc.names);
  const int32_t zp = qv.params.zero_points.empty() ? 0 : qv.params.zero_points[0];
  qv.zero_point = add_initializer(g, scalar_int(rc.o.activations.dtype, zp), v + "_zero_point", rc.names);
  return qv;
}

}  // namespace

Status rewrite_static_qoperator(RewriteContext& rc, const std::vector<QuantNode>& nodes, const Ranges& ranges) {
  Graph& g = rc.model.graph;
  PassRecord& rec = rc.ctx.record();
  // Uses of each value, and how many of them are input 0 of a quantized node (those read x_q).
  const auto uses = passes_detail::value_use_counts(g);
  std::unordered_map<std::string, int> quant_uses;
  for (const QuantNode& n : nodes) ++quant_uses[g.nodes[n.index].inputs[0]];
  std::unordered_map<std::string, QValue> qvalues;  // float value -> its quantized form
  int64_t activations = 0;
  for (const QuantNode& n : nodes) {
    const Node node = g.nodes[n.index];  // a copy: the node is replaced
    const std::string x = node.inputs[0], y = node.outputs[0];
    auto xi = qvalues.find(x);
    if (xi == qvalues.end()) {
      QValue qv = make_params(rc, x, ranges.at(x));
      qv.q = rc.names.make(x + "_quantized");
      rc.insert_before(n.index, make_node("QuantizeLinear", {x, qv.scale, qv.zero_point}, {qv.q}, rc.names.make(x + "_Q")));
      xi = qvalues.emplace(x, std::move(qv)).first;
      ++activations;
    }
    const QValue xq = xi->second;
    const bool conv = n.op == "Conv";
    const Tensor w = weight_as_kn(*g.find_initializer(n.weight), n);
    const int axis = output_axis(n, true);
    Expected<QuantizedWeight> qw = quantize_weight(w, rc.o.weights, rc.o.weights.granularity == Granularity::kPerTensor ? 0 : axis,
                                                   rc.ctx.num_threads());
    if (!qw) return qw.status().with_context(node.describe() + ": weight '" + n.weight + "'");
    record_weight(rec, n.weight, *qw, describe_weight(rc.o.weights, axis));
    const std::vector<float> w_scales = qw->params.scales;
    const std::string err = error_note(qw->error);
    const int64_t channels = w.dim(axis);
    const WeightNames wn = add_weight_initializers(g, std::move(qw).value(), n.weight, rc.names);
    rec.tensors.back().result = wn.q;
    rc.unused_candidates.push_back(n.weight);

    // Output range (a Gemm's QLinearMatMul output excludes the bias).
    std::pair<float, float> yr = ranges.at(y);
    // A copy: adding initializers below may move the graph's tensors.
    const Tensor bias_t = n.bias.empty() ? Tensor() : *g.find_initializer(n.bias);
    const Tensor* bias = n.bias.empty() ? nullptr : &bias_t;
    if (bias && !conv) {
      float bmin = 0, bmax = 0;
      for (int64_t i = 0; i < bias->numel(); ++i) {
        bmin = std::min(bmin, n.beta * bias->data<float>()[i]);
        bmax = std::max(bmax, n.beta * bias->data<float>()[i]);
      }
      yr = {yr.first - bmax, yr.second - bmin};
    }
    QValue yq = make_params(rc, y, yr);
    yq.q = rc.names.make(y + "_quantized");
    std::vector<std::string> inputs = {xq.q, xq.scale, xq.zero_point, wn.q, wn.scale, wn.zero_point, yq.scale, yq.zero_point};
    if (conv && bias) {
      auto [bq, bs] = quantize_bias(*bias, n.beta, xq.params.scales[0], w_scales, channels);
      const Tensor bq_copy = bq, bs_copy = bs;
      inputs.push_back(add_initializer(g, std::move(bq), n.bias + "_quantized", rc.names));
      record_bias(rec, bias_t, n.beta, n.bias, bq_copy, &bs_copy, inputs.back(), "int32, scale x_scale * w_scale");
      rc.unused_candidates.push_back(n.bias);
    }
    rc.insert_before(n.index, make_node(conv ? "QLinearConv" : "QLinearMatMul", std::move(inputs), {yq.q}, node.name,
                                        conv ? conv_attributes(node) : std::vector<Attribute>{}));
    if (bias && !conv) {
      const std::string ym = rc.names.make(y + "_unbiased");
      rc.insert_before(n.index, make_node("DequantizeLinear", {yq.q, yq.scale, yq.zero_point}, {ym}, rc.names.make(y + "_DQ")));
      Tensor bt(DType::kF32, {channels});
      for (int64_t c = 0; c < channels; ++c) bt.mutable_data<float>()[c] = n.beta * bias->data<float>()[bias->numel() == 1 ? 0 : c];
      const Tensor bt_copy = bt;
      const std::string bname = add_initializer(g, std::move(bt), n.bias + "_folded", rc.names);
      record_bias(rec, bias_t, n.beta, n.bias, bt_copy, nullptr, bname, "float, added after the integer op");
      rc.insert_before(n.index, make_node("Add", {ym, bname}, {y}, rc.names.make(y + "_bias")));
      rc.unused_candidates.push_back(n.bias);
    } else {
      // The float value is still needed by readers other than quantized nodes.
      const auto u = uses.find(y);
      const int others = (u == uses.end() ? 0 : u->second) - quant_uses[y];
      if (others > 0)
        rc.insert_before(n.index, make_node("DequantizeLinear", {yq.q, yq.scale, yq.zero_point}, {y}, rc.names.make(y + "_DQ")));
      qvalues.emplace(y, yq);
    }
    rc.erase[n.index] = true;
    ++activations;
    rec.touch(node, n.index, std::string(conv ? "QLinearConv" : "QLinearMatMul") + ", weight '" + n.weight + "' " +
                                 describe_weight(rc.o.weights, axis) + err + ", activations " +
                                 std::string(dtype_name(rc.o.activations.dtype)) + " static");
    rec.count("nodes_quantized");
  }
  rec.count("activations_quantized", activations);
  return Status::ok();
}

}  // namespace bitsmith::quantize_detail
