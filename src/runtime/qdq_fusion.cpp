// QDQ unit fusion at executor load (see qdq_fusion.h for the patterns and the contract).
#include "runtime/qdq_fusion.h"

#include "runtime/kernels/quantized_common.h"

#include <cmath>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace bitsmith {
namespace {

bool dflt(const Node& n) { return n.domain.empty() || n.domain == "ai.onnx"; }
bool is_8bit(DType t) { return t == DType::kU8 || t == DType::kI8; }

float scalar_f32(const Tensor& t, int64_t i) { return t.data<float>()[t.numel() == 1 ? 0 : i]; }

class Fuser {
 public:
  Fuser(Graph& g) : g_(g) {
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      for (const std::string& o : g_.nodes[i].outputs)
        if (!o.empty()) producer_[o] = i;
      for (const std::string& in : g_.nodes[i].inputs)
        if (!in.empty()) ++uses_[in];
    }
    for (const ValueInfo& v : g_.outputs) ++uses_[v.name], graph_out_.insert(v.name);
  }

  QdqFusionResult run(std::vector<OpsetImport>& opsets) {
    QdqFusionResult r;
    bool contrib = false;
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      const Node& op = g_.nodes[i];
      if (!dflt(op) || (op.op_type != "Conv" && op.op_type != "MatMul" && op.op_type != "Gemm")) continue;
      std::string what;
      if (op.op_type == "MatMul" && try_fuse_nbits(i, what)) {
        r.units.push_back(what);
        contrib = true;
        continue;
      }
      if (try_fuse(i, what)) {
        r.units.push_back(what);
        contrib = contrib || g_.nodes[i].domain == "com.microsoft";
      }
    }
    if (r.units.empty()) return r;
    std::vector<Node> kept;
    for (size_t i = 0; i < g_.nodes.size(); ++i)
      if (!dead_.count(i)) kept.push_back(std::move(g_.nodes[i]));
    g_.nodes = std::move(kept);
    remove_unused_dq();
    if (contrib) {
      bool has = false;
      for (const OpsetImport& o : opsets) has = has || o.domain == "com.microsoft";
      if (!has) opsets.push_back({"com.microsoft", 1});
    }
    return r;
  }

 private:
  const Tensor* constant(const std::string& name) const { return name.empty() ? nullptr : g_.find_initializer(name); }

  // The DequantizeLinear producing `value` (used by one consumer only when `single`), or null.
  const Node* dq_of(const std::string& value) const {
    auto it = producer_.find(value);
    if (it == producer_.end() || dead_.count(it->second)) return nullptr;
    const Node& n = g_.nodes[it->second];
    if (!dflt(n) || n.op_type != "DequantizeLinear" || n.inputs.size() < 2) return nullptr;
    if (n.attr_int("block_size", 0) != 0) return nullptr;
    return &n;
  }

  // Per-tensor activation DQ: constant f32 scale and 8-bit zero point, one element each.
  bool activation_dq(const Node& dq) const {
    const Tensor* s = constant(dq.inputs[1]);
    const Tensor* z = dq.inputs.size() > 2 ? constant(dq.inputs[2]) : nullptr;
    return s && s->dtype() == DType::kF32 && s->numel() == 1 && z && is_8bit(z->dtype()) && z->numel() == 1;
  }

  // Weight DQ: constant 8-bit initializer; scale f32 per tensor, or per `channels` along `axis`.
  bool weight_dq(const Node& dq, int64_t want_axis, int64_t channels) const {
    const Tensor* w = constant(dq.inputs[0]);
    const Tensor* s = constant(dq.inputs[1]);
    const Tensor* z = dq.inputs.size() > 2 && !dq.inputs[2].empty() ? constant(dq.inputs[2]) : nullptr;
    if (!w || !is_8bit(w->dtype()) || !s || s->dtype() != DType::kF32) return false;
    if (dq.inputs.size() > 2 && !dq.inputs[2].empty() && (!z || z->dtype() != w->dtype() || z->numel() != s->numel()))
      return false;
    if (s->numel() == 1) return true;
    int64_t axis = dq.attr_int("axis", 1);
    if (axis < 0) axis += w->rank();
    return axis == want_axis && s->rank() == 1 && s->numel() == channels;
  }

  // Bias: DQ of a constant int32 [channels] with zero point 0 and scale sx * sw[j].
  bool bias_dq(const std::string& value, const Tensor& sx, const Tensor& sw, int64_t channels, std::string& q) const {
    const Node* dq = dq_of(value);
    if (!dq) return false;
    const Tensor* b = constant(dq->inputs[0]);
    const Tensor* s = constant(dq->inputs[1]);
    if (!b || b->dtype() != DType::kI32 || b->rank() != 1 || b->numel() != channels || !s || s->dtype() != DType::kF32 ||
        (s->numel() != 1 && s->numel() != channels))
      return false;
    if (dq->inputs.size() > 2 && !dq->inputs[2].empty()) {
      const Tensor* z = constant(dq->inputs[2]);
      if (!z || z->dtype() != DType::kI32) return false;
      for (int64_t i = 0; i < z->numel(); ++i)
        if (z->data<int32_t>()[i] != 0) return false;
    }
    for (int64_t j = 0; j < channels; ++j) {
      const float want = scalar_f32(sx, 0) * scalar_f32(sw, sw.numel() == 1 ? 0 : j), got = scalar_f32(*s, j);
      if (std::fabs(got - want) > 1e-6f * std::fabs(want)) return false;
    }
    q = dq->inputs[0];
    return true;
  }

  // The single consumer node of `value`, or npos.
  size_t only_consumer(const std::string& value) const {
    if (graph_out_.count(value)) return SIZE_MAX;
    auto it = uses_.find(value);
    if (it == uses_.end() || it->second != 1) return SIZE_MAX;
    for (size_t i = 0; i < g_.nodes.size(); ++i)
      if (!dead_.count(i))
        for (const std::string& in : g_.nodes[i].inputs)
          if (in == value) return i;
    return SIZE_MAX;
  }

  // Output Q of the op (through an optional Relu that Q makes redundant): sets y_scale, y_zp,
  // the final output name and the nodes to delete.
  bool output_q(const std::string& y, std::string& ys, std::string& yz, std::string& out, std::vector<size_t>& gone) const {
    size_t c = only_consumer(y);
    if (c == SIZE_MAX) return false;
    bool relu = false;
    if (dflt(g_.nodes[c]) && g_.nodes[c].op_type == "Relu") {
      relu = true;
      gone.push_back(c);
      c = only_consumer(g_.nodes[c].outputs[0]);
      if (c == SIZE_MAX) return false;
    }
    const Node& q = g_.nodes[c];
    if (!dflt(q) || q.op_type != "QuantizeLinear" || q.inputs.size() < 3) return false;
    const Tensor* s = constant(q.inputs[1]);
    const Tensor* z = constant(q.inputs[2]);
    if (!s || s->dtype() != DType::kF32 || s->numel() != 1 || !z || !is_8bit(z->dtype()) || z->numel() != 1) return false;
    if (relu) {
      const int32_t zp = z->dtype() == DType::kU8 ? z->data<uint8_t>()[0] : z->data<int8_t>()[0];
      if (zp != (z->dtype() == DType::kU8 ? 0 : -128)) return false;
    }
    gone.push_back(c);
    ys = q.inputs[1];
    yz = q.inputs[2];
    out = q.outputs[0];
    return true;
  }

  bool try_fuse(size_t i, std::string& what) {
    const Node op = g_.nodes[i];
    if (op.inputs.size() < 2) return false;
    const Node* dx = dq_of(op.inputs[0]);
    const Node* dw = dq_of(op.inputs[1]);
    if (!dx || !dw || !activation_dq(*dx)) return false;
    const Tensor* w = constant(dw->inputs[0]);
    if (!w) return false;
    const std::string& x_q = dx->inputs[0];
    const std::string& sx = dx->inputs[1];
    const std::string& zx = dx->inputs[2];
    const std::string& w_q = dw->inputs[0];
    const std::string& sw = dw->inputs[1];
    const std::string zw = dw->inputs.size() > 2 ? dw->inputs[2] : std::string();
    const Tensor& sx_t = *constant(sx);
    std::string ys, yz, out, bias;
    std::vector<size_t> gone;
    Node fused;
    fused.name = op.name;
    if (op.op_type == "Conv") {
      if (w->rank() < 3 || !weight_dq(*dw, 0, w->dim(0))) return false;
      if (op.inputs.size() > 2 && !op.inputs[2].empty() && !bias_dq(op.inputs[2], sx_t, *constant(sw), w->dim(0), bias))
        return false;
      if (!output_q(op.outputs[0], ys, yz, out, gone)) return false;
      fused.op_type = "QLinearConv";
      fused.attributes = op.attributes;
      fused.inputs = {x_q, sx, zx, w_q, sw, zw, ys, yz};
      if (!bias.empty()) fused.inputs.push_back(bias);
    } else if (op.op_type == "MatMul") {
      if (w->rank() != 2 || !weight_dq(*dw, 1, w->dim(1))) return false;
      if (output_q(op.outputs[0], ys, yz, out, gone)) {
        fused.op_type = "QLinearMatMul";
        fused.inputs = {x_q, sx, zx, w_q, sw, zw, ys, yz};
      } else {
        gone.clear();
        fused.op_type = "MatMulIntegerToFloat";
        fused.domain = "com.microsoft";
        fused.inputs = {x_q, w_q, sx, sw, zx, zw};
        out = op.outputs[0];
      }
    } else {  // Gemm
      if (op.attr_int("transA", 0) != 0 || op.attr_float("alpha", 1.f) != 1.f || op.attr_float("beta", 1.f) != 1.f) return false;
      const bool tb = op.attr_int("transB", 0) != 0;
      if (w->rank() != 2 || !weight_dq(*dw, tb ? 0 : 1, w->dim(tb ? 0 : 1))) return false;
      if (op.inputs.size() > 2 && !op.inputs[2].empty() && !bias_dq(op.inputs[2], sx_t, *constant(sw), w->dim(tb ? 0 : 1), bias))
        return false;
      if (!output_q(op.outputs[0], ys, yz, out, gone)) {
        gone.clear();
        ys.clear();
        yz.clear();
        out = op.outputs[0];
      }
      fused.op_type = "QGemm";
      fused.domain = "com.microsoft";
      fused.attributes = {Attribute::make_int("transB", tb ? 1 : 0)};
      fused.inputs = {x_q, sx, zx, w_q, sw, zw, bias};
      if (!ys.empty()) {
        fused.inputs.push_back(ys);
        fused.inputs.push_back(yz);
      }
    }
    fused.outputs = {out};
    what = op.describe() + " -> " + (fused.domain.empty() ? "" : fused.domain + ".") + fused.op_type;
    for (size_t d : gone) dead_.insert(d);
    // Bookkeeping: the op no longer reads its float inputs; the fused node reads the quantized ones.
    for (const std::string& in : op.inputs)
      if (!in.empty()) --uses_[in];
    for (size_t d : gone)
      for (const std::string& in : g_.nodes[d].inputs)
        if (!in.empty()) --uses_[in];
    for (const std::string& in : fused.inputs)
      if (!in.empty()) ++uses_[in];
    producer_[out] = i;
    g_.nodes[i] = std::move(fused);
    return true;
  }

  // MatMul(A, DQ(W int4/uint4 [K, N], blocked along K)) => com.microsoft MatMulNBits with B,
  // scales and zero points repacked into its layout (new initializers).
  bool try_fuse_nbits(size_t i, std::string& what) {
    const Node op = g_.nodes[i];
    if (op.inputs.size() != 2) return false;
    auto it = producer_.find(op.inputs[1]);
    if (it == producer_.end() || dead_.count(it->second)) return false;
    const Node& dq = g_.nodes[it->second];
    if (!dflt(dq) || dq.op_type != "DequantizeLinear" || dq.inputs.size() < 2) return false;
    const int64_t bs = dq.attr_int("block_size", 0);
    const Tensor* w = constant(dq.inputs[0]);
    const Tensor* s = constant(dq.inputs[1]);
    const Tensor* z = dq.inputs.size() > 2 && !dq.inputs[2].empty() ? constant(dq.inputs[2]) : nullptr;
    if (bs <= 0 || bs % 2 != 0 || !w || (w->dtype() != DType::kI4 && w->dtype() != DType::kU4) || w->rank() != 2) return false;
    if (dq.attr_int("axis", 1) != 0 && dq.attr_int("axis", 1) != -2) return false;
    const int64_t k = w->dim(0), n = w->dim(1), kb = (k + bs - 1) / bs;
    if (!s || s->dtype() != DType::kF32 || s->shape() != Shape{kb, n}) return false;
    if (dq.inputs.size() > 2 && !dq.inputs[2].empty() && (!z || z->dtype() != w->dtype() || z->shape() != Shape{kb, n}))
      return false;
    const int32_t shift = w->dtype() == DType::kI4 ? 8 : 0;
    const std::vector<int32_t> q = kernels::int_values32(*w);
    const std::vector<int32_t> zq = z ? kernels::int_values32(*z) : std::vector<int32_t>();
    const int64_t blob = bs / 2, zrow = (kb + 1) / 2;
    Tensor b(DType::kU8, {n, kb, blob}), sc(DType::kF32, {n * kb}), zp(DType::kU8, {n * zrow});
    uint8_t* bd = b.mutable_data<uint8_t>();
    uint8_t* zd = zp.mutable_data<uint8_t>();
    for (int64_t j = 0; j < n; ++j)
      for (int64_t blk = 0; blk < kb; ++blk) {
        sc.mutable_data<float>()[j * kb + blk] = s->data<float>()[blk * n + j];
        const int32_t zv = (z ? zq[blk * n + j] : 0) + shift;
        zd[j * zrow + blk / 2] |= static_cast<uint8_t>(zv << ((blk % 2) * 4));
        for (int64_t kk = blk * bs; kk < std::min(k, (blk + 1) * bs); ++kk) {
          const int64_t in = kk - blk * bs;
          bd[(j * kb + blk) * blob + in / 2] |= static_cast<uint8_t>((q[kk * n + j] + shift) << ((in % 2) * 4));
        }
      }
    const std::string base = dq.inputs[0] + "__nbits" + std::to_string(i);
    b.set_name(base + "_B");
    sc.set_name(base + "_scales");
    zp.set_name(base + "_zp");
    Node fused;
    fused.name = op.name;
    fused.op_type = "MatMulNBits";
    fused.domain = "com.microsoft";
    fused.inputs = {op.inputs[0], b.name(), sc.name(), zp.name()};
    fused.outputs = op.outputs;
    fused.attributes = {Attribute::make_int("K", k), Attribute::make_int("N", n), Attribute::make_int("bits", 4),
                        Attribute::make_int("block_size", bs)};
    g_.initializers.push_back(std::move(b));
    g_.initializers.push_back(std::move(sc));
    g_.initializers.push_back(std::move(zp));
    --uses_[op.inputs[1]];
    what = op.describe() + " -> com.microsoft.MatMulNBits";
    g_.nodes[i] = std::move(fused);
    return true;
  }

  // Removes DequantizeLinear nodes whose output nothing reads any more.
  void remove_unused_dq() {
    std::unordered_map<std::string, int> uses;
    for (const Node& n : g_.nodes)
      for (const std::string& in : n.inputs)
        if (!in.empty()) ++uses[in];
    std::vector<Node> kept;
    for (Node& n : g_.nodes) {
      if (dflt(n) && n.op_type == "DequantizeLinear" && !graph_out_.count(n.outputs[0]) && !uses.count(n.outputs[0]))
        continue;
      kept.push_back(std::move(n));
    }
    g_.nodes = std::move(kept);
  }

  Graph& g_;
  std::unordered_map<std::string, size_t> producer_;
  std::unordered_map<std::string, int> uses_;
  std::unordered_set<std::string> graph_out_;
  std::unordered_set<size_t> dead_;
};

}  // namespace

QdqFusionResult fuse_qdq_units(Graph& graph, std::vector<OpsetImport>& opsets) { return Fuser(graph).run(opsets); }

}  // namespace bitsmith
