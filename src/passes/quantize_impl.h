// Internals of the `quantize` pass (src/passes/quantize*.cpp), shared by its files:
//   quantize.cpp            options, validation, matching ("does it apply?"), the driver, records
//   quantize_calibrate.cpp  static activation ranges from ctx.calibration() and Observers
//   quantize_weights.cpp    per-op weight layout, quantized initializers, weight-only DQ rewrite
//   quantize_qdq.cpp        static QDQ rewrite (complete Q/DQ units) and the dynamic rewrite
//   quantize_qoperator.cpp  static QLinearConv / QLinearMatMul rewrite
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bitsmith/core/quant_params.h"
#include "bitsmith/core/status.h"
#include "bitsmith/ir/graph.h"
#include "bitsmith/passes/options.h"
#include "bitsmith/passes/pass.h"
#include "bitsmith/quant/observer.h"
#include "bitsmith/quant/weight_quant.h"
#include "passes/graph_util.h"

namespace bitsmith::quantize_detail {

enum class ActivationMode { kNone, kDynamic, kStatic };
enum class QuantFormat { kQdq, kQOperator };

struct WeightOptions {
  DType dtype = DType::kI8;                     // i8, u8, i4, u4
  Granularity granularity = Granularity::kPerChannel;
  std::optional<int64_t> axis;                  // null: each op's own axis (weight-only mode only)
  int64_t block_size = 32;                      // per-block
  bool symmetric = true;
  bool reduce_range = true;                     // 7-bit 8-bit weights (ORT AVX2 trap (a))
};

struct ActivationOptions {
  ActivationMode mode = ActivationMode::kDynamic;
  DType dtype = DType::kU8;                     // u8 or i8 (dynamic: u8 only)
  ObserverKind observer = ObserverKind::kMinMax;
  double percentile = 99.999;
  int64_t bins = 2048;
  double averaging_constant = 0.01;
  bool symmetric = false;
};

struct QuantizeOptions {
  WeightOptions weights;
  ActivationOptions activations;
  QuantFormat format = QuantFormat::kQdq;
  std::vector<std::string> ops = {"Conv", "Gemm", "MatMul"};
  int64_t calibration_batches = 0;              // 0: every batch
};

const OptionTable<QuantizeOptions>& quantize_option_table();

// One node the rewrite applies to (the weight is a constant f32 initializer).
struct QuantNode {
  size_t index = 0;
  std::string op;               // "Conv", "Gemm", "MatMul"
  std::string weight;           // initializer name (input 1)
  std::string bias;             // Conv input 2 / Gemm C; "" when absent
  bool trans_b = false;         // Gemm
  float alpha = 1.f, beta = 1.f;  // Gemm
};

// Observed activation ranges (static mode): value name -> [lo, hi].
using Ranges = std::unordered_map<std::string, std::pair<float, float>>;

// Runs the float model on every calibration batch and observes `values` (node outputs or graph
// inputs). Errors: kInvalidArgument without data, kDataError for an empty set or a batch the
// model refuses (wrong names, shapes or dtypes; the executor's message, prefixed).
Status calibrate(const Model& model, PassContext& ctx, const QuantizeOptions& o,
                 const std::vector<std::string>& values, Ranges& ranges);

// ---- weights ----

// A quantized weight ready to be added as initializers.
struct QuantizedWeight {
  Tensor q;             // integer codes (named)
  Tensor scale;         // f32: [] per-tensor, [C] per-channel, blocked shape per-block
  Tensor zero_point;    // qdtype, scale's shape
  QuantParams params;
  int64_t float_bytes = 0;
  QuantError error;     // of the dequantized weight against the float one
};

// Records f32 weight `name` replaced by `qw`: the bytes_before/bytes_after/weights_quantized
// counters and a TensorChange with qw's measured error (its `result` is left empty: set
// rec.tensors.back().result to the codes' initializer name once added). Call before moving qw.
void record_weight(PassRecord& rec, const std::string& name, const QuantizedWeight& qw, std::string how);

// Records bias `name` (f32) now stored as initializer `stored` (its scale `stored_scale`, if any:
// int32 codes times that scale, per element or scalar) with the measured error of what it stands
// for against beta * bias. `how` says what was done.
void record_bias(PassRecord& rec, const Tensor& bias, float beta, const std::string& name, const Tensor& stored,
                 const Tensor* stored_scale, const std::string& stored_name, std::string how);

// " (SQNR 41.2 dB)" for records.
std::string error_note(const QuantError& e);

// The Conv attributes ConvInteger / QLinearConv take (auto_pad, dilations, group, kernel_shape,
// pads, strides).
std::vector<Attribute> conv_attributes(const Node& conv);

// The axis of `w` holding output channels for op `n` (Conv 0; MatMul 1; Gemm 0 if transB else 1),
// after `transposed` (Gemm weights turned into [K, N]).
int output_axis(const QuantNode& n, bool transposed);
// The axis blocks run along (the reduction axis): Conv 1; MatMul 0; Gemm 1 if transB else 0.
int block_axis(const QuantNode& n, bool transposed);

// Quantizes f32 tensor `w` with the spec built from `o` for `axis` (per-channel/per-block axis).
Expected<QuantizedWeight> quantize_weight(const Tensor& w, const WeightOptions& o, int axis, int num_threads);

// Gemm weight as [K, N] times alpha (for MatMul-shaped integer ops); other ops: the weight.
Tensor weight_as_kn(const Tensor& w, const QuantNode& n);

// Adds the initializers of `qw` named from `base`; returns {q, scale, zero_point} names.
struct WeightNames {
  std::string q, scale, zero_point;
};
WeightNames add_weight_initializers(Graph& g, QuantizedWeight qw, const std::string& base,
                                    passes_detail::NameAllocator& names);

// A new initializer `t` named from `base`; returns the name.
std::string add_initializer(Graph& g, Tensor t, const std::string& base, passes_detail::NameAllocator& names);

// A per-tensor (scalar) f32 / integer initializer.
Tensor scalar_f32(float v);
Tensor scalar_int(DType dtype, int32_t v);
// Zero point tensor of `dtype` holding `zps` (or zeros) with `shape`.
Tensor zero_point_tensor(DType dtype, const std::vector<int32_t>& zps, const Shape& shape);

// What the rewriters share.
struct RewriteContext {
  Model& model;
  PassContext& ctx;
  const QuantizeOptions& o;
  passes_detail::NameAllocator& names;
  std::vector<std::string>& unused_candidates;  // initializers that may have become unused
  // Edits applied by the driver once every rewrite succeeded (indices are of the graph's nodes
  // before rewriting): nodes inserted before / after node i, and nodes erased.
  std::vector<std::vector<Node>> before, after;
  std::vector<bool> erase;

  void insert_before(size_t i, Node n) { before[i].push_back(std::move(n)); }
  void insert_after(size_t i, Node n) { after[i].push_back(std::move(n)); }
};

// "int8 per-channel (axis 0) symmetric 7-bit", for records.
std::string describe_weight(const WeightOptions& o, int axis);

Node make_node(std::string op, std::vector<std::string> inputs, std::vector<std::string> outputs,
               std::string name, std::vector<Attribute> attrs = {});

// Rewrites, each for the nodes in `nodes` (indices into model.graph.nodes, before rewriting).
Status rewrite_weight_only(RewriteContext& rc, const std::vector<QuantNode>& nodes);
Status rewrite_static_qdq(RewriteContext& rc, const std::vector<QuantNode>& nodes, const Ranges& ranges);
Status rewrite_static_qoperator(RewriteContext& rc, const std::vector<QuantNode>& nodes, const Ranges& ranges);
Status rewrite_dynamic(RewriteContext& rc, const std::vector<QuantNode>& nodes);

// Activation QuantParams from an observed range, per the options.
QuantParams activation_qparams(const std::pair<float, float>& range, const ActivationOptions& o);

// Bias as int32 codes with scale x_scale * w_scale[c] (per channel) and zero point 0, in a
// DequantizeLinear-ready form: {q int32 [C], scale f32 [C] or []}.
std::pair<Tensor, Tensor> quantize_bias(const Tensor& bias_f32, float beta, float x_scale,
                                        const std::vector<float>& w_scales, int64_t channels);

}  // namespace bitsmith::quantize_detail
