// Reductions: ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2,
// ReduceLogSum, ReduceLogSumExp, ReduceSumSquare; ArgMax / ArgMin; CumSum.
//
// Reduce axes come from the `axes` attribute, or from input 1 for ReduceSum at opset >= 13 and
// every Reduce op at opset >= 18. Empty axes reduce everything unless noop_with_empty_axes = 1
// (then the input passes through). Negative axes count from the back; keepdims (default 1) keeps
// reduced dims as 1.
// Fast path: when the reduced dims form one contiguous block (size-1 dims ignored) the input is
// [outer, red, inner] and outputs are computed in blocks over threads, each output accumulating
// its inputs in the same order as reduce_ref() (so the bytes match it); other axis sets run
// reduce_ref(). f16/bf16 are computed in f32.
#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/kernels/dispatch.h"
#include "runtime/kernels/eltwise_common.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/ref/reduce_ref.h"

namespace bitsmith::kernels::elt {

namespace {

struct NamedReduce {
  const char* op_type;
  ReduceOp op;
};
constexpr NamedReduce kReduceOps[] = {
    {"ReduceSum", ReduceOp::kSum},         {"ReduceMean", ReduceOp::kMean},
    {"ReduceMax", ReduceOp::kMax},         {"ReduceMin", ReduceOp::kMin},
    {"ReduceProd", ReduceOp::kProd},       {"ReduceL1", ReduceOp::kL1},
    {"ReduceL2", ReduceOp::kL2},           {"ReduceLogSum", ReduceOp::kLogSum},
    {"ReduceLogSumExp", ReduceOp::kLogSumExp}, {"ReduceSumSquare", ReduceOp::kSumSquare},
};

// acc[j] = add(acc[j], xo[k * inner + j]) for k in [0, red), j in [0, w): the op fixed at compile
// time so the inner loop vectorizes across j.
template <class T, ReduceOp kOp>
void accumulate(typename Reducer<T>::Acc* __restrict acc, const T* xo, int64_t red, int64_t inner, int64_t w,
                const typename Reducer<T>::Acc* __restrict shift) {
  if (w == 1) {  // one output: a register accumulator over a strided (usually contiguous) run
    typename Reducer<T>::Acc a = acc[0];
    const typename Reducer<T>::Acc sh = shift[0];
    for (int64_t k = 0; k < red; ++k) a = Reducer<T>::template add_as<kOp>(a, xo[k * inner], sh);
    acc[0] = a;
    return;
  }
  for (int64_t k = 0; k < red; ++k) {
    const T* xk = xo + k * inner;
    for (int64_t j = 0; j < w; ++j) acc[j] = Reducer<T>::template add_as<kOp>(acc[j], xk[j], shift[j]);
  }
}

template <class T>
void accumulate_op(ReduceOp op, typename Reducer<T>::Acc* acc, const T* xo, int64_t red, int64_t inner, int64_t w,
                   const typename Reducer<T>::Acc* shift) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kMean:
    case ReduceOp::kLogSum: return accumulate<T, ReduceOp::kSum>(acc, xo, red, inner, w, shift);
    case ReduceOp::kMax: return accumulate<T, ReduceOp::kMax>(acc, xo, red, inner, w, shift);
    case ReduceOp::kMin: return accumulate<T, ReduceOp::kMin>(acc, xo, red, inner, w, shift);
    case ReduceOp::kProd: return accumulate<T, ReduceOp::kProd>(acc, xo, red, inner, w, shift);
    case ReduceOp::kL1: return accumulate<T, ReduceOp::kL1>(acc, xo, red, inner, w, shift);
    case ReduceOp::kL2:
    case ReduceOp::kSumSquare: return accumulate<T, ReduceOp::kSumSquare>(acc, xo, red, inner, w, shift);
    case ReduceOp::kLogSumExp: return accumulate<T, ReduceOp::kLogSumExp>(acc, xo, red, inner, w, shift);
  }
}

// Reduction of x viewed as [outer, red, inner] along red; y is [outer, inner].
template <class T>
void reduce_blocked(ReduceOp op, const T* x, int64_t outer, int64_t red, int64_t inner, T* y, int threads) {
  using Acc = typename Reducer<T>::Acc;
  const Reducer<T> r{op};
  // Each block covers whole outputs: a range of outer indices, or (outer == 1) of inner indices.
  const bool split_inner = outer == 1;
  const int64_t units = split_inner ? inner : outer;
  const int64_t unit_size = split_inner ? red : red * inner;
  const int64_t per_block = std::max<int64_t>(1, kEltBlock / std::max<int64_t>(unit_size, 1));
  parallel_blocks(units, per_block, threads, [&](int64_t b, int64_t e) {
    const int64_t o0 = split_inner ? 0 : b, o1 = split_inner ? 1 : e;
    const int64_t j0 = split_inner ? b : 0, j1 = split_inner ? e : inner;
    const int64_t w = j1 - j0;
    std::vector<Acc> acc(static_cast<size_t>(w)), shift(static_cast<size_t>(w), Acc(0));
    for (int64_t o = o0; o < o1; ++o) {
      const T* xo = x + o * red * inner + j0;
      if (op == ReduceOp::kLogSumExp) {
        std::fill(acc.begin(), acc.end(), Reducer<T>{ReduceOp::kMax}.init());
        accumulate_op<T>(ReduceOp::kMax, acc.data(), xo, red, inner, w, shift.data());
        for (int64_t j = 0; j < w; ++j) shift[j] = std::isfinite(static_cast<double>(acc[j])) ? acc[j] : Acc(0);
      }
      std::fill(acc.begin(), acc.end(), r.init());
      accumulate_op<T>(op, acc.data(), xo, red, inner, w, shift.data());
      for (int64_t j = 0; j < w; ++j) y[o * inner + j0 + j] = r.finish(acc[j], red, shift[j]);
    }
  });
}

class ReduceKernel final : public OpKernel {
 public:
  ReduceKernel(ReduceOp op, bool axes_from_input, std::vector<int64_t> attr_axes, bool keepdims, bool noop_empty)
      : op_(op), axes_input_(axes_from_input), attr_axes_(std::move(attr_axes)), keepdims_(keepdims),
        noop_empty_(noop_empty) {}

  Status compute(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("input 0 is missing");
    std::vector<int64_t> axes = attr_axes_;
    if (axes_input_ && ctx.input(1)) {
      std::optional<std::vector<int64_t>> v = int_values(*ctx.input(1));
      if (!v) return ctx.error("axes input must be int64, got " + std::string(dtype_name(ctx.input(1)->dtype())));
      axes = *v;
    }
    if (axes.empty() && noop_empty_) {
      ctx.outputs[0] = *x;
      return Status::ok();
    }
    const int rank = x->rank();
    std::vector<bool> reduce(rank, axes.empty());
    for (int64_t a : axes) {
      std::optional<int> d = normalize_axis(a, rank);
      if (!d) return ctx.error("axis " + std::to_string(a) + " is out of range for input shape " + shape_str(x->shape()));
      reduce[*d] = true;
    }
    Shape y_shape;
    for (int d = 0; d < rank; ++d)
      if (!reduce[d] || keepdims_) y_shape.push_back(reduce[d] ? 1 : x->dim(d));
    const DType dt = x->dtype();
    const Tensor xs = widen_to_f32(*x);
    Status s = dispatch_numeric(xs.dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      if constexpr (!std::is_floating_point_v<T>) {
        if (op_ == ReduceOp::kLogSumExp) return ctx.unsupported_error("ReduceLogSumExp needs float inputs");
      }
      Tensor y(xs.dtype(), y_shape);
      run(xs.data<T>(), x->shape(), reduce, y.mutable_data<T>(), ctx.num_threads);
      ctx.outputs[0] = is_half_dtype(dt) ? narrow_from_f32(y, dt) : y;
      return Status::ok();
    });
    return s.with_context(ctx.node.describe());
  }

 private:
  template <class T>
  void run(const T* x, const Shape& shape, const std::vector<bool>& reduce, T* y, int threads) const {
    // Find [first, last] reduced dims of size > 1 and check no kept dim > 1 lies between them.
    const int rank = static_cast<int>(shape.size());
    int first = -1, last = -1;
    bool contiguous = true;
    for (int d = 0; d < rank; ++d) {
      if (!reduce[d] || shape[d] == 1) continue;
      if (first < 0) first = d;
      for (int k = last + 1; last >= 0 && k < d; ++k)
        if (!reduce[k] && shape[k] != 1) contiguous = false;
      last = d;
    }
    if (!contiguous) return reduce_ref(op_, x, shape, reduce, y);
    if (first < 0) first = last = rank;  // nothing of size > 1 is reduced
    const int64_t outer = dims_product(shape, 0, first);
    const int64_t red = first < rank ? dims_product(shape, first, last + 1) : 1;
    const int64_t inner = first < rank ? dims_product(shape, last + 1, rank) : 1;
    // Reduced dims of size 0 outside [first, last] make the count 0; keep reduce_ref's count.
    int64_t count = 1;
    for (int d = 0; d < rank; ++d)
      if (reduce[d]) count *= shape[d];
    if (count != red) return reduce_ref(op_, x, shape, reduce, y);
    reduce_blocked(op_, x, outer, red, inner, y, threads);
  }

  ReduceOp op_;
  bool axes_input_;
  std::vector<int64_t> attr_axes_;
  bool keepdims_;
  bool noop_empty_;
};

// ---- ArgMax / ArgMin ----

class ArgKernel final : public OpKernel {
 public:
  ArgKernel(bool is_max, int64_t axis, bool keepdims, bool last)
      : max_(is_max), axis_(axis), keepdims_(keepdims), last_(last) {}

  Status compute(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("input 0 is missing");
    const Shape& shape = x->shape();
    std::optional<int> axis = normalize_axis(axis_, x->rank());
    if (!axis) return ctx.error("axis " + std::to_string(axis_) + " is out of range for input shape " + shape_str(shape));
    const int64_t n = shape[*axis];
    if (n == 0) return ctx.error("cannot take the arg-extreme of an empty axis");
    const int64_t outer = dims_product(shape, 0, *axis);
    const int64_t inner = dims_product(shape, *axis + 1, x->rank());
    Shape y_shape = shape;
    if (keepdims_) y_shape[*axis] = 1;
    else y_shape.erase(y_shape.begin() + *axis);
    const Tensor xs = widen_to_f32(*x);
    Tensor& y = alloc_output(ctx, 0, DType::kI64, y_shape);
    int64_t* ys = y.mutable_data<int64_t>();
    Status s = dispatch_numeric(xs.dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      const T* xp = xs.data<T>();
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t j = 0; j < inner; ++j) {
          const T* v = xp + o * n * inner + j;
          int64_t best = 0;
          for (int64_t k = 1; k < n; ++k) {
            const T a = v[k * inner], b = v[best * inner];
            const bool better = max_ ? (last_ ? a >= b : a > b) : (last_ ? a <= b : a < b);
            if (better) best = k;
          }
          ys[o * inner + j] = best;
        }
      }
      return Status::ok();
    });
    return s.with_context(ctx.node.describe());
  }

 private:
  bool max_;
  int64_t axis_;
  bool keepdims_, last_;
};

// ---- CumSum ----

class CumSumKernel final : public OpKernel {
 public:
  CumSumKernel(bool exclusive, bool reverse) : exclusive_(exclusive), reverse_(reverse) {}

  Status compute(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    const Tensor* axis_t = ctx.input(1);
    if (!x || !axis_t) return ctx.error("expects inputs x and axis");
    std::optional<std::vector<int64_t>> av = int_values(*axis_t);
    if (!av || av->size() != 1)
      return ctx.error("axis must be an int32/int64 scalar, got " + std::string(dtype_name(axis_t->dtype())) + " " +
                       shape_str(axis_t->shape()));
    const Shape& shape = x->shape();
    std::optional<int> axis = normalize_axis((*av)[0], x->rank());
    if (!axis) return ctx.error("axis " + std::to_string((*av)[0]) + " is out of range for shape " + shape_str(shape));
    const int64_t n = shape[*axis];
    const int64_t outer = dims_product(shape, 0, *axis);
    const int64_t inner = dims_product(shape, *axis + 1, x->rank());
    const DType dt = x->dtype();
    const Tensor xs = widen_to_f32(*x);
    Status s = dispatch_numeric(xs.dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      Tensor y(xs.dtype(), shape);
      const T* xp = xs.data<T>();
      T* yp = y.mutable_data<T>();
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t j = 0; j < inner; ++j) {
          T acc = T(0);
          for (int64_t step = 0; step < n; ++step) {
            const int64_t k = reverse_ ? n - 1 - step : step;
            const int64_t at = (o * n + k) * inner + j;
            if (exclusive_) {
              yp[at] = acc;
              acc = wrap_add(acc, xp[at]);
            } else {
              acc = wrap_add(acc, xp[at]);
              yp[at] = acc;
            }
          }
        }
      }
      ctx.outputs[0] = is_half_dtype(dt) ? narrow_from_f32(y, dt) : y;
      return Status::ok();
    });
    return s.with_context(ctx.node.describe());
  }

 private:
  bool exclusive_, reverse_;
};

}  // namespace

}  // namespace bitsmith::kernels::elt

namespace bitsmith::kernels {

using namespace elt;  // this file's kernels (factories below are declared in kernels.h)

Expected<std::unique_ptr<OpKernel>> elt_reduce_factory(const KernelInfo& info) {
  const Node& node = info.node;
  for (const NamedReduce& r : kReduceOps) {
    if (node.op_type != r.op_type) continue;
    const bool axes_input = info.opset >= 18 || (r.op == ReduceOp::kSum && info.opset >= 13);
    return std::unique_ptr<OpKernel>(new ReduceKernel(r.op, axes_input, node.attr_ints("axes"),
                                                      node.attr_int("keepdims", 1) != 0,
                                                      node.attr_int("noop_with_empty_axes", 0) != 0));
  }
  return unsupported(node.describe() + ": not a reduce op");
}

Expected<std::unique_ptr<OpKernel>> elt_argminmax_factory(const KernelInfo& info) {
  const Node& node = info.node;
  if (node.op_type != "ArgMax" && node.op_type != "ArgMin")
    return unsupported(node.describe() + ": not ArgMax/ArgMin");
  return std::unique_ptr<OpKernel>(new ArgKernel(node.op_type == "ArgMax", node.attr_int("axis", 0),
                                                 node.attr_int("keepdims", 1) != 0,
                                                 node.attr_int("select_last_index", 0) != 0));
}

Expected<std::unique_ptr<OpKernel>> elt_cumsum_factory(const KernelInfo& info) {
  return std::unique_ptr<OpKernel>(
      new CumSumKernel(info.node.attr_int("exclusive", 0) != 0, info.node.attr_int("reverse", 0) != 0));
}

}  // namespace bitsmith::kernels
