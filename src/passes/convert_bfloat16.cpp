// convert-bfloat16: weights (and optionally compute) in bfloat16 (shared code: float_convert.cpp;
// the rewrite is described in convert_float16.cpp).
//
// Differences from convert-float16:
//  - compute "f32" (weight-only) is the default: the weights are stored as bfloat16 (half the
//    bytes) and each is read through one Cast to float32, all nodes stay float32. Measured with
//    onnxruntime-node 1.30 (CPU), at graph optimization "all" and "disabled" alike: the
//    weight-only form loads and runs (cnn_small, gpt_tiny: outputs equal bitsmith's within 3e-7
//    relative); a model computing in bfloat16 is refused when the session is created, e.g.
//    "Could not find an implementation for Add(14) node with name '/Add'" (gpt_tiny). ORT CPU
//    has bfloat16 kernels for Cast and data movement (Identity) but not for Add, Sub, Mul, Div,
//    MatMul, Relu, Sigmoid, Tanh, Erf or ReduceMax (Softmax), and unlike float16 it does not
//    insert Casts around nodes that lack a kernel. bitsmith's runtime runs both forms.
//  - compute "bf16": nodes compute in bfloat16 where ONNX allows it at the model's opset (e.g.
//    Add/Mul/MatMul/Gemm from 13, Relu 14, LayerNormalization 17, Conv and pooling only from 22);
//    others stay float32 with the reason recorded.
//  - Both need ai.onnx opset >= 13 (the first with a bfloat16 Cast); below that the pass does
//    nothing and says so in the record's notes.
//  - Clamping defaults: bfloat16 has float32's exponent range, so min_positive_val 0 and
//    max_finite_val 3.3895313892515355e38 (largest finite bfloat16) change nothing by default.
#include <string>
#include <vector>

#include "bitsmith/passes/options.h"
#include "bitsmith/passes/pass.h"
#include "passes/float_convert.h"
#include "passes/pass_impl.h"

namespace bitsmith {
namespace {

enum class BF16Compute { kBF16, kF32 };

constexpr double kBf16Max = 3.3895313892515355e38;

struct ConvertBFloat16Options {
  bool keep_io_types = true;
  std::vector<std::string> block_ops = passes_detail::default_float_block_ops();
  double min_positive_val = 0.0;
  double max_finite_val = kBf16Max;
  BF16Compute compute = BF16Compute::kF32;
};

class ConvertBFloat16Pass final : public PassWithOptions<ConvertBFloat16Options> {
 public:
  ConvertBFloat16Pass(std::string_view name, Options options)
      : PassWithOptions(name, std::move(options), option_table()) {}

  static const OptionTable<Options>& option_table() {
    static const OptionTable<Options> table =
        OptionTable<Options>()
            .flag("keep_io_types", &Options::keep_io_types,
                  "Graph inputs and outputs stay float32 (Casts at the boundary)")
            .string_list("block_ops", &Options::block_ops, "Op types kept in float32")
            .real("min_positive_val", &Options::min_positive_val,
                  "Weights with 0 < |x| < this become +-this", 0.0, kBf16Max)
            .real("max_finite_val", &Options::max_finite_val,
                  "Finite weights with |x| > this become +-this", 0.0, kBf16Max)
            .enumeration("compute", &Options::compute,
                         "f32: weights stored bfloat16, read through Casts to float32 (weight-only; runs in "
                         "ONNX Runtime CPU); bf16: nodes compute in bfloat16 where ONNX allows it",
                         {{"f32", BF16Compute::kF32}, {"bf16", BF16Compute::kBF16}});
    return table;
  }

  static void validate(const Options& o, const std::string& pointer, std::vector<std::string>& errors) {
    passes_detail::validate_clamp_range(o.min_positive_val, o.max_finite_val, pointer, errors);
  }

  Status run(Model& model, PassContext& ctx) override {
    passes_detail::FloatConvertConfig c;
    c.target = DType::kBF16;
    c.keep_io_types = options().keep_io_types;
    c.block_ops = options().block_ops;
    c.min_positive_val = options().min_positive_val;
    c.max_finite_val = options().max_finite_val;
    c.weight_only = options().compute == BF16Compute::kF32;
    return passes_detail::convert_float_model(model, ctx, c);
  }
};

}  // namespace
}  // namespace bitsmith

BS_DEFINE_PASS(ConvertBFloat16Pass)
