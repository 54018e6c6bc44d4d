// Vectorized f32 transcendental functions for the fast elementwise kernels (AVX2 + FMA when the
// build has them, std:: functions otherwise). Each function maps n contiguous inputs to n outputs;
// x and y may be the same array. Every element goes through the same 8-lane code (the tail is
// padded), so an element's result never depends on where a call's range starts or ends: splitting
// a range across threads gives the same bytes.
//
// Error budgets against the double-precision reference (measured in
// tests/runtime/kernels_elementwise_test.cpp):
//  - exp: Cephes polynomial, <= 2 ulp for normal results; subnormal results underflow gradually
//    (absolute error below 1e-44); inputs below -103.97 give 0, above 88.72 give +inf.
//  - sigmoid = 1 / (1 + exp(-x)), as e / (1 + e) with e = exp(x) for x < 0: <= 4 ulp.
//  - tanh: odd polynomial for |x| < 0.625 (relative 1e-8), else 1 - 2 / (exp(2|x|) + 1).
//  - erf: Taylor series for |x| < 0.5, else 1 - erfc with erfc from per-interval degree-7
//    polynomials (7 intervals of 1/2 up to 4; relative 1.1e-7 in float); gelu uses Numerical
//    Recipes' Chebyshev erfc (relative 1.2e-7) directly for negative inputs so its small outputs keep
//    their relative accuracy (relative 2e-5 in the far tail, where the float rounding of x^2
//    inside exp dominates). gelu_tanh = x * sigmoid(...): relative 3e-5 in the far tail for
//    the same reason.
// NaN inputs give NaN outputs.
#pragma once

#include <cstdint>

namespace bitsmith::kernels::elt::simd {

void exp_f32(const float* x, float* y, int64_t n);
void sigmoid_f32(const float* x, float* y, int64_t n);
void tanh_f32(const float* x, float* y, int64_t n);
void erf_f32(const float* x, float* y, int64_t n);
// 0.5 x (1 + erf(x / sqrt(2)))
void gelu_erf_f32(const float* x, float* y, int64_t n);
// x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)), the same as 0.5 x (1 + tanh(...)).
void gelu_tanh_f32(const float* x, float* y, int64_t n);

// Sum and maximum of n floats in a fixed order (8 interleaved partial sums / maxima, then a
// fixed pairwise combination), so the result depends only on the data.
float sum_f32(const float* x, int64_t n);
float max_f32(const float* x, int64_t n);
// Sum of (x[i] - mean)^2, in the same fixed order as sum_f32.
float sum_sq_dev_f32(const float* x, int64_t n, float mean);

}  // namespace bitsmith::kernels::elt::simd
