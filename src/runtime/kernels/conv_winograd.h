// Winograd F(2x2, 3x3) convolution (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016) for 3x3, stride-1, undilated, ungrouped 2-D convs with enough channels.
//
// Each 2x2 output tile is A^T [ sum_c (G g_c G^T) .* (B^T d_c B) ] A, with d_c the 4x4 input
// window of channel c and g_c the 3x3 filter: 16 multiplies per tile and channel pair instead
// of 36. The 16 element-wise products over channels are 16 GEMMs [M x C] x [C x tiles] on the
// packed f32 GEMM (weights transformed and packed once, at load).
//
// Numerics: the transforms only add, subtract and halve, so the result is the direct conv's up
// to f32 rounding (tests: relative to sqrt(C*9) * max|x| * max|w|, like the other paths).
// Deterministic for any thread count: a tile's value never depends on how tiles are grouped.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/kernels/conv_f32.h"
#include "runtime/kernels/gemm_f32.h"

namespace bitsmith::kernels {

// The 16 transformed filter matrices U_xi = (G g G^T)[xi] as [M, C] packed GEMM operands.
struct WinogradWeights {
  int64_t m = 0, c = 0;
  std::vector<PackedA> u;  // 16 entries, xi = 4 * i + j
};

// Weights [M, C, 3, 3] (group 1) worth transforming: enough channels on both sides for the
// GEMMs to outweigh the transforms.
bool winograd_weights_eligible(const Shape& w_shape, int64_t group);
std::shared_ptr<const WinogradWeights> winograd_transform_weights(const float* w, int64_t m, int64_t c);

// Geometry for which conv_winograd computes the conv (3x3, stride 1, dilation 1, 2-D, group 1).
bool winograd_applicable(const WindowGeometry& g);

// y = conv(x, w) + b, then the epilogue; u from winograd_transform_weights(w).
void conv_winograd(const WindowGeometry& g, const float* x, const WinogradWeights& u, const float* b, float* y,
                   int num_threads, const ConvEpilogue& ep);

}  // namespace bitsmith::kernels
