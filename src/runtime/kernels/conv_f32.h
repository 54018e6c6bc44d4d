// Fast f32 convolution (the Conv / FusedConv kernels' engine), exposed for tests and benchmarks.
//
// Strategy per (image, group), all on the packed weights W_g [M/g, K], K = C/g * taps:
//  - 3x3 stride-1 convs with at least 8 input and output channels: Winograd F(2x2, 3x3)
//    (conv_winograd.h), 16 GEMMs over transformed tiles instead of 36 multiplies per tile;
//  - depthwise 2-D (one input channel per output channel): a direct kernel over zero-padded
//    planes, vectorized along the output row (strided rows split into phases first);
//  - stride-1 rank-1/2 convs whose dropped columns stay under 1/8: a "shifted" GEMM over a
//    zero-padded copy of X, where tap (c, ky, kx) is a constant offset (no im2col, no packing;
//    see sgemm_shifted_st);
//  - 1x1 / stride 1 / unpadded: X itself is the GEMM's B;
//  - other rank-1/2 convs: im2col of an L2-sized chunk of output columns from a zero-padded copy
//    of X (PaddedInput), written straight into the GEMM's packed-B layout by vector copies of
//    precomputed runs, then the packed GEMM;
//  - rank 3 and up: the same with im2col_packed reading X with bounds checks.
// Work items (image, group, row block, column chunk) are spread over the threads; each output
// element is computed by exactly one item with a fixed reduction order, and the path choice
// never depends on the thread count, so results are bit-identical for any thread count.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/kernels/conv_geometry.h"
#include "runtime/kernels/gemm_f32.h"

namespace bitsmith::kernels {

struct WinogradWeights;  // conv_winograd.h

// Conv weights [M, C/group, k...] prepared for conv_f32: the raw f32 values plus one PackedA
// per group (rows M/group, depth C/group * taps).
class ConvWeightsF32 {
 public:
  ConvWeightsF32() = default;
  ConvWeightsF32(const float* w, const Shape& w_shape, int64_t group);
  const Shape& shape() const { return shape_; }
  int64_t group() const { return group_; }
  const float* raw() const { return raw_.data(); }
  const PackedA& packed(int64_t g) const { return packed_[g]; }
  // The Winograd-transformed weights when the shape is eligible (3x3, group 1, enough channels).
  const WinogradWeights* winograd() const { return winograd_.get(); }

 private:
  Shape shape_;
  int64_t group_ = 1;
  std::vector<float> raw_;
  std::vector<PackedA> packed_;
  std::shared_ptr<const WinogradWeights> winograd_;
};

// Work applied to each output block while it is still in cache (com.microsoft FusedConv):
//   y = act(conv + b + z)
struct ConvEpilogue {
  enum class Act { kNone, kRelu, kLeakyRelu, kClip, kSigmoid, kTanh, kHardSigmoid };
  Act act = Act::kNone;
  float p0 = 0.f, p1 = 0.f;  // LeakyRelu: alpha; Clip: min, max; HardSigmoid: alpha, beta
  const float* z = nullptr;  // null, or a tensor shaped like y added before the activation
  bool active() const { return act != Act::kNone || z != nullptr; }
  // y[i] = act(y[i] + z[i]) for i < n (z_part may be null).
  void apply(float* y_part, const float* z_part, int64_t n) const;
};

// y [N, M, out...] = conv(x, w) + b (b [M] or null), then the epilogue. g must come from
// conv_geometry() for these shapes and w.group() == g.group.
void conv_f32(const WindowGeometry& g, const float* x, const ConvWeightsF32& w, const float* b, float* y,
              int num_threads, const ConvEpilogue& epilogue = {});

// cols[k][j] = input value for kernel row k = (channel, taps...) of one group at output position
// n0 + j (flat over out_spatial), j in [0, nc); 0 for padding taps. x_group points at the group's
// first input channel ([channels, in...]); rows of cols are nc floats apart.
void im2col_chunk(const WindowGeometry& g, const float* x_group, int64_t channels, int64_t n0, int64_t nc,
                  float* cols);

// How conv work is cut into items: (image, group, output-channel block, output-column chunk).
// Column chunks keep the im2col scratch L2-sized; with few items the columns, then the channels
// (in whole GEMM panels) are cut finer so every thread gets work. Any cut gives the same bytes.
struct ConvTile {
  int64_t image = 0, group = 0;
  int64_t m0 = 0, mcount = 0;  // output channels within the group
  int64_t n0 = 0, ncount = 0;  // output positions (flat over out_spatial)
};
struct ConvTiling {
  int64_t batch = 0, group = 1, mg = 0, out_size = 0;
  int64_t nc = 1, n_chunks = 1, m_step = 1, m_chunks = 1;
  int64_t items() const { return batch * group * m_chunks * n_chunks; }
  ConvTile tile(int64_t item) const;
};
// Items over `columns` output columns per (image, group), chunks of at most nc_max columns.
ConvTiling make_conv_tiling(int64_t batch, int64_t group, int64_t mg, int64_t columns, int64_t nc_max,
                            int num_threads);
// The im2col tiling of conv_f32 for g (chunks sized to the im2col scratch budget).
ConvTiling conv_tiling(const WindowGeometry& g, bool pointwise, int num_threads);

// The same matrix for columns [n0, n0 + nc), written directly in PackedB layout
// (packed_b_size(channels * taps, nc) floats; see gemm_f32.h).
void im2col_packed(const WindowGeometry& g, const float* x_group, int64_t channels, int64_t n0, int64_t nc,
                   float* dst);

// Rows [r0, r0 + rows) of one zero-padded plane of width pw made from the ih x iw plane at src
// (pad_top rows above it, pad_left columns left of it, zeros wherever src has no value), written
// to dst (rows * pw floats).
void pad_plane_rows(const float* src, int64_t ih, int64_t iw, int64_t pad_top, int64_t pad_left, int64_t r0,
                    int64_t rows, int64_t pw, float* dst);

// The input of a rank-1/2 convolution copied into zero-padded planes [batch][C][ph][pw] (images
// image_stride floats apart, with at least 16 zeros past each image's last plane): plane row r,
// column q hold x[r - pad_top][q - pad_left], or 0 outside X. Small copies reuse a per-thread
// buffer (it only grows); large ones (big batches) are allocated per call, not held after it.
class PaddedInput {
 public:
  PaddedInput(const WindowGeometry& g, const float* x, int64_t ph, int64_t pw, int num_threads);
  const float* image(int64_t n) const { return data_ + n * image_stride_; }
  int64_t plane() const { return plane_; }

 private:
  int64_t plane_, image_stride_;
  float* data_ = nullptr;
  std::unique_ptr<float[]> large_;
};

// True when the window is 1x1.., stride 1 and unpadded (X itself is the GEMM's right operand).
bool is_pointwise(const WindowGeometry& g);

}  // namespace bitsmith::kernels
