// Row kernels of weight quantization: min/max reductions, f32 -> integer codes, 4-bit packing.
//
// Each kernel has an AVX2 version and a scalar reference twin, selected by `scalar` (the AVX2
// version is compiled only with __AVX2__; without it both calls run the scalar code). The twins
// give identical results: min/max are exact, and the quantizer uses the same IEEE division,
// round-half-even and clamp as kernels::quantize_value (runtime/kernels/ref/quantized_ref.h):
//
//   code = clamp(nearbyint(x / scale) + zero_point, qmin, qmax)
//
// Codes are written one byte per element: the low 8 bits of the integer (two's complement for
// signed types), so [qmin, qmax] must lie inside [-128, 255]. Kernels return false when a value
// of x is NaN or +-Inf (the caller reports it; the codes written are then unspecified).
#pragma once

#include <cstdint>

namespace bitsmith::quant {

// lo = min(lo, x[0..n)), hi = max(hi, x[0..n)). Returns false when x holds NaN or Inf.
bool minmax_row(const float* x, int64_t n, float* lo, float* hi, bool scalar);

// Column-wise over `rows` rows of n floats, row r at x + r * ld: lo[j] = min(lo[j], x[r, j]),
// hi[j] = max(hi[j], x[r, j]) for j < n. Returns false when x holds NaN or Inf.
bool minmax_cols(const float* x, int64_t rows, int64_t ld, int64_t n, float* lo, float* hi, bool scalar);

// out[j] = code of x[j] with one scale and zero point for the whole row.
bool quantize_row(const float* x, int64_t n, float scale, float zero_point, int32_t qmin, int32_t qmax,
                  uint8_t* out, bool scalar);

// out[j] = code of x[j] with scale[j] and zero_point[j].
bool quantize_row_vec(const float* x, int64_t n, const float* scale, const float* zero_point, int32_t qmin,
                      int32_t qmax, uint8_t* out, bool scalar);

// Packs 4-bit codes two per byte, element 2i in the low nibble: out[i] = (c[2i] & 15) |
// (c[2i+1] << 4) for the pairs in [first_pair, last_pair); an odd total count n leaves the high
// nibble of the last byte 0.
void pack_nibbles(const uint8_t* codes, int64_t n, int64_t first_pair, int64_t last_pair, uint8_t* out);

}  // namespace bitsmith::quant
