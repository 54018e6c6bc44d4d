#include "runtime/kernels/ref/matmul_ref.h"

#include <type_traits>

#include "runtime/kernels/broadcast.h"

namespace bitsmith::kernels {

Expected<MatMulPlan> plan_matmul(const Shape& a_shape, const Shape& b_shape) {
  const auto fail = [&](const std::string& why) -> Status {
    return invalid_model("MatMul of A " + shape_str(a_shape) + " and B " + shape_str(b_shape) + ": " + why);
  };
  if (a_shape.empty() || b_shape.empty()) return fail("operands must have rank >= 1");
  Shape a = a_shape, b = b_shape;
  const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), 1);
  if (b_vec) b.push_back(1);
  MatMulPlan p;
  p.m = a[a.size() - 2];
  p.k = a[a.size() - 1];
  p.n = b[b.size() - 1];
  if (b[b.size() - 2] != p.k) return fail("inner dims " + std::to_string(p.k) + " and " +
                                          std::to_string(b[b.size() - 2]) + " differ");
  const Shape a_batch(a.begin(), a.end() - 2), b_batch(b.begin(), b.end() - 2);
  const auto batch = broadcast_shapes({a_batch, b_batch});
  if (!batch) return fail("batch dims do not broadcast");
  p.out_shape = *batch;
  if (!a_vec) p.out_shape.push_back(p.m);
  if (!b_vec) p.out_shape.push_back(p.n);
  const int64_t nb = shape_numel(*batch);
  const std::vector<int64_t> as = broadcast_strides(a_batch, *batch), bs = broadcast_strides(b_batch, *batch);
  p.a_offsets.reserve(nb);
  p.b_offsets.reserve(nb);
  for_each_broadcast(*batch, {as, bs}, [&](int64_t, const int64_t* off) {
    p.a_offsets.push_back(off[0] * p.m * p.k);
    p.b_offsets.push_back(off[1] * p.k * p.n);
  });
  p.b_shared = shape_numel(b_batch) == 1 && shape_numel(a_batch) == nb;
  return p;
}

namespace ref {

template <class T>
void matmul(const MatMulPlan& p, const T* a, const T* b, T* y) {
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
  for (int64_t bi = 0; bi < p.batches(); ++bi) {
    const T* ab = a + p.a_offsets[bi];
    const T* bb = b + p.b_offsets[bi];
    T* yb = y + bi * p.m * p.n;
    for (int64_t i = 0; i < p.m; ++i)
      for (int64_t j = 0; j < p.n; ++j) {
        Acc acc = 0;
        for (int64_t q = 0; q < p.k; ++q) acc += static_cast<Acc>(ab[i * p.k + q]) * static_cast<Acc>(bb[q * p.n + j]);
        yb[i * p.n + j] = static_cast<T>(acc);
      }
  }
}

template void matmul<float>(const MatMulPlan&, const float*, const float*, float*);
template void matmul<double>(const MatMulPlan&, const double*, const double*, double*);
template void matmul<int32_t>(const MatMulPlan&, const int32_t*, const int32_t*, int32_t*);
template void matmul<int64_t>(const MatMulPlan&, const int64_t*, const int64_t*, int64_t*);
template void matmul<uint32_t>(const MatMulPlan&, const uint32_t*, const uint32_t*, uint32_t*);
template void matmul<uint64_t>(const MatMulPlan&, const uint64_t*, const uint64_t*, uint64_t*);

}  // namespace ref
}  // namespace bitsmith::kernels
