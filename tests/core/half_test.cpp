// f16 / bf16 conversions: the scalar code against the F16C instructions (the hardware reference)
// on every f16 bit pattern and on random and edge f32 values, against an independent
// double-precision round-to-nearest-even reference, and the bulk paths against the scalar ones.
#include "bitsmith/core/half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace bitsmith {
namespace {

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
bool is_f16_nan(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }
bool is_bf16_nan(uint16_t b) { return (b & 0x7f80u) == 0x7f80u && (b & 0x7fu) != 0; }

bool have_f16c() {
#if defined(__F16C__)
  return __builtin_cpu_supports("f16c");
#else
  return false;
#endif
}

// Magnitude of a non-negative 15-bit pattern, from the format definition (not from the code under
// test). The inf pattern counts as the value the next binade would start at (2^16, 2^128), which
// is what round-to-nearest compares against.
double f16_mag(uint16_t h) {
  const int exp = h >> 10, mant = h & 0x3ff;
  if (exp == 0) return std::ldexp(mant, -24);
  return std::ldexp(1024 + mant, exp - 25);
}
double bf16_mag(uint16_t b) {
  const int exp = b >> 7, mant = b & 0x7f;
  if (exp == 0) return std::ldexp(mant, -133);
  return std::ldexp(128 + mant, exp - 134);
}

// Round-to-nearest-even by search: the largest pattern <= |x| and the next one up, decided in
// double precision (exact for these formats). `mag` is monotone over [0, top].
template <class Mag>
uint16_t nearest_even(float x, uint16_t sign_bit, uint16_t top, Mag mag) {
  const uint16_t sign = std::signbit(x) ? sign_bit : 0;
  const double a = std::fabs(static_cast<double>(x));
  if (a >= mag(top)) return static_cast<uint16_t>(sign | top);
  uint16_t lo = 0, hi = top;  // invariant: mag(lo) <= a < mag(hi)
  while (hi - lo > 1) {
    const uint16_t mid = static_cast<uint16_t>((lo + hi) / 2);
    (mag(mid) <= a ? lo : hi) = mid;
  }
  const double dlo = a - mag(lo), dhi = mag(hi) - a;
  const uint16_t r = dlo < dhi ? lo : dhi < dlo ? hi : (lo & 1u) ? hi : lo;
  return static_cast<uint16_t>(sign | r);
}
uint16_t f16_reference(float x) { return nearest_even(x, 0x8000u, 0x7c00u, f16_mag); }
uint16_t bf16_reference(float x) { return nearest_even(x, 0x8000u, 0x7f80u, bf16_mag); }

// Edge values: zeros, f16 max / overflow boundary, subnormal boundaries and ties, f32 extremes.
std::vector<float> edge_values() {
  std::vector<float> v = {0.f, 1.f, 65504.f, 65519.996f, 65520.f, 65536.f, 1e10f,
                          std::ldexp(1.f, -24), std::ldexp(1.f, -25), std::nextafter(std::ldexp(1.f, -25), 1.f),
                          std::nextafter(std::ldexp(1.f, -25), 0.f), 3 * std::ldexp(1.f, -25),
                          5 * std::ldexp(1.f, -25), std::ldexp(1.f, -14),
                          std::ldexp(1.f, -14) - std::ldexp(1.f, -25), 1.f + std::ldexp(1.f, -11),
                          1.f + 3 * std::ldexp(1.f, -11), std::nextafter(1.f + std::ldexp(1.f, -11), 2.f),
                          std::numeric_limits<float>::min(), std::numeric_limits<float>::denorm_min(),
                          std::numeric_limits<float>::max(), std::numeric_limits<float>::infinity(),
                          3.3895314e38f, 0.1f, 1.f / 3.f};
  const size_t n = v.size();
  for (size_t i = 0; i < n; ++i) v.push_back(-v[i]);
  return v;
}

// Random bit patterns (all exponents) plus values concentrated in and around the f16 range.
std::vector<float> random_values(size_t n) {
  std::mt19937 rng(20240601);
  std::vector<float> v;
  v.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    const float f = float_of(rng());
    if (!std::isnan(f)) v.push_back(f);
    const uint32_t exp = 100 + rng() % 45;  // 2^-27 .. 2^17
    v.push_back(float_of((rng() & 0x807fffffu) | (exp << 23)));
  }
  return v;
}

TEST(Half, F16ToF32MatchesF16cOnAllPatterns) {
  if (!have_f16c()) GTEST_SKIP() << "no F16C";
#if defined(__F16C__)
  for (uint32_t h = 0; h < 65536; ++h) {
    const float ours = f16_to_f32(static_cast<uint16_t>(h));
    const float hw = _cvtsh_ss(static_cast<unsigned short>(h));
    // NaNs too: payload and sign kept, quiet bit set, exactly as F16C.
    EXPECT_EQ(bits_of(ours), bits_of(hw)) << std::hex << h;
  }
#endif
}

TEST(Half, F16BulkMatchesScalarOnAllPatterns) {
  std::vector<uint16_t> all(65536 + 5);  // + 5: the bulk tail path
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i * 40503u);
  std::vector<float> bulk(all.size());
  f16_to_f32_n(all.data(), bulk.data(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    const float s = f16_to_f32(all[i]);
    EXPECT_EQ(bits_of(bulk[i]), bits_of(s)) << std::hex << all[i];  // NaN bits included
  }
}

TEST(Half, F16RoundTripsEveryPattern) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint16_t back = f32_to_f16(f16_to_f32(static_cast<uint16_t>(h)));
    if (is_f16_nan(static_cast<uint16_t>(h))) {
      EXPECT_TRUE(is_f16_nan(back)) << std::hex << h;
      EXPECT_EQ(back & 0x8000u, h & 0x8000u) << std::hex << h;
    } else {
      EXPECT_EQ(back, h) << std::hex << h;
    }
  }
}

TEST(Half, F32ToF16RoundsToNearestEven) {
  std::vector<float> values = edge_values();
  const std::vector<float> rnd = random_values(1 << 20);
  values.insert(values.end(), rnd.begin(), rnd.end());
  size_t mismatches = 0;
  for (float x : values) {
    const uint16_t ours = f32_to_f16(x), ref = f16_reference(x);
    if (ours != ref && ++mismatches <= 10)
      ADD_FAILURE() << "x=" << x << " (0x" << std::hex << bits_of(x) << ") ours=0x" << ours << " ref=0x" << ref;
  }
  EXPECT_EQ(mismatches, 0u);
}

TEST(Half, F32ToF16MatchesF16c) {
  if (!have_f16c()) GTEST_SKIP() << "no F16C";
#if defined(__F16C__)
  std::vector<float> values = edge_values();
  const std::vector<float> rnd = random_values(1 << 20);
  values.insert(values.end(), rnd.begin(), rnd.end());
  for (uint32_t payload : {0x7fc00000u, 0x7f800001u, 0xffa00000u, 0x7fbfffffu, 0xff802000u})
    values.push_back(float_of(payload));  // quiet and signalling NaNs, both signs
  size_t mismatches = 0;
  for (float x : values) {
    const uint16_t ours = f32_to_f16(x);
    const uint16_t hw = static_cast<uint16_t>(_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT));
    if (ours != hw && ++mismatches <= 10)
      ADD_FAILURE() << "x=" << x << " (0x" << std::hex << bits_of(x) << ") ours=0x" << ours << " f16c=0x" << hw;
  }
  EXPECT_EQ(mismatches, 0u);
  // The bulk path (F16C in blocks of 8, scalar tail) gives the same bits.
  values.resize(values.size() - values.size() % 8 + 3);
  std::vector<uint16_t> bulk(values.size());
  f32_to_f16_n(values.data(), bulk.data(), values.size());
  for (size_t i = 0; i < values.size(); ++i) ASSERT_EQ(bulk[i], f32_to_f16(values[i])) << values[i];
#endif
}

TEST(BFloat16, RoundTripsEveryPattern) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const float f = bf16_to_f32(static_cast<uint16_t>(b));
    EXPECT_EQ(bits_of(f), b << 16);
    const uint16_t back = f32_to_bf16(f);
    if (is_bf16_nan(static_cast<uint16_t>(b))) {
      EXPECT_TRUE(is_bf16_nan(back)) << std::hex << b;
      EXPECT_EQ(back & 0x8000u, b & 0x8000u) << std::hex << b;
    } else {
      EXPECT_EQ(back, b) << std::hex << b;
    }
  }
}

TEST(BFloat16, F32ToBf16RoundsToNearestEven) {
  std::vector<float> values = edge_values();
  const std::vector<float> rnd = random_values(1 << 20);
  values.insert(values.end(), rnd.begin(), rnd.end());
  // bf16 ties and the overflow boundary: 1 + 2^-8 (tie, to even 1), 1 + 3*2^-8 (tie, up),
  // max bf16 + half an ulp (tie, to even = inf).
  for (float x : {1.f + std::ldexp(1.f, -8), 1.f + 3 * std::ldexp(1.f, -8), float_of(0x7f7f8000u),
                  float_of(0x7f7f7fffu)})
    values.push_back(x);
  size_t mismatches = 0;
  for (float x : values) {
    const uint16_t ours = f32_to_bf16(x), ref = bf16_reference(x);
    if (ours != ref && ++mismatches <= 10)
      ADD_FAILURE() << "x=" << x << " (0x" << std::hex << bits_of(x) << ") ours=0x" << ours << " ref=0x" << ref;
  }
  EXPECT_EQ(mismatches, 0u);
  // NaNs stay NaN (never rounded into inf), sign kept.
  for (uint32_t nan : {0x7f800001u, 0xff800001u, 0x7fc00000u, 0x7fffffffu}) {
    const uint16_t b = f32_to_bf16(float_of(nan));
    EXPECT_TRUE(is_bf16_nan(b)) << std::hex << nan;
    EXPECT_EQ(b & 0x8000u, (nan >> 16) & 0x8000u);
  }
}

}  // namespace
}  // namespace bitsmith
