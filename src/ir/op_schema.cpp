#include "bitsmith/ir/op_schema.h"

#include <algorithm>
#include <array>
#include <utility>

namespace bitsmith {
namespace {

constexpr int kV = OpSchema::kVariadic;

// (op_type, min_inputs, max_inputs, min_outputs, max_outputs): union over opsets 1..21.
// Kept sorted by op_type (checked by a static_assert) so lookups are a binary search.
constexpr OpSchema kSchemas[] = {
    {"Abs", 1, 1, 1, 1},
    {"Acos", 1, 1, 1, 1},
    {"Acosh", 1, 1, 1, 1},
    {"Add", 2, 2, 1, 1},
    {"And", 2, 2, 1, 1},
    {"ArgMax", 1, 1, 1, 1},
    {"ArgMin", 1, 1, 1, 1},
    {"Asin", 1, 1, 1, 1},
    {"Asinh", 1, 1, 1, 1},
    {"Atan", 1, 1, 1, 1},
    {"Atanh", 1, 1, 1, 1},
    {"AveragePool", 1, 1, 1, 1},
    {"BatchNormalization", 5, 5, 1, 5},
    {"BitShift", 2, 2, 1, 1},
    {"Cast", 1, 1, 1, 1},
    {"CastLike", 2, 2, 1, 1},
    {"Ceil", 1, 1, 1, 1},
    {"Celu", 1, 1, 1, 1},
    {"Clip", 1, 3, 1, 1},
    {"Compress", 2, 2, 1, 1},
    {"Concat", 1, kV, 1, 1},
    {"Constant", 0, 0, 1, 1},
    {"ConstantOfShape", 1, 1, 1, 1},
    {"Conv", 2, 3, 1, 1},
    {"ConvInteger", 2, 4, 1, 1},
    {"ConvTranspose", 2, 3, 1, 1},
    {"Cos", 1, 1, 1, 1},
    {"Cosh", 1, 1, 1, 1},
    {"CumSum", 2, 2, 1, 1},
    {"DepthToSpace", 1, 1, 1, 1},
    {"DequantizeLinear", 2, 3, 1, 1},
    {"Div", 2, 2, 1, 1},
    {"Dropout", 1, 3, 1, 2},
    {"DynamicQuantizeLinear", 1, 1, 3, 3},
    {"Einsum", 1, kV, 1, 1},
    {"Elu", 1, 1, 1, 1},
    {"Equal", 2, 2, 1, 1},
    {"Erf", 1, 1, 1, 1},
    {"Exp", 1, 1, 1, 1},
    {"Expand", 2, 2, 1, 1},
    {"EyeLike", 1, 1, 1, 1},
    {"Flatten", 1, 1, 1, 1},
    {"Floor", 1, 1, 1, 1},
    {"GRU", 3, 6, 0, 2},
    {"Gather", 2, 2, 1, 1},
    {"GatherElements", 2, 2, 1, 1},
    {"GatherND", 2, 2, 1, 1},
    {"Gelu", 1, 1, 1, 1},
    {"Gemm", 2, 3, 1, 1},
    {"GlobalAveragePool", 1, 1, 1, 1},
    {"GlobalLpPool", 1, 1, 1, 1},
    {"GlobalMaxPool", 1, 1, 1, 1},
    {"Greater", 2, 2, 1, 1},
    {"GreaterOrEqual", 2, 2, 1, 1},
    {"GroupNormalization", 3, 3, 1, 1},
    {"HardSigmoid", 1, 1, 1, 1},
    {"HardSwish", 1, 1, 1, 1},
    {"Hardmax", 1, 1, 1, 1},
    {"Identity", 1, 1, 1, 1},
    {"If", 1, 1, 1, kV},
    {"InstanceNormalization", 3, 3, 1, 1},
    {"IsInf", 1, 1, 1, 1},
    {"IsNaN", 1, 1, 1, 1},
    {"LRN", 1, 1, 1, 1},
    {"LSTM", 3, 8, 0, 3},
    {"LayerNormalization", 2, 3, 1, 3},
    {"LeakyRelu", 1, 1, 1, 1},
    {"Less", 2, 2, 1, 1},
    {"LessOrEqual", 2, 2, 1, 1},
    {"Log", 1, 1, 1, 1},
    {"LogSoftmax", 1, 1, 1, 1},
    {"Loop", 2, kV, 1, kV},
    {"LpNormalization", 1, 1, 1, 1},
    {"LpPool", 1, 1, 1, 1},
    {"MatMul", 2, 2, 1, 1},
    {"MatMulInteger", 2, 4, 1, 1},
    {"Max", 1, kV, 1, 1},
    {"MaxPool", 1, 1, 1, 2},
    {"MaxUnpool", 2, 3, 1, 1},
    {"Mean", 1, kV, 1, 1},
    {"MeanVarianceNormalization", 1, 1, 1, 1},
    {"Min", 1, kV, 1, 1},
    {"Mish", 1, 1, 1, 1},
    {"Mod", 2, 2, 1, 1},
    {"Mul", 2, 2, 1, 1},
    {"Neg", 1, 1, 1, 1},
    {"NonMaxSuppression", 2, 5, 1, 1},
    {"NonZero", 1, 1, 1, 1},
    {"Not", 1, 1, 1, 1},
    {"OneHot", 3, 3, 1, 1},
    {"Or", 2, 2, 1, 1},
    {"PRelu", 2, 2, 1, 1},
    {"Pad", 1, 4, 1, 1},
    {"Pow", 2, 2, 1, 1},
    {"QLinearConv", 8, 9, 1, 1},
    {"QLinearMatMul", 8, 8, 1, 1},
    {"QuantizeLinear", 2, 3, 1, 1},
    {"RNN", 3, 6, 0, 2},
    {"Range", 3, 3, 1, 1},
    {"Reciprocal", 1, 1, 1, 1},
    {"ReduceL1", 1, 2, 1, 1},
    {"ReduceL2", 1, 2, 1, 1},
    {"ReduceLogSum", 1, 2, 1, 1},
    {"ReduceLogSumExp", 1, 2, 1, 1},
    {"ReduceMax", 1, 2, 1, 1},
    {"ReduceMean", 1, 2, 1, 1},
    {"ReduceMin", 1, 2, 1, 1},
    {"ReduceProd", 1, 2, 1, 1},
    {"ReduceSum", 1, 2, 1, 1},
    {"ReduceSumSquare", 1, 2, 1, 1},
    {"Relu", 1, 1, 1, 1},
    {"Reshape", 1, 2, 1, 1},
    {"Resize", 1, 4, 1, 1},
    {"ReverseSequence", 2, 2, 1, 1},
    {"RoiAlign", 3, 3, 1, 1},
    {"Round", 1, 1, 1, 1},
    {"Scan", 1, kV, 1, kV},
    {"ScatterElements", 3, 3, 1, 1},
    {"ScatterND", 3, 3, 1, 1},
    {"Selu", 1, 1, 1, 1},
    {"Shape", 1, 1, 1, 1},
    {"Shrink", 1, 1, 1, 1},
    {"Sigmoid", 1, 1, 1, 1},
    {"Sign", 1, 1, 1, 1},
    {"Sin", 1, 1, 1, 1},
    {"Sinh", 1, 1, 1, 1},
    {"Size", 1, 1, 1, 1},
    {"Slice", 1, 5, 1, 1},
    {"Softmax", 1, 1, 1, 1},
    {"Softplus", 1, 1, 1, 1},
    {"Softsign", 1, 1, 1, 1},
    {"SpaceToDepth", 1, 1, 1, 1},
    {"Split", 1, 2, 1, kV},
    {"Sqrt", 1, 1, 1, 1},
    {"Squeeze", 1, 2, 1, 1},
    {"Sub", 2, 2, 1, 1},
    {"Sum", 1, kV, 1, 1},
    {"Tan", 1, 1, 1, 1},
    {"Tanh", 1, 1, 1, 1},
    {"ThresholdedRelu", 1, 1, 1, 1},
    {"Tile", 2, 3, 1, 1},
    {"TopK", 1, 2, 2, 2},
    {"Transpose", 1, 1, 1, 1},
    {"Trilu", 1, 2, 1, 1},
    {"Unsqueeze", 1, 2, 1, 1},
    {"Upsample", 1, 2, 1, 1},
    {"Where", 3, 3, 1, 1},
    {"Xor", 2, 2, 1, 1},
};

constexpr bool schemas_sorted() {
  for (size_t i = 1; i < std::size(kSchemas); ++i)
    if (!(kSchemas[i - 1].op_type < kSchemas[i].op_type)) return false;
  return true;
}
static_assert(schemas_sorted(), "kSchemas must be sorted by op_type, without duplicates");

// Attribute names whose type is the same in every default-domain op that has them. Names whose
// type differs between ops ("value", "bias", "scale", "min", "max", ...) are left out.
constexpr std::pair<std::string_view, AttrType> kAttrTypes[] = {
    {"activations", AttrType::kStrings},
    {"allowzero", AttrType::kInt},
    {"alpha", AttrType::kFloat},
    {"approximate", AttrType::kString},
    {"auto_pad", AttrType::kString},
    {"axes", AttrType::kInts},
    {"axis", AttrType::kInt},
    {"batch_dims", AttrType::kInt},
    {"beta", AttrType::kFloat},
    {"block_size", AttrType::kInt},
    {"blocksize", AttrType::kInt},
    {"body", AttrType::kGraph},
    {"ceil_mode", AttrType::kInt},
    {"center_point_box", AttrType::kInt},
    {"consumed_inputs", AttrType::kInts},
    {"coordinate_transformation_mode", AttrType::kString},
    {"count_include_pad", AttrType::kInt},
    {"cubic_coeff_a", AttrType::kFloat},
    {"dilations", AttrType::kInts},
    {"direction", AttrType::kString},
    {"else_branch", AttrType::kGraph},
    {"ends", AttrType::kInts},
    {"epsilon", AttrType::kFloat},
    {"equation", AttrType::kString},
    {"exclude_outside", AttrType::kInt},
    {"exclusive", AttrType::kInt},
    {"fmod", AttrType::kInt},
    {"gamma", AttrType::kFloat},
    {"group", AttrType::kInt},
    {"hidden_size", AttrType::kInt},
    {"keepdims", AttrType::kInt},
    {"kernel_shape", AttrType::kInts},
    {"largest", AttrType::kInt},
    {"momentum", AttrType::kFloat},
    {"nearest_mode", AttrType::kString},
    {"noop_with_empty_axes", AttrType::kInt},
    {"output_padding", AttrType::kInts},
    {"output_shape", AttrType::kInts},
    {"pads", AttrType::kInts},
    {"perm", AttrType::kInts},
    {"reduction", AttrType::kString},
    {"reverse", AttrType::kInt},
    {"saturate", AttrType::kInt},
    {"select_last_index", AttrType::kInt},
    {"sorted", AttrType::kInt},
    {"split", AttrType::kInts},
    {"starts", AttrType::kInts},
    {"storage_order", AttrType::kInt},
    {"strides", AttrType::kInts},
    {"then_branch", AttrType::kGraph},
    {"transA", AttrType::kInt},
    {"transB", AttrType::kInt},
};

constexpr bool attr_types_sorted() {
  for (size_t i = 1; i < std::size(kAttrTypes); ++i)
    if (!(kAttrTypes[i - 1].first < kAttrTypes[i].first)) return false;
  return true;
}
static_assert(attr_types_sorted(), "kAttrTypes must be sorted by name, without duplicates");

}  // namespace

bool is_default_domain(std::string_view domain) { return domain.empty() || domain == "ai.onnx"; }

const OpSchema* find_op_schema(std::string_view domain, std::string_view op_type) {
  if (!is_default_domain(domain)) return nullptr;
  const auto* end = std::end(kSchemas);
  const auto* it = std::lower_bound(std::begin(kSchemas), end, op_type,
                                    [](const OpSchema& s, std::string_view v) { return s.op_type < v; });
  return it != end && it->op_type == op_type ? it : nullptr;
}

AttrType expected_attr_type(std::string_view attr_name) {
  const auto* end = std::end(kAttrTypes);
  const auto* it = std::lower_bound(std::begin(kAttrTypes), end, attr_name,
                                    [](const auto& row, std::string_view v) { return row.first < v; });
  return it != end && it->first == attr_name ? it->second : AttrType::kUndefined;
}

size_t op_schema_count() { return std::size(kSchemas); }

}  // namespace bitsmith
