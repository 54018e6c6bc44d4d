// convert-float16: weights and compute in IEEE float16 (shared code: float_convert.cpp).
//
// What it does (same for convert-bfloat16 with bfloat16; see convert_bfloat16.cpp):
//  - Every node in scope that reads or writes float32 tensors computes in float16, unless its op
//    type is in block_ops, ONNX gives it no float16 typing (Range, NonMaxSuppression), it is a
//    quantization op, its output type comes from a dtype attribute (EyeLike, Random*), it has
//    subgraphs, or a value's type is unknown. Each kept node is recorded with the reason.
//  - Slots whose ONNX type is not tied to the node's data type stay float32: Resize roi and
//    scales, Upsample scales, Dropout ratio, LayerNormalization's Mean/InvStdDev outputs.
//    Integer, bool and shape values are never touched.
//  - Weights (f32 constant initializers and Constant nodes) read by a converted node are stored
//    in float16, once; values with 0 < |x| < min_positive_val become +-min_positive_val and
//    finite |x| > max_finite_val become +-max_finite_val (as onnxconverter-common does).
//  - A Cast is inserted once per (value, type) where a float32 region meets a float16 one; a
//    Cast reading a Cast is folded (f32->f16->f32 pairs disappear), so no two Casts are back to
//    back. With keep_io_types the graph inputs and outputs keep their names and float32 type.
//  - value_info types follow; the output is sorted topologically.
//  - compute "f32": weight-only storage. No node changes type; the weights are stored in
//    float16 and read through one Cast to float32 each.
// ONNX Runtime (onnxruntime-node 1.30, CPU) loads and runs the float16 output of cnn_small,
// gpt_tiny and mnist-8 at graph optimization "all" and "disabled", matching bitsmith's runtime
// within 5e-4 of the output's magnitude (tests/passes/convert_float16_test.cpp).
// Counters: nodes_converted, nodes_kept_f32, initializers_converted, constants_converted,
// values_clamped, casts_inserted, casts_removed, bytes_before, bytes_after (constant bytes).
//
// Default block_ops: the ops of onnxconverter-common's / ORT's transformers float16 tool
// DEFAULT_OP_BLOCK_LIST that are default-domain ONNX ops and have float inputs (NonMaxSuppression,
// TopK, RoiAlign, Resize, Range, CumSum, Upsample; both tools also block Min and Max, for old
// ORT kernels, which bitsmith does not), plus the ops that overflow float16's 65504 or lose most
// of its 11-bit precision on large inputs: Pow, ReduceSum, ReduceProd, ReduceL2,
// ReduceSumSquare, ReduceLogSumExp. Exp and Softmax are not blocked (Softmax's output is in
// [0, 1] and the usual Exp inputs are max-subtracted); add them when a model needs it.
#include <string>
#include <vector>

#include "bitsmith/passes/options.h"
#include "bitsmith/passes/pass.h"
#include "passes/float_convert.h"
#include "passes/pass_impl.h"

namespace bitsmith {
namespace {

enum class F16Compute { kF16, kF32 };

struct ConvertFloat16Options {
  bool keep_io_types = true;
  std::vector<std::string> block_ops = passes_detail::default_float_block_ops();
  double min_positive_val = 5.96e-08;  // smallest float16 subnormal (2^-24 ~ 5.96e-8)
  double max_finite_val = 65504.0;     // largest finite float16
  F16Compute compute = F16Compute::kF16;
};

class ConvertFloat16Pass final : public PassWithOptions<ConvertFloat16Options> {
 public:
  ConvertFloat16Pass(std::string_view name, Options options)
      : PassWithOptions(name, std::move(options), option_table()) {}

  static const OptionTable<Options>& option_table() {
    static const OptionTable<Options> table =
        OptionTable<Options>()
            .flag("keep_io_types", &Options::keep_io_types,
                  "Graph inputs and outputs stay float32 (Casts at the boundary)")
            .string_list("block_ops", &Options::block_ops, "Op types kept in float32")
            .real("min_positive_val", &Options::min_positive_val,
                  "Weights with 0 < |x| < this become +-this (flush-to-zero guard)", 0.0, 65504.0)
            .real("max_finite_val", &Options::max_finite_val,
                  "Finite weights with |x| > this become +-this (overflow guard)", 0.0, 65504.0)
            .enumeration("compute", &Options::compute,
                         "f16: nodes compute in float16; f32: weights stored float16, read through Casts "
                         "to float32 (weight-only)",
                         {{"f16", F16Compute::kF16}, {"f32", F16Compute::kF32}});
    return table;
  }

  static void validate(const Options& o, const std::string& pointer, std::vector<std::string>& errors) {
    passes_detail::validate_clamp_range(o.min_positive_val, o.max_finite_val, pointer, errors);
  }

  Status run(Model& model, PassContext& ctx) override {
    passes_detail::FloatConvertConfig c;
    c.target = DType::kF16;
    c.keep_io_types = options().keep_io_types;
    c.block_ops = options().block_ops;
    c.min_positive_val = options().min_positive_val;
    c.max_finite_val = options().max_finite_val;
    c.weight_only = options().compute == F16Compute::kF32;
    return passes_detail::convert_float_model(model, ctx, c);
  }
};

}  // namespace
}  // namespace bitsmith

BS_DEFINE_PASS(ConvertFloat16Pass)
