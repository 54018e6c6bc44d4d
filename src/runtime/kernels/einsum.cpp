// Einsum: equation parsing, the fast path for two operands that form a batched matrix product
// (transpose both to [batch, m, k] x [batch, k, n], multiply, transpose the result), and the
// kernel. Every other form (one operand, three or more, repeated letters, broadcast ellipsis
// dims, letters summed inside one operand) runs the general loop nest in ref/einsum_ref.cpp.
//
// Accumulation: floats in the element type, in k order (bit-identical for any thread count);
// integers wrap modulo 2^bits. f16/bf16 are computed in f32.
#include <algorithm>
#include <type_traits>

#include "runtime/kernels/dispatch.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/shape_common.h"

namespace bitsmith::kernels {

using namespace movement;  // NOLINT(google-build-using-namespace): this group's helpers
namespace {

constexpr int kEllipsisBase = 52;

int letter_id(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return 26 + (c - 'A');
  return -1;
}

// Letter ids of one term; `ell_at` is where "..." sits among them (-1: none).
Expected<std::vector<int>> parse_term(const std::string& term, int& ell_at) {
  std::vector<int> ids;
  ell_at = -1;
  for (size_t i = 0; i < term.size(); ++i) {
    if (term.compare(i, 3, "...") == 0) {
      if (ell_at >= 0) return invalid_model("term \"" + term + "\" has two ellipses");
      ell_at = static_cast<int>(ids.size());
      i += 2;
      continue;
    }
    const int id = letter_id(term[i]);
    if (id < 0) return invalid_model("term \"" + term + "\" has an invalid character '" + term[i] + "'");
    ids.push_back(id);
  }
  return ids;
}

std::vector<int> with_ellipsis(const std::vector<int>& ids, int ell_at, int ell_first, int ell_count) {
  if (ell_at < 0) return ids;
  std::vector<int> out(ids.begin(), ids.begin() + ell_at);
  for (int j = 0; j < ell_count; ++j) out.push_back(kEllipsisBase + ell_first + j);
  out.insert(out.end(), ids.begin() + ell_at, ids.end());
  return out;
}

}  // namespace

Expected<EinsumSpec> parse_einsum(const std::string& equation, const std::vector<Shape>& shapes) {
  std::string eq;
  for (char c : equation)
    if (c != ' ') eq += c;
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<std::string> terms(1);
  for (char c : lhs) {
    if (c == ',') terms.emplace_back();
    else terms.back() += c;
  }
  if (terms.size() != shapes.size())
    return invalid_model("equation \"" + equation + "\" has " + std::to_string(terms.size()) + " terms for " +
                         std::to_string(shapes.size()) + " inputs");
  std::vector<std::vector<int>> ids(terms.size());
  std::vector<int> ell_at(terms.size());
  int ell_rank = 0;
  for (size_t t = 0; t < terms.size(); ++t) {
    BS_ASSIGN_OR_RETURN(ids[t], parse_term(terms[t], ell_at[t]));
    const int extra = static_cast<int>(shapes[t].size()) - static_cast<int>(ids[t].size());
    if (extra < 0 || (extra > 0 && ell_at[t] < 0))
      return invalid_model("term \"" + terms[t] + "\" does not match input shape " + shape_str(shapes[t]));
    ell_rank = std::max(ell_rank, extra);
  }
  EinsumSpec spec;
  spec.sizes.assign(kEllipsisBase + ell_rank, -1);
  std::vector<int> count(kEllipsisBase + ell_rank, 0);
  for (size_t t = 0; t < terms.size(); ++t) {
    const int extra = static_cast<int>(shapes[t].size() - ids[t].size());
    spec.inputs.push_back(with_ellipsis(ids[t], ell_at[t], ell_rank - extra, extra));
    for (size_t d = 0; d < shapes[t].size(); ++d) {
      const int id = spec.inputs[t][d];
      const int64_t n = shapes[t][d];
      int64_t& s = spec.sizes[id];
      ++count[id];
      if (s < 0 || s == n) s = n;
      else if (id >= kEllipsisBase && (s == 1 || n == 1)) s = std::max(s, n);
      else return invalid_model("equation \"" + equation + "\": dimension sizes " + std::to_string(s) + " and " +
                                std::to_string(n) + " disagree for one label");
    }
  }
  if (arrow == std::string::npos) {
    for (int j = 0; j < ell_rank; ++j) spec.output.push_back(kEllipsisBase + j);
    for (const char* c = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"; *c; ++c)
      if (count[letter_id(*c)] == 1) spec.output.push_back(letter_id(*c));
  } else {
    int out_ell = -1;
    BS_ASSIGN_OR_RETURN(std::vector<int> out_ids, parse_term(eq.substr(arrow + 2), out_ell));
    spec.output = with_ellipsis(out_ids, out_ell, 0, ell_rank);
    std::vector<bool> seen(spec.sizes.size(), false);
    for (int id : spec.output) {
      if (spec.sizes[id] < 0) return invalid_model("equation \"" + equation + "\": output label not in any input");
      if (seen[id]) return invalid_model("equation \"" + equation + "\": output label repeated");
      seen[id] = true;
    }
  }
  return spec;
}

namespace {

// The letters of a two-operand contraction sorted into batch / m / n / k groups, or nullopt when
// the form is not a plain batched matrix product.
struct GemmPlan {
  std::vector<int> batch, m, n, k;
};

std::optional<GemmPlan> gemm_plan(const EinsumSpec& s, const std::vector<const Tensor*>& ins) {
  if (s.inputs.size() != 2) return std::nullopt;
  const std::vector<int>& a = s.inputs[0];
  const std::vector<int>& b = s.inputs[1];
  auto has = [](const std::vector<int>& v, int id) { return std::find(v.begin(), v.end(), id) != v.end(); };
  for (int t = 0; t < 2; ++t) {
    const std::vector<int>& v = s.inputs[t];
    for (size_t d = 0; d < v.size(); ++d) {
      if (std::count(v.begin(), v.end(), v[d]) != 1) return std::nullopt;            // diagonal
      if (ins[t]->shape()[d] != s.sizes[v[d]]) return std::nullopt;                  // broadcast
      if (!has(s.output, v[d]) && !has(s.inputs[1 - t], v[d])) return std::nullopt;  // one-sided sum
    }
  }
  GemmPlan p;
  for (int id : s.output) {
    if (has(a, id) && has(b, id)) p.batch.push_back(id);
    else if (has(a, id)) p.m.push_back(id);
    else p.n.push_back(id);
  }
  for (int id : a)
    if (!has(s.output, id)) p.k.push_back(id);
  return p;
}

// Permutation that orders `dims` as `order` (every id of order present in dims).
std::vector<int64_t> perm_for(const std::vector<int>& dims, const std::vector<int>& order) {
  std::vector<int64_t> perm;
  for (int id : order) perm.push_back(std::find(dims.begin(), dims.end(), id) - dims.begin());
  return perm;
}

int64_t product(const EinsumSpec& s, const std::vector<int>& ids) {
  int64_t p = 1;
  for (int id : ids) p *= s.sizes[id];
  return p;
}

template <class T>
void batched_gemm(const T* a, const T* b, T* c, int64_t nb, int64_t m, int64_t n, int64_t k, int threads) {
  using Acc = std::conditional_t<std::is_integral_v<T>, uint64_t, T>;  // integers wrap
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < nb * m; ++r) {
    const int64_t bi = r / m;
    const T* ar = a + r * k;
    const T* bb = b + bi * k * n;
    std::vector<Acc> acc(n, Acc(0));
    for (int64_t kk = 0; kk < k; ++kk) {
      const Acc av = static_cast<Acc>(ar[kk]);
      const T* brow = bb + kk * n;
      for (int64_t j = 0; j < n; ++j) acc[j] += av * static_cast<Acc>(brow[j]);
    }
    for (int64_t j = 0; j < n; ++j) c[r * n + j] = static_cast<T>(acc[j]);
  }
}

Status einsum_gemm(const EinsumSpec& s, const GemmPlan& p, const std::vector<const Tensor*>& ins, Tensor& out,
                   int num_threads) {
  std::vector<int> a_order = p.batch, b_order = p.batch, c_order = p.batch;
  a_order.insert(a_order.end(), p.m.begin(), p.m.end());
  a_order.insert(a_order.end(), p.k.begin(), p.k.end());
  b_order.insert(b_order.end(), p.k.begin(), p.k.end());
  b_order.insert(b_order.end(), p.n.begin(), p.n.end());
  c_order.insert(c_order.end(), p.m.begin(), p.m.end());
  c_order.insert(c_order.end(), p.n.begin(), p.n.end());
  Tensor a, b;
  BS_TRY(transpose_fast(*ins[0], perm_for(s.inputs[0], a_order), a, num_threads));
  BS_TRY(transpose_fast(*ins[1], perm_for(s.inputs[1], b_order), b, num_threads));
  Shape c_shape;
  for (int id : c_order) c_shape.push_back(s.sizes[id]);
  Tensor c(ins[0]->dtype(), c_shape);
  const int64_t nb = product(s, p.batch), m = product(s, p.m), n = product(s, p.n), k = product(s, p.k);
  const int threads = threads_for(nb * m * n * k * 4, num_threads);
  BS_TRY(dispatch_numeric(c.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    batched_gemm<T>(a.data<T>(), b.data<T>(), c.mutable_data<T>(), nb, m, n, k, threads);
    return Status::ok();
  }));
  std::vector<int64_t> inverse = perm_for(c_order, s.output);
  return transpose_fast(c, inverse, out, num_threads);
}

}  // namespace

Status einsum_fast(const std::string& equation, const std::vector<const Tensor*>& inputs, Tensor& out,
                   int num_threads) {
  std::vector<Shape> shapes;
  for (const Tensor* t : inputs) shapes.push_back(t->shape());
  BS_ASSIGN_OR_RETURN(EinsumSpec spec, parse_einsum(equation, shapes));
  std::optional<GemmPlan> plan = gemm_plan(spec, inputs);
  if (!plan) return einsum_ref(equation, inputs, out);
  return einsum_gemm(spec, *plan, inputs, out, num_threads);
}

namespace {

Status einsum_compute(KernelContext& ctx) {
  const std::string equation = ctx.node.attr_string("equation", "");
  if (equation.empty()) return ctx.error("attribute 'equation' is required");
  std::vector<const Tensor*> ins;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    BS_ASSIGN_OR_RETURN(const Tensor* t, required_input(ctx, i, "Inputs"));
    if (t->dtype() != ctx.input(0)->dtype()) return ctx.error("inputs must share one dtype");
    ins.push_back(t);
  }
  if (ins.empty()) return ctx.error("needs at least one input");
  const DType dtype = ins[0]->dtype();
  Tensor out;
  if (dtype == DType::kF16 || dtype == DType::kBF16) {  // computed in f32
    std::vector<Tensor> wide(ins.size());
    std::vector<const Tensor*> wide_ptrs;
    for (size_t i = 0; i < ins.size(); ++i) {
      BS_TRY(with_node(ctx, cast_tensor(*ins[i], DType::kF32, wide[i], ctx.num_threads)));
      wide_ptrs.push_back(&wide[i]);
    }
    Tensor out32;
    BS_TRY(with_node(ctx, einsum_fast(equation, wide_ptrs, out32, ctx.num_threads)));
    BS_TRY(with_node(ctx, cast_tensor(out32, dtype, out, ctx.num_threads)));
  } else {
    BS_TRY(with_node(ctx, einsum_fast(equation, ins, out, ctx.num_threads)));
  }
  set_output(ctx, 0, std::move(out));
  return Status::ok();
}

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_einsum(const KernelInfo&) { return make_fn_kernel(&einsum_compute); }

}  // namespace bitsmith::kernels
