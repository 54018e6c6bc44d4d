// Scalar float16 / bfloat16 <-> float32 conversions (round to nearest even; NaN preserved).
// Bulk conversions use F16C in src/core/half.cpp when compiled with -mf16c.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace bitsmith {

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

inline float bf16_to_f32(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

void f16_to_f32_n(const uint16_t* src, float* dst, size_t n);
void f32_to_f16_n(const float* src, uint16_t* dst, size_t n);

}  // namespace bitsmith
