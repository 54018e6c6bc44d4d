// Window geometry shared by Conv, ConvTranspose, ConvInteger, QLinearConv and the pooling ops:
// attribute parsing (kernel_shape, strides, dilations, pads, auto_pad, group, ceil_mode) and
// output-shape arithmetic, following the ONNX operator spec.
//
// Layout is NCHW-style: X is [N, C, D1, ..., Dk]; spatial vectors below have k entries.
// pads_begin[i] / pads_end[i] are the implicit zero (or -inf for MaxPool) padding of spatial dim i.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bitsmith/core/shape.h"
#include "bitsmith/core/status.h"
#include "bitsmith/ir/graph.h"

namespace bitsmith::kernels {

// Most spatial dims a window op accepts (Conv3D has 3; the limit keeps index arrays fixed-size).
inline constexpr int kMaxSpatialRank = 6;

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

// Attributes as written on the node (empty vectors where absent), validated for sign and
// length only; shape-dependent checks happen in the *_geometry functions.
struct WindowAttrs {
  AutoPad auto_pad = AutoPad::kNotSet;
  std::vector<int64_t> kernel_shape, strides, dilations, pads;
  int64_t group = 1;
  bool ceil_mode = false;
  // ConvTranspose only.
  std::vector<int64_t> output_padding, output_shape;
};

// Reads the attributes of `node`; errors name the node and the attribute.
Expected<WindowAttrs> parse_window_attrs(const Node& node);

struct WindowGeometry {
  int64_t batch = 0;
  int64_t in_channels = 0;   // C of X
  int64_t out_channels = 0;  // M of Y (== in_channels for pooling)
  int64_t group = 1;
  Shape in_spatial, out_spatial, kernel, strides, dilations, pads_begin, pads_end;

  int rank() const { return static_cast<int>(in_spatial.size()); }
  int64_t in_size() const;      // product of in_spatial
  int64_t out_size() const;     // product of out_spatial
  int64_t kernel_size() const;  // product of kernel
  Shape out_shape() const;      // [batch, out_channels, out_spatial...]
};

// Conv / ConvInteger / QLinearConv: X [N, C, ...], W [M, C/group, k...].
Expected<WindowGeometry> conv_geometry(const WindowAttrs& attrs, const Shape& x, const Shape& w,
                                       const Node& node);

// ConvTranspose: X [N, C, ...], W [C, M/group, k...]; out_channels = W[1] * group. The geometry
// describes the transposed window: in_spatial is X's, out_spatial Y's, pads are Y-side pads.
Expected<WindowGeometry> conv_transpose_geometry(const WindowAttrs& attrs, const Shape& x,
                                                 const Shape& w, const Node& node);

// MaxPool / AveragePool: X [N, C, ...], kernel_shape required; honours ceil_mode.
Expected<WindowGeometry> pool_geometry(const WindowAttrs& attrs, const Shape& x, const Node& node);

}  // namespace bitsmith::kernels
