#include "runtime/kernels/conv_geometry.h"

#include <algorithm>

namespace bitsmith::kernels {
namespace {

Status attr_error(const Node& node, const std::string& msg) {
  return invalid_model(node.describe() + ": " + msg);
}

std::string ints_str(const std::vector<int64_t>& v) { return shape_str(v); }

// Checks the spatial attribute vectors against the spatial rank; fills defaults.
Status fill_spatial(const WindowAttrs& attrs, int rank, const Node& node, WindowGeometry& g) {
  const auto check_len = [&](const std::vector<int64_t>& v, size_t want, const char* name) -> Status {
    if (!v.empty() && v.size() != want)
      return attr_error(node, std::string(name) + " " + ints_str(v) + " has " + std::to_string(v.size()) +
                                  " entries, expected " + std::to_string(want) + " for a rank-" +
                                  std::to_string(rank + 2) + " input");
    return Status::ok();
  };
  const size_t r = static_cast<size_t>(rank);
  BS_TRY(check_len(attrs.kernel_shape, r, "kernel_shape"));
  BS_TRY(check_len(attrs.strides, r, "strides"));
  BS_TRY(check_len(attrs.dilations, r, "dilations"));
  BS_TRY(check_len(attrs.pads, 2 * r, "pads"));
  g.strides = attrs.strides.empty() ? Shape(r, 1) : attrs.strides;
  g.dilations = attrs.dilations.empty() ? Shape(r, 1) : attrs.dilations;
  g.pads_begin.assign(r, 0);
  g.pads_end.assign(r, 0);
  if (attrs.auto_pad == AutoPad::kNotSet && !attrs.pads.empty()) {
    for (size_t i = 0; i < r; ++i) {
      g.pads_begin[i] = attrs.pads[i];
      g.pads_end[i] = attrs.pads[i + r];
    }
  }
  return Status::ok();
}

// Forward-window output size per spatial dim (Conv and pooling); updates pads for SAME_*.
Status forward_out_sizes(const WindowAttrs& attrs, const Node& node, WindowGeometry& g) {
  const int r = g.rank();
  g.out_spatial.assign(r, 0);
  for (int i = 0; i < r; ++i) {
    const int64_t in = g.in_spatial[i], s = g.strides[i];
    const int64_t ext = (g.kernel[i] - 1) * g.dilations[i] + 1;  // dilated window extent
    int64_t out = 0;
    if (attrs.auto_pad == AutoPad::kSameUpper || attrs.auto_pad == AutoPad::kSameLower) {
      out = (in + s - 1) / s;
      const int64_t total = std::max<int64_t>(0, (out - 1) * s + ext - in);
      g.pads_begin[i] = attrs.auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
      g.pads_end[i] = total - g.pads_begin[i];
    } else {
      const int64_t span = in + g.pads_begin[i] + g.pads_end[i] - ext;
      if (span < 0)
        return attr_error(node, "window extent " + std::to_string(ext) + " exceeds padded input size " +
                                    std::to_string(in + g.pads_begin[i] + g.pads_end[i]) +
                                    " on spatial axis " + std::to_string(i));
      out = attrs.ceil_mode ? (span + s - 1) / s + 1 : span / s + 1;
      // ceil_mode: the last window must start inside the input or its begin padding.
      if (attrs.ceil_mode && (out - 1) * s >= in + g.pads_begin[i]) --out;
    }
    g.out_spatial[i] = out;
  }
  return Status::ok();
}

Status check_positive(const Shape& v, const char* name, const Node& node) {
  for (int64_t x : v)
    if (x <= 0) return attr_error(node, std::string(name) + " " + ints_str(v) + " must be positive");
  return Status::ok();
}

Status check_input_rank(const Shape& x, const Node& node) {
  if (x.size() < 3)
    return attr_error(node, "input X has shape " + shape_str(x) + ", expected rank >= 3 ([N, C, spatial...])");
  if (x.size() > static_cast<size_t>(kMaxSpatialRank) + 2)
    return unsupported(node.describe() + ": input X has shape " + shape_str(x) + ", at most " +
                       std::to_string(kMaxSpatialRank) + " spatial dims are supported");
  return Status::ok();
}

}  // namespace

int64_t WindowGeometry::in_size() const { return shape_numel(in_spatial); }
int64_t WindowGeometry::out_size() const { return shape_numel(out_spatial); }
int64_t WindowGeometry::kernel_size() const { return shape_numel(kernel); }
Shape WindowGeometry::out_shape() const {
  Shape s{batch, out_channels};
  s.insert(s.end(), out_spatial.begin(), out_spatial.end());
  return s;
}

Expected<WindowAttrs> parse_window_attrs(const Node& node) {
  WindowAttrs a;
  const std::string pad = node.attr_string("auto_pad", "NOTSET");
  if (pad == "NOTSET" || pad.empty()) a.auto_pad = AutoPad::kNotSet;
  else if (pad == "SAME_UPPER") a.auto_pad = AutoPad::kSameUpper;
  else if (pad == "SAME_LOWER") a.auto_pad = AutoPad::kSameLower;
  else if (pad == "VALID") a.auto_pad = AutoPad::kValid;
  else return attr_error(node, "auto_pad \"" + pad + "\" is not one of [NOTSET, SAME_UPPER, SAME_LOWER, VALID]");
  a.kernel_shape = node.attr_ints("kernel_shape");
  a.strides = node.attr_ints("strides");
  a.dilations = node.attr_ints("dilations");
  a.pads = node.attr_ints("pads");
  a.group = node.attr_int("group", 1);
  a.ceil_mode = node.attr_int("ceil_mode", 0) != 0;
  a.output_padding = node.attr_ints("output_padding");
  a.output_shape = node.attr_ints("output_shape");
  if (a.group <= 0) return attr_error(node, "group " + std::to_string(a.group) + " must be positive");
  BS_TRY(check_positive(a.kernel_shape, "kernel_shape", node));
  BS_TRY(check_positive(a.strides, "strides", node));
  BS_TRY(check_positive(a.dilations, "dilations", node));
  for (int64_t p : a.pads)
    if (p < 0) return attr_error(node, "pads " + ints_str(a.pads) + " must be non-negative");
  for (int64_t p : a.output_padding)
    if (p < 0) return attr_error(node, "output_padding " + ints_str(a.output_padding) + " must be non-negative");
  return a;
}

Expected<WindowGeometry> conv_geometry(const WindowAttrs& attrs, const Shape& x, const Shape& w,
                                       const Node& node) {
  BS_TRY(check_input_rank(x, node));
  const int rank = static_cast<int>(x.size()) - 2;
  if (w.size() != x.size())
    return attr_error(node, "weight W has shape " + shape_str(w) + ", expected rank " +
                                std::to_string(x.size()) + " to match X " + shape_str(x));
  WindowGeometry g;
  g.batch = x[0];
  g.in_channels = x[1];
  g.out_channels = w[0];
  g.group = attrs.group;
  g.in_spatial.assign(x.begin() + 2, x.end());
  g.kernel.assign(w.begin() + 2, w.end());
  if (!attrs.kernel_shape.empty() && attrs.kernel_shape != g.kernel)
    return attr_error(node, "kernel_shape " + ints_str(attrs.kernel_shape) + " does not match W " + shape_str(w));
  if (g.in_channels % g.group != 0 || g.out_channels % g.group != 0 || w[1] * g.group != g.in_channels)
    return attr_error(node, "X " + shape_str(x) + " and W " + shape_str(w) + " do not fit group " +
                                std::to_string(g.group) + " (expected W[1] * group == C and M % group == 0)");
  BS_TRY(fill_spatial(attrs, rank, node, g));
  BS_TRY(forward_out_sizes(attrs, node, g));
  return g;
}

Expected<WindowGeometry> conv_transpose_geometry(const WindowAttrs& attrs, const Shape& x, const Shape& w,
                                                 const Node& node) {
  BS_TRY(check_input_rank(x, node));
  const int rank = static_cast<int>(x.size()) - 2;
  const size_t r = static_cast<size_t>(rank);
  if (w.size() != x.size())
    return attr_error(node, "weight W has shape " + shape_str(w) + ", expected rank " + std::to_string(x.size()));
  WindowGeometry g;
  g.batch = x[0];
  g.in_channels = x[1];
  g.group = attrs.group;
  g.out_channels = w[1] * g.group;
  g.in_spatial.assign(x.begin() + 2, x.end());
  g.kernel.assign(w.begin() + 2, w.end());
  if (!attrs.kernel_shape.empty() && attrs.kernel_shape != g.kernel)
    return attr_error(node, "kernel_shape " + ints_str(attrs.kernel_shape) + " does not match W " + shape_str(w));
  if (w[0] != g.in_channels || g.in_channels % g.group != 0)
    return attr_error(node, "X " + shape_str(x) + " and W " + shape_str(w) + " do not fit group " +
                                std::to_string(g.group) + " (expected W[0] == C and C % group == 0)");
  BS_TRY(fill_spatial(attrs, rank, node, g));
  if (!attrs.output_padding.empty() && attrs.output_padding.size() != r)
    return attr_error(node, "output_padding " + ints_str(attrs.output_padding) + " has the wrong length");
  std::vector<int64_t> out_shape = attrs.output_shape;
  if (out_shape.size() == r + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
  if (!out_shape.empty() && out_shape.size() != r)
    return attr_error(node, "output_shape " + ints_str(attrs.output_shape) + " has the wrong length");
  g.out_spatial.assign(r, 0);
  for (size_t i = 0; i < r; ++i) {
    const int64_t in = g.in_spatial[i], s = g.strides[i];
    const int64_t adj = attrs.output_padding.empty() ? 0 : attrs.output_padding[i];
    const int64_t natural = s * (in - 1) + adj + (g.kernel[i] - 1) * g.dilations[i] + 1;
    int64_t out = 0;
    if (!out_shape.empty() || attrs.auto_pad == AutoPad::kSameUpper || attrs.auto_pad == AutoPad::kSameLower) {
      out = !out_shape.empty() ? out_shape[i] : in * s;
      // Positions past the natural extent (total < 0) receive only the bias.
      const int64_t total = std::max<int64_t>(0, natural - out);
      g.pads_begin[i] = attrs.auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
      g.pads_end[i] = total - g.pads_begin[i];
    } else {
      out = natural - g.pads_begin[i] - g.pads_end[i];
    }
    if (out < 0)
      return attr_error(node, "output size " + std::to_string(out) + " on spatial axis " + std::to_string(i) +
                                  " is negative (pads too large)");
    g.out_spatial[i] = out;
  }
  return g;
}

Expected<WindowGeometry> pool_geometry(const WindowAttrs& attrs, const Shape& x, const Node& node) {
  BS_TRY(check_input_rank(x, node));
  const int rank = static_cast<int>(x.size()) - 2;
  if (attrs.kernel_shape.size() != static_cast<size_t>(rank))
    return attr_error(node, "kernel_shape " + ints_str(attrs.kernel_shape) + " must have " +
                                std::to_string(rank) + " entries for input " + shape_str(x));
  WindowGeometry g;
  g.batch = x[0];
  g.in_channels = g.out_channels = x[1];
  g.in_spatial.assign(x.begin() + 2, x.end());
  g.kernel = attrs.kernel_shape;
  BS_TRY(fill_spatial(attrs, rank, node, g));
  for (int i = 0; i < rank; ++i)
    if (g.pads_begin[i] >= g.kernel[i] || g.pads_end[i] >= g.kernel[i])
      return attr_error(node, "pads " + ints_str(attrs.pads) + " must be smaller than kernel_shape " +
                                  ints_str(g.kernel));
  BS_TRY(forward_out_sizes(attrs, node, g));
  return g;
}

}  // namespace bitsmith::kernels
