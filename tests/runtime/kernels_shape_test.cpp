// Fast data-movement kernels against their scalar reference twins (src/runtime/kernels/ref/) on
// awkward shapes, every element width and strings, and 1 vs several threads (same bytes).
#include <algorithm>
#include <numeric>

#include "runtime/kernels/shape_common.h"
#include "runtime/kernels_shape_test_util.h"

namespace bitsmith::kernels {
namespace {

using shape_test::random_tensor;
using shape_test::same_tensor;

const DType kWidths[] = {DType::kU8, DType::kF16, DType::kF32, DType::kI64, DType::kString};

std::string label(DType t, const Shape& s) { return std::string(dtype_name(t)) + shape_str(s); }

TEST(ShapeKernelsFastVsRef, TransposeEveryPermutationOfOddShapes) {
  const std::vector<Shape> shapes = {{11, 13, 48}, {3, 1, 17, 5}, {7, 19}, {1, 1, 9}, {2, 3, 4, 5, 6}, {0, 3, 2}, {5}};
  uint32_t seed = 1;
  for (DType t : kWidths) {
    for (const Shape& s : shapes) {
      const Tensor in = random_tensor(t, s, seed++);
      std::vector<int64_t> perm(s.size());
      std::iota(perm.begin(), perm.end(), 0);
      do {
        Tensor fast1, fast4, ref;
        ASSERT_TRUE(transpose_ref(in, perm, ref).is_ok());
        ASSERT_TRUE(transpose_fast(in, perm, fast1, 1).is_ok());
        ASSERT_TRUE(transpose_fast(in, perm, fast4, 4).is_ok());
        const std::string what = label(t, s) + " perm " + shape_str(perm);
        EXPECT_TRUE(same_tensor(fast1, ref, what));
        EXPECT_TRUE(same_tensor(fast4, ref, what + " 4 threads"));
      } while (std::next_permutation(perm.begin(), perm.end()));
    }
  }
}

TEST(ShapeKernelsFastVsRef, TransposeLargeTensorIsThreadCountIndependent) {
  const Tensor in = random_tensor(DType::kF32, {3, 67, 129, 5}, 7);  // large enough to use threads
  for (const std::vector<int64_t>& perm : std::vector<std::vector<int64_t>>{{0, 2, 1, 3}, {3, 1, 2, 0}, {0, 3, 1, 2}}) {
    Tensor ref, t1, t3;
    ASSERT_TRUE(transpose_ref(in, perm, ref).is_ok());
    ASSERT_TRUE(transpose_fast(in, perm, t1, 1).is_ok());
    ASSERT_TRUE(transpose_fast(in, perm, t3, 3).is_ok());
    EXPECT_TRUE(same_tensor(t1, ref, "perm " + shape_str(perm)));
    EXPECT_TRUE(same_tensor(t3, ref, "perm " + shape_str(perm) + " 3 threads"));
  }
}

TEST(ShapeKernelsFastVsRef, ConcatAlongEveryAxis) {
  uint32_t seed = 100;
  for (DType t : kWidths) {
    const Shape base = {3, 5, 7};
    for (int64_t axis = 0; axis < 3; ++axis) {
      std::vector<Tensor> parts;
      for (int64_t len : {2, 0, 11, 1}) {
        Shape s = base;
        s[axis] = len;
        parts.push_back(random_tensor(t, s, seed++));
      }
      std::vector<const Tensor*> ptrs;
      for (const Tensor& p : parts) ptrs.push_back(&p);
      Tensor fast, fast4, ref;
      ASSERT_TRUE(concat_ref(ptrs, axis, ref).is_ok());
      ASSERT_TRUE(concat_fast(ptrs, axis, fast, 1).is_ok());
      ASSERT_TRUE(concat_fast(ptrs, axis, fast4, 4).is_ok());
      EXPECT_TRUE(same_tensor(fast, ref, label(t, base) + " axis " + std::to_string(axis)));
      EXPECT_TRUE(same_tensor(fast4, ref, label(t, base) + " axis " + std::to_string(axis) + " 4 threads"));
    }
  }
}

// Random slice parameters (already clamped, as the kernel computes them) for `shape`.
std::vector<SliceAxis> random_slice(const Shape& shape, std::mt19937& rng) {
  std::vector<SliceAxis> axes;
  for (int64_t dim : shape) {
    SliceAxis a{0, 1, dim};
    switch (rng() % 4) {
      case 0: break;  // full
      case 1: {       // unit step sub-range
        a.start = dim ? rng() % dim : 0;
        a.count = dim - a.start ? 1 + rng() % (dim - a.start) : 0;
        break;
      }
      case 2: {  // positive stride
        a.step = 2 + rng() % 3;
        a.start = dim ? rng() % dim : 0;
        a.count = (dim - a.start + a.step - 1) / a.step;
        break;
      }
      default: {  // negative stride from the end
        a.step = -1 - static_cast<int64_t>(rng() % 3);
        a.start = dim ? dim - 1 - rng() % dim : 0;
        a.count = dim ? a.start / -a.step + 1 : 0;
      }
    }
    axes.push_back(a);
  }
  return axes;
}

TEST(ShapeKernelsFastVsRef, SliceRandomStartsAndSteps) {
  std::mt19937 rng(5);
  const std::vector<Shape> shapes = {{11, 13, 48}, {4, 1, 9, 7}, {23}, {6, 5, 4, 3, 2}};
  uint32_t seed = 200;
  for (DType t : kWidths) {
    for (const Shape& s : shapes) {
      const Tensor in = random_tensor(t, s, seed++);
      for (int trial = 0; trial < 20; ++trial) {
        const std::vector<SliceAxis> axes = random_slice(s, rng);
        Tensor fast, fast4, ref;
        ASSERT_TRUE(slice_ref(in, axes, ref).is_ok());
        ASSERT_TRUE(slice_fast(in, axes, fast, 1).is_ok());
        ASSERT_TRUE(slice_fast(in, axes, fast4, 4).is_ok());
        EXPECT_TRUE(same_tensor(fast, ref, label(t, s) + " trial " + std::to_string(trial)));
        EXPECT_TRUE(same_tensor(fast4, ref, label(t, s) + " trial " + std::to_string(trial) + " 4 threads"));
      }
    }
  }
}

TEST(ShapeKernelsFastVsRef, GatherEveryAxisWithNegativeIndices) {
  std::mt19937 rng(9);
  uint32_t seed = 300;
  const Shape s = {5, 7, 3, 4};
  for (DType t : kWidths) {
    const Tensor data = random_tensor(t, s, seed++);
    for (int64_t axis = 0; axis < 4; ++axis) {
      for (const Shape& ishape : std::vector<Shape>{{}, {6}, {2, 3}, {0}}) {
        std::vector<int64_t> idx(static_cast<size_t>(shape_numel(ishape)));
        for (int64_t& v : idx) v = static_cast<int64_t>(rng() % (2 * s[axis])) - s[axis];
        const Tensor indices = Tensor::from_vector<int64_t>(idx, ishape);
        Tensor fast, fast4, ref;
        ASSERT_TRUE(gather_ref(data, indices, axis, ref).is_ok());
        ASSERT_TRUE(gather_fast(data, indices, axis, fast, 1).is_ok());
        ASSERT_TRUE(gather_fast(data, indices, axis, fast4, 4).is_ok());
        const std::string what = label(t, s) + " axis " + std::to_string(axis) + " indices " + shape_str(ishape);
        EXPECT_TRUE(same_tensor(fast, ref, what));
        EXPECT_TRUE(same_tensor(fast4, ref, what + " 4 threads"));
      }
    }
  }
}

TEST(ShapeKernelsFastVsRef, GatherRejectsOutOfRangeIndex) {
  const Tensor data = random_tensor(DType::kF32, {4, 3}, 1);
  const Tensor bad = Tensor::from_vector<int32_t>({1, 4}, {2});
  Tensor out;
  EXPECT_FALSE(gather_fast(data, bad, 0, out, 1).is_ok());
  EXPECT_FALSE(gather_ref(data, bad, 0, out).is_ok());
}

struct EinsumCase {
  std::string equation;
  std::vector<Shape> shapes;
};

TEST(ShapeKernelsFastVsRef, EinsumMatchesLoopNest) {
  const std::vector<EinsumCase> cases = {
      {"ij,jk->ik", {{7, 13}, {13, 5}}},
      {"bij,bjk->bik", {{3, 7, 11}, {3, 11, 2}}},
      {"bhqd,bhkd->bhqk", {{2, 3, 5, 8}, {2, 3, 7, 8}}},
      {"ij,kj->ik", {{4, 9}, {6, 9}}},
      {"i,i->", {{17}, {17}}},
      {"i,j->ij", {{5}, {3}}},
      {"ij,j->i", {{6, 7}, {7}}},
      {"...ij,...jk->...ik", {{2, 3, 4, 5}, {2, 3, 5, 6}}},
      {"...ij,...jk", {{1, 4, 5}, {3, 5, 2}}},  // broadcast ellipsis: loop nest path
      {"ij->ji", {{5, 9}}},
      {"ii->i", {{6, 6}}},
      {"ii", {{6, 6}}},
      {"ij,jk,kl->il", {{3, 4}, {4, 5}, {5, 2}}},
      {"bij->bj", {{3, 4, 5}}},
      {"ab,cb->ac", {{0, 3}, {2, 3}}},
  };
  uint32_t seed = 400;
  for (DType t : {DType::kF32, DType::kF64, DType::kI32, DType::kI64}) {
    for (const EinsumCase& c : cases) {
      std::vector<Tensor> ins;
      for (const Shape& s : c.shapes) {
        Tensor r = random_tensor(t == DType::kF32 || t == DType::kF64 ? t : DType::kI8, s, seed++);
        if (t != DType::kF32 && t != DType::kF64) {
          Tensor w;
          ASSERT_TRUE(cast_tensor(r, t, w, 1).is_ok());
          r = w;
        }
        ins.push_back(r);
      }
      std::vector<const Tensor*> ptrs;
      for (const Tensor& x : ins) ptrs.push_back(&x);
      Tensor fast, fast4, ref;
      ASSERT_TRUE(einsum_ref(c.equation, ptrs, ref).is_ok()) << c.equation;
      ASSERT_TRUE(einsum_fast(c.equation, ptrs, fast, 1).is_ok()) << c.equation;
      ASSERT_TRUE(einsum_fast(c.equation, ptrs, fast4, 4).is_ok()) << c.equation;
      const std::string what = std::string(dtype_name(t)) + " " + c.equation;
      EXPECT_TRUE(same_tensor(fast4, fast, what + " 4 vs 1 threads"));
      if (t == DType::kF32) EXPECT_TRUE(shape_test::close_tensor(fast, ref, 1e-5, 1e-4, what));
      else if (t == DType::kF64) EXPECT_TRUE(shape_test::close_tensor(fast, ref, 1e-12, 1e-12, what));
      else EXPECT_TRUE(same_tensor(fast, ref, what));
    }
  }
}

TEST(ShapeKernelsFastVsRef, EinsumRejectsMalformedEquations) {
  const Tensor a = random_tensor(DType::kF32, {3, 4}, 1);
  const Tensor b = random_tensor(DType::kF32, {5, 6}, 2);
  Tensor out;
  EXPECT_FALSE(einsum_fast("ij,jk->ik", {&a, &b}, out, 1).is_ok());  // j: 4 vs 5
  EXPECT_FALSE(einsum_fast("ij->ik", {&a}, out, 1).is_ok());          // k not in inputs
  EXPECT_FALSE(einsum_fast("ijk->i", {&a}, out, 1).is_ok());          // rank mismatch
  EXPECT_FALSE(einsum_fast("i1->i", {&a}, out, 1).is_ok());           // bad character
  EXPECT_FALSE(einsum_fast("ij,jk->ik", {&a}, out, 1).is_ok());       // term count
}

}  // namespace
}  // namespace bitsmith::kernels
