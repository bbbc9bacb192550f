#pragma once
// What conv2d and the pooling ops share: channels-last images [N, H, W, C] (Keras's default
// layout; the plain layout of an image in the plan, see engine/exec/layout.hpp), the window
// attributes (kernel, strides, padding, dilation) and their oneDNN descriptors.

#include <oneapi/dnnl/dnnl.hpp>

#include "engine/graph/conv_geometry.hpp"
#include "engine/graph/op.hpp"

namespace loom {

struct Window {
  int64_t kernel[2];
  int64_t strides[2];
  int64_t dilation[2];  // 1: no gaps
  std::string padding;  // valid or same
  WindowAxis axes[2];   // for the input's H and W
};

// For the reference forwards (Op::reference): the input position that tap `k` of output
// position `out` reads along one axis of `input` positions, or nullopt when the tap falls in
// the padding. `dilation` counts as Keras does (1: adjacent taps).
inline std::optional<int64_t> window_tap(const Window& w, int axis, int64_t input, int64_t out,
                                         int64_t k, int64_t dilation) {
  const int64_t position = out * w.strides[axis] - w.axes[axis].pad_begin + k * dilation;
  if (position < 0 || position >= input) return std::nullopt;
  return position;
}

// Where element [a, b, c, d] of a row-major 4-D tensor of `shape` lies: an image [N, H, W, C]
// or a kernel [KH, KW, Cin, Cout] in its plain layout.
inline size_t offset4(const Shape& shape, int64_t a, int64_t b, int64_t c, int64_t d) {
  return size_t(((a * shape[1] + b) * shape[2] + c) * shape[3] + d);
}

// Reads `strides`, `padding` and `dilation` from the node (with the kernel given), checks them
// against the input's spatial size, and computes the output size and the padding.
Window read_window(const Node& node, int64_t input_h, int64_t input_w, int64_t kernel_h,
                   int64_t kernel_w, bool allow_dilation);

// Attribute specs for the window: strides, padding, dilation (and pool_size for pooling).
std::vector<AttributeSpec> window_attributes(bool pooling);

// [N, H, W, C] as oneDNN's (N, C, H, W) dims with the nhwc layout.
dnnl::memory::desc nhwc_desc(const Shape& shape);
// The same dims with format_tag::any, for oneDNN to choose the format.
dnnl::memory::desc any_image_desc(const Shape& shape);

inline dnnl::memory::dims window_strides(const Window& w) {
  return {w.strides[0], w.strides[1]};
}
inline dnnl::memory::dims window_kernel(const Window& w) {
  return {w.kernel[0], w.kernel[1]};
}
// oneDNN counts dilation from 0 (no gaps), Keras from 1.
inline dnnl::memory::dims window_dilation(const Window& w) {
  return {w.dilation[0] - 1, w.dilation[1] - 1};
}
inline dnnl::memory::dims padding_begin(const Window& w) {
  return {w.axes[0].pad_begin, w.axes[1].pad_begin};
}
inline dnnl::memory::dims padding_end(const Window& w) {
  return {w.axes[0].pad_end, w.axes[1].pad_end};
}

}  // namespace loom
