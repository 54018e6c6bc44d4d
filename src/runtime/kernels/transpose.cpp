// Transpose: fast path (dimension collapsing, contiguous runs, 2-D tiles) and the kernel.
// The reference twin is ref/transpose_ref.cpp.
#include <algorithm>
#include <numeric>

#include "runtime/kernels/kernels.h"
#include "runtime/kernels/shape_common.h"

namespace bitsmith::kernels {

using namespace movement;  // NOLINT(google-build-using-namespace): this group's helpers
namespace {

constexpr int64_t kTile = 16;  // elements per tile side in the 2-D tiled transpose

// The same permutation over fewer dims: size-1 dims dropped and input dims that stay adjacent
// in the output merged.
struct Collapsed {
  Shape in_shape;
  std::vector<int64_t> perm;
};

Collapsed collapse(const Shape& shape, const std::vector<int64_t>& perm) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  std::vector<int64_t> new_index(rank, -1);
  int64_t kept = 0;
  for (int64_t d = 0; d < rank; ++d)
    if (shape[d] != 1) new_index[d] = kept++;
  std::vector<int64_t> p;  // perm over kept dims
  Shape s;
  for (int64_t d = 0; d < rank; ++d)
    if (shape[d] != 1) s.push_back(shape[d]);
  for (int64_t k = 0; k < rank; ++k)
    if (new_index[perm[k]] >= 0) p.push_back(new_index[perm[k]]);
  // Groups of consecutive output positions that read consecutive input dims.
  std::vector<std::pair<int64_t, int64_t>> groups;  // (first input dim, last input dim) in output order
  for (size_t k = 0; k < p.size(); ++k) {
    if (!groups.empty() && groups.back().second + 1 == p[k]) groups.back().second = p[k];
    else groups.push_back({p[k], p[k]});
  }
  std::vector<size_t> order(groups.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return groups[a].first < groups[b].first; });
  Collapsed c;
  c.perm.assign(groups.size(), 0);
  for (size_t rank_in = 0; rank_in < order.size(); ++rank_in) {
    const auto [first, last] = groups[order[rank_in]];
    int64_t n = 1;
    for (int64_t d = first; d <= last; ++d) n *= s[d];
    c.in_shape.push_back(n);
    c.perm[order[rank_in]] = static_cast<int64_t>(rank_in);
  }
  return c;
}

// Input offset of the output position given by multi-index `idx` over `dims` (output order,
// `skip` positions excluded from the decomposition are treated as 0).
int64_t decompose(int64_t flat, const std::vector<int64_t>& dims, const std::vector<int64_t>& in_strides) {
  int64_t off = 0;
  for (size_t d = dims.size(); d-- > 0;) {
    off += (flat % dims[d]) * in_strides[d];
    flat /= dims[d];
  }
  return off;
}

template <class T>
void transpose_runs(const T* in, T* out, const Collapsed& c, int threads) {
  // The last output dim is the last input dim: copy runs of `run` elements.
  const size_t r = c.perm.size();
  const int64_t run = c.in_shape[r - 1];
  const std::vector<int64_t> in_strides = shape_strides(c.in_shape);
  std::vector<int64_t> dims, strides;
  for (size_t k = 0; k + 1 < r; ++k) {
    dims.push_back(c.in_shape[c.perm[k]]);
    strides.push_back(in_strides[c.perm[k]]);
  }
  const int64_t outer = shape_numel(dims);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t o = 0; o < outer; ++o) {
    const int64_t off = decompose(o, dims, strides);
    std::copy_n(in + off, run, out + o * run);
  }
}

template <class T>
void transpose_tiled(const T* in, T* out, const Collapsed& c, int threads) {
  const size_t r = c.perm.size();
  const std::vector<int64_t> in_strides = shape_strides(c.in_shape);
  Shape out_shape(r);
  for (size_t k = 0; k < r; ++k) out_shape[k] = c.in_shape[c.perm[k]];
  const std::vector<int64_t> out_strides = shape_strides(out_shape);
  const size_t q = static_cast<size_t>(std::find(c.perm.begin(), c.perm.end(), static_cast<int64_t>(r - 1)) - c.perm.begin());
  const int64_t ni = out_shape[q];          // input's last dim (unit input stride)
  const int64_t nj = out_shape[r - 1];      // output's last dim (unit output stride)
  const int64_t in_sj = in_strides[c.perm[r - 1]];
  const int64_t out_si = out_strides[q];
  std::vector<int64_t> dims, in_s, out_s;  // the other output dims
  for (size_t k = 0; k + 1 < r; ++k) {
    if (k == q) continue;
    dims.push_back(out_shape[k]);
    in_s.push_back(in_strides[c.perm[k]]);
    out_s.push_back(out_strides[k]);
  }
  const int64_t outer = shape_numel(dims);
  const int64_t ti = (ni + kTile - 1) / kTile, tj = (nj + kTile - 1) / kTile;
  const int64_t tasks = outer * ti * tj;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t o = t / (ti * tj);
    const int64_t i0 = (t / tj) % ti * kTile, j0 = t % tj * kTile;
    const int64_t in_off = decompose(o, dims, in_s);
    const int64_t out_off = decompose(o, dims, out_s);
    const int64_t i1 = std::min(ni, i0 + kTile), j1 = std::min(nj, j0 + kTile);
    for (int64_t i = i0; i < i1; ++i) {
      T* dst = out + out_off + i * out_si;
      const T* src = in + in_off + i;
      for (int64_t j = j0; j < j1; ++j) dst[j] = src[j * in_sj];
    }
  }
}

}  // namespace

Status transpose_fast(const Tensor& in, const std::vector<int64_t>& perm, Tensor& out, int num_threads) {
  Shape out_shape(perm.size());
  for (size_t k = 0; k < perm.size(); ++k) out_shape[k] = in.shape()[perm[k]];
  out = in.dtype() == DType::kString ? Tensor(in.dtype(), out_shape)
                                     : Tensor::uninitialized(in.dtype(), out_shape);  // every element written below
  if (in.numel() == 0) return Status::ok();
  const Collapsed c = collapse(in.shape(), perm);
  const int threads = threads_for(in.numel() * elem_nbytes(in.dtype()), num_threads);
  return dispatch_by_size(in.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* src = elems<T>(in);
    T* dst = mutable_elems<T>(out);
    if (c.perm.size() <= 1) std::copy_n(src, in.numel(), dst);
    else if (c.perm.back() == static_cast<int64_t>(c.perm.size()) - 1) transpose_runs(src, dst, c, threads);
    else transpose_tiled(src, dst, c, threads);
    return Status::ok();
  });
}

namespace {

Status transpose_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* in, required_input(ctx, 0, "data"));
  const int64_t rank = in->rank();
  std::vector<int64_t> perm = ctx.node.attr_ints("perm");
  if (!ctx.node.find_attr("perm")) {
    perm.resize(rank);
    for (int64_t k = 0; k < rank; ++k) perm[k] = rank - 1 - k;
  }
  if (static_cast<int64_t>(perm.size()) != rank)
    return ctx.error("perm has " + std::to_string(perm.size()) + " entries for input shape " + shape_str(in->shape()));
  BS_ASSIGN_OR_RETURN(perm, with_node(ctx, normalize_axes(perm, rank, "perm entry")));
  Tensor out;
  BS_TRY(with_node(ctx, transpose_fast(*in, perm, out, ctx.num_threads)));
  set_output(ctx, 0, std::move(out));
  return Status::ok();
}

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_transpose(const KernelInfo&) { return make_fn_kernel(&transpose_compute); }

}  // namespace bitsmith::kernels
