// Constant (every value_* attribute, sparse_value densified) and ConstantOfShape.
//
// Both parse their attributes once at load time. Constant's output shares the attribute's
// storage (outputs are never written by consumers).
#include <algorithm>

#include "runtime/kernels/kernels.h"
#include "runtime/kernels/shape_common.h"

namespace bitsmith::kernels {

using namespace movement;  // NOLINT(google-build-using-namespace): this group's helpers
namespace {

class ValueKernel final : public OpKernel {
 public:
  explicit ValueKernel(Tensor value) : value_(std::move(value)) {}
  Status compute(KernelContext& ctx) override {
    set_output(ctx, 0, value_);
    return Status::ok();
  }

 private:
  Tensor value_;
};

// Dense tensor from a SparseTensorProto: indices are linear [NNZ] or coordinates [NNZ, rank].
Expected<Tensor> densify(const SparseTensor& sp) {
  const Shape dims(sp.dims.begin(), sp.dims.end());
  BS_TRY(check_shape(dims, "sparse_value dims"));
  const Tensor& vals = sp.values;
  const int64_t nnz = vals.numel();
  if (sp.indices.dtype() != DType::kI64)
    return invalid_model("sparse_value indices must be int64");
  const int64_t rank = static_cast<int64_t>(dims.size());
  const bool linear = sp.indices.rank() == 1;
  if (!(linear && sp.indices.dim(0) == nnz) &&
      !(sp.indices.rank() == 2 && sp.indices.dim(0) == nnz && sp.indices.dim(1) == rank))
    return invalid_model("sparse_value indices shape " + shape_str(sp.indices.shape()) +
                         " does not match " + std::to_string(nnz) + " values of rank " + std::to_string(rank));
  const std::vector<int64_t> strides = shape_strides(dims);
  const int64_t numel = shape_numel(dims);
  const int64_t* idx = sp.indices.data<int64_t>();
  Tensor out(vals.dtype(), dims);
  Status s = dispatch_by_size(vals.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* src = elems<T>(vals);
    T* dst = mutable_elems<T>(out);
    for (int64_t i = 0; i < nnz; ++i) {
      int64_t flat = 0;
      if (linear) {
        flat = idx[i];
      } else {
        for (int64_t d = 0; d < rank; ++d) {
          const int64_t c = idx[i * rank + d];
          if (c < 0 || c >= dims[d]) return invalid_model("sparse_value index out of range");
          flat += c * strides[d];
        }
      }
      if (flat < 0 || flat >= numel) return invalid_model("sparse_value index out of range");
      dst[flat] = src[i];
    }
    return Status::ok();
  });
  BS_TRY(s);
  return out;
}

Expected<Tensor> constant_value(const Node& node) {
  const Attribute* found = nullptr;
  for (const Attribute& a : node.attributes) {
    if (a.name.rfind("value", 0) != 0 && a.name != "sparse_value") continue;
    if (found) return invalid_model("has more than one value attribute ('" + found->name + "', '" + a.name + "')");
    found = &a;
  }
  if (!found) return invalid_model("has no value attribute");
  const Attribute& a = *found;
  if (a.name == "value" && a.type == AttrType::kTensor) return a.t;
  if (a.name == "sparse_value" && a.type == AttrType::kSparseTensor) return densify(a.sparse_tensor);
  if (a.name == "value_float" && a.type == AttrType::kFloat) return Tensor::scalar<float>(a.f);
  if (a.name == "value_int" && a.type == AttrType::kInt) return Tensor::scalar<int64_t>(a.i);
  if (a.name == "value_floats" && a.type == AttrType::kFloats)
    return Tensor::from_vector<float>(a.floats, {static_cast<int64_t>(a.floats.size())});
  if (a.name == "value_ints" && a.type == AttrType::kInts)
    return Tensor::from_vector<int64_t>(a.ints, {static_cast<int64_t>(a.ints.size())});
  if (a.name == "value_string" && a.type == AttrType::kString) return Tensor::strings({}, {a.s});
  if (a.name == "value_strings" && a.type == AttrType::kStrings)
    return Tensor::strings({static_cast<int64_t>(a.strings.size())}, a.strings);
  return invalid_model("attribute '" + a.name + "' of type " + attr_type_name(a.type) + " is not a Constant value");
}

class ConstantOfShapeKernel final : public OpKernel {
 public:
  explicit ConstantOfShapeKernel(Tensor value) : value_(std::move(value)) {}
  Status compute(KernelContext& ctx) override {
    BS_ASSIGN_OR_RETURN(const Tensor* shape_t, required_input(ctx, 0, "input"));
    if (shape_t->rank() != 1) return ctx.error("shape input must be 1-d, got " + shape_str(shape_t->shape()));
    BS_ASSIGN_OR_RETURN(std::vector<int64_t> dims, with_node(ctx, read_int_list(*shape_t, "shape")));
    BS_TRY(with_node(ctx, check_shape(dims, "output shape")));
    Tensor& out = alloc_output(ctx, 0, value_.dtype(), dims);
    return dispatch_by_size(value_.dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      std::fill_n(mutable_elems<T>(out), out.numel(), elems<T>(value_)[0]);
      return Status::ok();
    });
  }

 private:
  Tensor value_;  // one element
};

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_constant(const KernelInfo& info) {
  Expected<Tensor> v = constant_value(info.node);
  if (!v) return v.status().with_context(info.node.describe());
  return std::unique_ptr<OpKernel>(new ValueKernel(std::move(v).value()));
}

Expected<std::unique_ptr<OpKernel>> make_constant_of_shape(const KernelInfo& info) {
  Tensor value = Tensor::scalar<float>(0.f);
  if (const Attribute* a = info.node.find_attr("value")) {
    if (a->type != AttrType::kTensor || a->t.numel() != 1)
      return invalid_model(info.node.describe() + ": 'value' must be a tensor with one element");
    value = a->t;
  }
  if (is_sub_byte(value.dtype()) || value.dtype() == DType::kUndefined)
    return unsupported(info.node.describe() + ": value dtype " + std::string(dtype_name(value.dtype())));
  return std::unique_ptr<OpKernel>(new ConstantOfShapeKernel(std::move(value)));
}

}  // namespace bitsmith::kernels
