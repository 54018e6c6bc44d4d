// The u8 x s8 GEMM engine (gemm_u8s8.h) against its scalar reference twin, bit for bit, on awkward
// shapes, at 1 and 2 threads, for 7-bit weights (single vpmaddubsw) and full-range weights (the
// hi/lo split that guards against int16 saturation), every epilogue and zero-point combination.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "runtime/kernels/gemm_u8s8.h"

namespace bitsmith::test {
namespace {

using kernels::PackedWeightsS8;
using kernels::QEpilogue;

struct Problem {
  int64_t m, n, k;
  std::vector<uint8_t> a;   // [m, lda], lda = round_up4(k) (padding bytes random too)
  std::vector<int8_t> b;    // [k, n]
  int64_t lda;
};

Problem make_problem(int64_t m, int64_t n, int64_t k, int bmax, uint32_t seed, bool extreme) {
  std::mt19937 rng(seed);
  Problem p{m, n, k, {}, {}, kernels::round_up4(k)};
  p.a.resize(static_cast<size_t>(m * p.lda));
  p.b.resize(static_cast<size_t>(k * n));
  for (auto& v : p.a) v = extreme ? 255 : static_cast<uint8_t>(rng() % 256);
  for (auto& v : p.b) {
    const int r = static_cast<int>(rng() % (2 * bmax + 1)) - bmax;
    v = static_cast<int8_t>(extreme ? (bmax >= 128 ? -128 : bmax) : std::max(r, -128));
  }
  return p;
}

// Runs fast (threads) and reference with epilogue kind / zero points; compares bytes.
// transposed: output stored column-major (ld_row 1, ld_col m), as the conv kernel does.
void check(const Problem& p, QEpilogue::Kind kind, int32_t a_zp, bool b_zp, bool bias, int threads,
           const std::string& what, bool transposed = false) {
  const PackedWeightsS8 packed(p.b.data(), p.k, p.n, p.n, 1);
  std::vector<int32_t> bz(static_cast<size_t>(p.n)), bi(static_cast<size_t>(p.n));
  std::vector<float> mult(static_cast<size_t>(p.n)), fb(static_cast<size_t>(p.n));
  for (int64_t j = 0; j < p.n; ++j) {
    bz[j] = static_cast<int32_t>(j % 7) - 3;
    bi[j] = static_cast<int32_t>(j * 37 % 1001) - 500;
    mult[j] = 1.0f / static_cast<float>(64 * (p.k + 1)) * (1.0f + 0.01f * static_cast<float>(j % 5));
    fb[j] = 0.25f * static_cast<float>(j % 3);
  }
  QEpilogue ep;
  ep.kind = kind;
  ep.a_zp = a_zp;
  ep.b_zp = b_zp ? bz.data() : nullptr;
  ep.bias = bias ? bi.data() : nullptr;
  ep.multiplier = mult.data();
  ep.zp = 3;
  ep.qmin = kind == QEpilogue::Kind::kQuantized && (p.n % 2) ? -128 : 0;
  ep.qmax = ep.qmin < 0 ? 127 : 255;
  ep.out_signed = ep.qmin < 0;
  ep.scale = mult.data();
  ep.fbias = bias ? fb.data() : nullptr;
  ep.ld_row = transposed ? 1 : p.n;
  ep.ld_col = transposed ? p.m : 1;
  const size_t bytes = static_cast<size_t>(p.m * p.n) * 4;
  std::vector<std::byte> got(bytes, std::byte{0x5a}), want(bytes, std::byte{0x5a});
  ep.out = got.data();
  kernels::qgemm_u8s8(p.m, p.a.data(), p.lda, packed, ep, threads);
  ep.out = want.data();
  kernels::ref::qgemm_u8s8(p.m, p.n, p.k, p.a.data(), p.lda, p.b.data(), ep);
  EXPECT_EQ(0, std::memcmp(got.data(), want.data(), bytes)) << what;
}

TEST(GemmU8S8, MatchesReferenceOnAwkwardShapes) {
  const int64_t sizes[] = {1, 3, 13, 127};
  uint32_t seed = 1;
  for (int64_t m : sizes)
    for (int64_t n : sizes)
      for (int64_t k : {int64_t{1}, int64_t{3}, int64_t{13}, int64_t{127}, int64_t{300}})
        for (int bmax : {63, 127}) {
          const Problem p = make_problem(m, n, k, bmax, seed++, false);
          for (int threads : {1, 2}) {
            const std::string what = "m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k) +
                                     " bmax=" + std::to_string(bmax) + " threads=" + std::to_string(threads);
            check(p, QEpilogue::Kind::kInt32, 17, true, true, threads, what + " int32 zp bias");
            check(p, QEpilogue::Kind::kQuantized, 128, false, true, threads, what + " quantized");
            check(p, QEpilogue::Kind::kFloat, 5, true, true, threads, what + " float");
            check(p, QEpilogue::Kind::kQuantized, 7, false, true, threads, what + " quantized transposed", true);
            check(p, QEpilogue::Kind::kQuantized, 9, true, false, threads, what + " quantized zp transposed", true);
          }
        }
}

// qgemm_u8s8_rows_st (A rows as pointers + segment offsets, the conv's implicit im2col) against
// the reference on the explicit A, every layout the conv uses, full and partial tiles.
TEST(GemmU8S8, RowsMatchReference) {
  std::mt19937 rng(77);
  std::vector<uint8_t> image(4096);
  for (auto& v : image) v = static_cast<uint8_t>(rng() % 256);
  uint32_t seed = 500;
  for (int64_t m : {int64_t{1}, int64_t{4}, int64_t{7}, int64_t{33}})
    for (int64_t n : {int64_t{5}, int64_t{16}, int64_t{40}})
      for (auto [nseg, seg_len] : {std::pair<int64_t, int64_t>{1, 4}, {3, 12}, {9, 8}, {2, 100}})
        for (int bmax : {63, 127}) {
          const int64_t k = nseg * seg_len;
          const Problem p0 = make_problem(1, n, k, bmax, seed++, false);
          std::vector<int64_t> seg_off(static_cast<size_t>(nseg));
          for (auto& o : seg_off) o = static_cast<int64_t>(rng() % 1500);
          std::vector<const uint8_t*> rows(static_cast<size_t>(m));
          std::vector<uint8_t> a(static_cast<size_t>(m * k));
          for (int64_t i = 0; i < m; ++i) {
            rows[i] = image.data() + rng() % 2000;
            for (int64_t s = 0; s < nseg; ++s)
              for (int64_t kk = 0; kk < seg_len; ++kk) a[i * k + s * seg_len + kk] = rows[i][seg_off[s] + kk];
          }
          const kernels::QRowsU8 ra{rows.data(), seg_off.data(), nseg, seg_len};
          const PackedWeightsS8 packed(p0.b.data(), k, n, n, 1);
          std::vector<int32_t> bz(static_cast<size_t>(n)), bi(static_cast<size_t>(n)), rowsum(static_cast<size_t>(m));
          std::vector<float> mult(static_cast<size_t>(n));
          for (int64_t j = 0; j < n; ++j) {
            bz[j] = static_cast<int32_t>(j % 5) - 2;
            bi[j] = static_cast<int32_t>(j * 53 % 999) - 400;
            mult[j] = 1.0f / static_cast<float>(48 * (k + 1)) * (1.0f + 0.02f * static_cast<float>(j % 3));
          }
          kernels::qgemm_row_sums_rows(m, ra, rowsum.data());
          for (auto kind : {QEpilogue::Kind::kQuantized, QEpilogue::Kind::kInt32})
            for (bool use_bz : {false, true})
              for (bool transposed : {false, true}) {
                QEpilogue ep;
                ep.kind = kind;
                ep.a_zp = 11;
                ep.b_zp = use_bz ? bz.data() : nullptr;
                ep.bias = bi.data();
                ep.multiplier = mult.data();
                ep.zp = use_bz ? -5 : 6;
                ep.qmin = use_bz ? -128 : 0;
                ep.qmax = use_bz ? 127 : 255;
                ep.out_signed = use_bz;
                ep.ld_row = transposed ? 1 : n;
                ep.ld_col = transposed ? m : 1;
                const std::vector<int32_t> col_add = kernels::qgemm_col_add(ep, packed.colsum(), k);
                const size_t bytes = static_cast<size_t>(m * n) * 4;
                std::vector<std::byte> got(bytes, std::byte{0x5a}), want(bytes, std::byte{0x5a});
                ep.out = got.data();
                kernels::qgemm_u8s8_rows_st(m, ra, packed, 0, n, ep, col_add.data(), use_bz ? rowsum.data() : nullptr, 0);
                ep.out = want.data();
                kernels::ref::qgemm_u8s8(m, n, k, a.data(), k, p0.b.data(), ep);
                EXPECT_EQ(0, std::memcmp(got.data(), want.data(), bytes))
                    << "m=" << m << " n=" << n << " nseg=" << nseg << " seg_len=" << seg_len << " bmax=" << bmax
                    << " kind=" << static_cast<int>(kind) << " b_zp=" << use_bz << " transposed=" << transposed;
              }
        }
}

TEST(GemmU8S8, PackDetectsSaturationRisk) {
  const Problem seven = make_problem(5, 20, 40, 64, 7, false);
  EXPECT_FALSE(PackedWeightsS8(seven.b.data(), 40, 20, 20, 1).split());
  const Problem full = make_problem(5, 20, 40, 127, 7, false);
  EXPECT_TRUE(PackedWeightsS8(full.b.data(), 40, 20, 20, 1).split());
}

// Every activation at 255 and every weight at its extreme: the pairs that would saturate int16
// in one vpmaddubsw (255*127*2 > 32767) must still be exact; larger problems use threads.
TEST(GemmU8S8, ExtremeValuesStayExact) {
  for (int bmax : {64, 127, 128})
    for (int threads : {1, 2}) {
      const Problem p = make_problem(37, 70, 1029, bmax, 3, true);
      check(p, QEpilogue::Kind::kInt32, 0, false, false, threads, "extreme bmax=" + std::to_string(bmax));
      check(p, QEpilogue::Kind::kInt32, 255, true, false, threads, "extreme zp bmax=" + std::to_string(bmax));
    }
}

TEST(GemmU8S8, LargeProblemSameBytesAnyThreadCount) {
  const Problem p = make_problem(200, 300, 520, 63, 11, false);
  for (int threads : {1, 2, 3}) check(p, QEpilogue::Kind::kQuantized, 100, false, true, threads, "large");
}

}  // namespace
}  // namespace bitsmith::test
