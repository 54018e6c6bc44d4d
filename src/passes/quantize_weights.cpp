// quantize: weight layouts, quantized initializers, and the weight-only rewrite
//   W (f32 initializer) -> DequantizeLinear(W_q, scale, zero_point[, axis][, block_size]) -> op
// (see quantize_impl.h for how the files of the pass divide the work).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <tuple>

#include "bitsmith/ir/op_schema.h"
#include "passes/quantize_impl.h"

namespace bitsmith::quantize_detail {

using passes_detail::NameAllocator;
using passes_detail::set_initializer;

int output_axis(const QuantNode& n, bool transposed) {
  if (n.op == "Conv") return 0;
  if (n.op == "Gemm" && n.trans_b && !transposed) return 0;
  return 1;  // [K, N]
}

int block_axis(const QuantNode& n, bool transposed) {
  if (n.op == "Conv") return 1;
  if (n.op == "Gemm" && n.trans_b && !transposed) return 1;
  return 0;  // [K, N]: blocks along K
}

Tensor scalar_f32(float v) { return Tensor::scalar<float>(v); }

namespace {

void store_code(DType dtype, std::byte* out, int64_t i, int32_t v) {
  switch (dtype) {
    case DType::kI8: reinterpret_cast<int8_t*>(out)[i] = static_cast<int8_t>(v); break;
    case DType::kU8: reinterpret_cast<uint8_t*>(out)[i] = static_cast<uint8_t>(v); break;
    case DType::kI32: reinterpret_cast<int32_t*>(out)[i] = v; break;
    case DType::kI4:
    case DType::kU4: {
      const auto nib = static_cast<uint8_t>(v & 0xf);
      auto& byte = reinterpret_cast<uint8_t*>(out)[i / 2];
      byte = (i % 2 == 0) ? static_cast<uint8_t>((byte & 0xf0) | nib) : static_cast<uint8_t>((byte & 0x0f) | (nib << 4));
      break;
    }
    default: break;
  }
}

}  // namespace

Tensor scalar_int(DType dtype, int32_t v) {
  Tensor t(dtype, {});
  store_code(dtype, t.mutable_bytes(), 0, v);
  return t;
}

Tensor zero_point_tensor(DType dtype, const std::vector<int32_t>& zps, const Shape& shape) {
  Tensor t(dtype, shape);  // zero-filled
  for (size_t i = 0; i < zps.size() && static_cast<int64_t>(i) < t.numel(); ++i)
    store_code(dtype, t.mutable_bytes(), static_cast<int64_t>(i), zps[i]);
  return t;
}

Expected<QuantizedWeight> quantize_weight(const Tensor& w, const WeightOptions& o, int axis, int num_threads) {
  WeightQuantSpec spec;
  spec.qdtype = o.dtype;
  spec.granularity = o.granularity;
  spec.axis = axis;
  spec.block_size = o.block_size;
  spec.symmetric = o.symmetric;
  spec.reduce_range = o.reduce_range;
  QuantizedWeight qw;
  BS_ASSIGN_OR_RETURN(qw.params, compute_weight_params(w, spec));
  BS_ASSIGN_OR_RETURN(qw.q, quantize_tensor(w, qw.params, num_threads));
  BS_ASSIGN_OR_RETURN(Tensor dq, dequantize_tensor(qw.q));
  qw.error = quant_error(w, dq);
  qw.q.set_quant(std::nullopt);  // the file carries the parameters as DequantizeLinear inputs
  Shape sshape;
  const int a = axis < 0 ? axis + w.rank() : axis;
  if (o.granularity == Granularity::kPerChannel) sshape = {w.dim(a)};
  if (o.granularity == Granularity::kPerBlock) {
    sshape = w.shape();
    sshape[a] = (w.dim(a) + o.block_size - 1) / o.block_size;
  }
  qw.scale = Tensor(DType::kF32, sshape);
  std::copy(qw.params.scales.begin(), qw.params.scales.end(), qw.scale.mutable_data<float>());
  qw.zero_point = zero_point_tensor(o.dtype, qw.params.zero_points, sshape);
  qw.float_bytes = static_cast<int64_t>(w.nbytes());
  return qw;
}

Tensor weight_as_kn(const Tensor& w, const QuantNode& n) {
  if (n.op != "Gemm" || (!n.trans_b && n.alpha == 1.f)) return w;
  const int64_t rows = w.dim(0), cols = w.dim(1);
  Tensor out(DType::kF32, n.trans_b ? Shape{cols, rows} : w.shape());
  const float* src = w.data<float>();
  float* dst = out.mutable_data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const float v = src[r * cols + c] * n.alpha;
      if (n.trans_b) dst[c * rows + r] = v;
      else dst[r * cols + c] = v;
    }
  out.set_name(w.name());
  return out;
}

std::string add_initializer(Graph& g, Tensor t, const std::string& base, NameAllocator& names) {
  const std::string name = names.make(base);
  t.set_name(name);
  set_initializer(g, std::move(t));
  return name;
}

WeightNames add_weight_initializers(Graph& g, QuantizedWeight qw, const std::string& base, NameAllocator& names) {
  WeightNames n;
  n.q = add_initializer(g, std::move(qw.q), base + "_quantized", names);
  n.scale = add_initializer(g, std::move(qw.scale), base + "_scale", names);
  n.zero_point = add_initializer(g, std::move(qw.zero_point), base + "_zero_point", names);
  return n;
}

void record_weight(PassRecord& rec, const std::string& name, const QuantizedWeight& qw, std::string how) {
  const int64_t after = static_cast<int64_t>(qw.q.nbytes() + qw.scale.nbytes() + qw.zero_point.nbytes());
  rec.count("bytes_before", qw.float_bytes);
  rec.count("bytes_after", after);
  rec.count("weights_quantized");
  TensorChange t;
  t.tensor = name;
  t.dtype_before = DType::kF32;
  t.dtype_after = qw.q.dtype();
  t.numel = qw.q.numel();
  t.bytes_before = qw.float_bytes;
  t.bytes_after = after;
  t.sqnr_db = qw.error.sqnr_db;
  t.cosine = qw.error.cosine;
  t.max_abs_err = qw.error.max_abs;
  t.how = std::move(how);
  rec.tensors.push_back(std::move(t));
}

void record_bias(PassRecord& rec, const Tensor& bias, float beta, const std::string& name, const Tensor& stored,
                 const Tensor* stored_scale, const std::string& stored_name, std::string how) {
  const int64_t n = stored.numel();
  Tensor want(DType::kF32, {n}), got(DType::kF32, {n});
  for (int64_t i = 0; i < n; ++i) {
    want.mutable_data<float>()[i] = beta * bias.data<float>()[bias.numel() == 1 ? 0 : i];
    if (stored.dtype() == DType::kI32) {
      const float s = stored_scale->data<float>()[stored_scale->numel() == 1 ? 0 : i];
      got.mutable_data<float>()[i] = static_cast<float>(stored.data<int32_t>()[i]) * s;
    } else {
      got.mutable_data<float>()[i] = stored.data<float>()[i];
    }
  }
  const QuantError e = quant_error(want, got);
  TensorChange t;
  t.tensor = name;
  t.result = stored_name;
  t.dtype_before = DType::kF32;
  t.dtype_after = stored.dtype();
  t.numel = bias.numel();
  t.bytes_before = static_cast<int64_t>(bias.nbytes());
  t.bytes_after = static_cast<int64_t>(stored.nbytes() + (stored_scale ? stored_scale->nbytes() : 0));
  t.sqnr_db = e.sqnr_db;
  t.cosine = e.cosine;
  t.max_abs_err = e.max_abs;
  t.how = std::move(how);
  rec.tensors.push_back(std::move(t));
}

std::string error_note(const QuantError& e) {
  if (!std::isfinite(e.sqnr_db)) return " (exact)";
  char buf[48];
  std::snprintf(buf, sizeof buf, " (SQNR %.1f dB)", e.sqnr_db);
  return buf;
}

std::vector<Attribute> conv_attributes(const Node& conv) {
  std::vector<Attribute> attrs;
  for (const Attribute& a : conv.attributes)
    if (a.name == "auto_pad" || a.name == "dilations" || a.name == "group" || a.name == "kernel_shape" ||
        a.name == "pads" || a.name == "strides")
      attrs.push_back(a);
  return attrs;
}

Node make_node(std::string op, std::vector<std::string> inputs, std::vector<std::string> outputs, std::string name,
               std::vector<Attribute> attrs) {
  Node n;
  n.op_type = std::move(op);
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  n.name = std::move(name);
  n.attributes = std::move(attrs);
  return n;
}

QuantParams activation_qparams(const std::pair<float, float>& range, const ActivationOptions& o) {
  return activation_params(range.first, range.second, o.dtype, o.symmetric, false);
}

std::pair<Tensor, Tensor> quantize_bias(const Tensor& bias_f32, float beta, float x_scale,
                                        const std::vector<float>& w_scales, int64_t channels) {
  Tensor q(DType::kI32, {channels});
  const bool per_channel = w_scales.size() > 1;
  Tensor scale(DType::kF32, per_channel ? Shape{channels} : Shape{});
  const float* b = bias_f32.data<float>();
  const bool broadcast = bias_f32.numel() == 1;
  for (int64_t c = 0; c < channels; ++c) {
    const float s = x_scale * w_scales[per_channel ? c : 0];
    if (per_channel || c == 0) scale.mutable_data<float>()[per_channel ? c : 0] = s;
    const double v = std::nearbyint(static_cast<double>(beta) * b[broadcast ? 0 : c] / s);
    const double lim = std::numeric_limits<int32_t>::max();
    q.mutable_data<int32_t>()[c] = static_cast<int32_t>(std::clamp(v, -lim, lim));
  }
  return {std::move(q), std::move(scale)};
}

std::string describe_weight(const WeightOptions& o, int axis) {
  std::string s = std::string(dtype_name(o.dtype));
  switch (o.granularity) {
    case Granularity::kPerTensor: s += " per-tensor"; break;
    case Granularity::kPerChannel: s += " per-channel (axis " + std::to_string(axis) + ")"; break;
    case Granularity::kPerBlock:
      s += " per-block (axis " + std::to_string(axis) + ", block " + std::to_string(o.block_size) + ")";
      break;
  }
  s += o.symmetric ? " symmetric" : " asymmetric";
  if (o.reduce_range && dtype_bits(o.dtype) == 8) s += " 7-bit";
  return s;
}

Status rewrite_weight_only(RewriteContext& rc, const std::vector<QuantNode>& nodes) {
  Graph& g = rc.model.graph;
  PassRecord& rec = rc.ctx.record();
  // (weight, axis) -> DequantizeLinear output, so a shared weight is stored once.
  std::map<std::pair<std::string, int>, std::string> done, errors;
  for (const QuantNode& n : nodes) {
    Node& node = g.nodes[n.index];
    const Tensor w0 = *g.find_initializer(n.weight);
    // A reduction axis shorter than one block (a Conv with few input channels) would get one
    // scale per few elements: such a weight is stored per-channel instead (recorded).
    WeightOptions wo = rc.o.weights;
    if (!wo.axis && wo.granularity == Granularity::kPerBlock && w0.dim(block_axis(n, false)) < wo.block_size) {
      wo.granularity = Granularity::kPerChannel;
      rc.ctx.record().count("per_block_to_per_channel");
    }
    const int axis = wo.axis ? static_cast<int>(*wo.axis)
                     : wo.granularity == Granularity::kPerBlock ? block_axis(n, false) : output_axis(n, false);
    auto key = std::make_pair(n.weight, axis * 2 + (wo.granularity == Granularity::kPerBlock ? 1 : 0));
    auto it = done.find(key);
    if (it == done.end()) {
      const Tensor w = *g.find_initializer(n.weight);
      Expected<QuantizedWeight> qw = quantize_weight(w, wo, axis, rc.ctx.num_threads());
      if (!qw) return qw.status().with_context(node.describe() + ": weight '" + n.weight + "'");
      errors[key] = error_note(qw->error);
      std::vector<Attribute> attrs;
      if (wo.granularity != Granularity::kPerTensor) attrs.push_back(Attribute::make_int("axis", axis));
      if (wo.granularity == Granularity::kPerBlock) attrs.push_back(Attribute::make_int("block_size", wo.block_size));
      record_weight(rec, n.weight, *qw, describe_weight(wo, axis));
      const WeightNames wn = add_weight_initializers(g, std::move(qw).value(), n.weight, rc.names);
      rec.tensors.back().result = wn.q;
      const std::string out = rc.names.make(n.weight + "_dequantized");
      rc.insert_before(n.index, make_node("DequantizeLinear", {wn.q, wn.scale, wn.zero_point}, {out},
                                          rc.names.make(node.name + "_weight_dequantize"), std::move(attrs)));
      it = done.emplace(key, out).first;
      rc.unused_candidates.push_back(n.weight);
    }
    g.nodes[n.index].inputs[1] = it->second;
    rec.touch(g.nodes[n.index], n.index, "weight '" + n.weight + "' stored as " + describe_weight(wo, axis) +
                                             (wo.granularity != rc.o.weights.granularity
                                                  ? " (axis " + std::to_string(block_axis(n, false)) +
                                                        " is shorter than one block)"
                                                  : std::string()) +
                                             errors[key] +
                                             ", DequantizeLinear feeds the " + n.op);
    rec.count("nodes_quantized");
  }
  return Status::ok();
}

}  // namespace bitsmith::quantize_detail
