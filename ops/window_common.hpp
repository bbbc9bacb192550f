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

// Reads `strides`, `padding` and `dilation` from the node (with the kernel given), checks them
// against the input's spatial size, and computes the output size and the padding.
Window read_window(const Node& node, int64_t input_h, int64_t input_w, int64_t kernel_h,
                   int64_t kernel_w, bool allow_dilation);

// Attribute specs for the window: strides, padding, dilation (and pool_size for pooling).
std::vector<AttributeSpec> window_attributes(bool pooling);

// [N, H, W, C] as oneDNN's (N, C, H, W) dims with the nhwc layout.
dnnl::memory::desc nhwc_desc(const Shape& shape);

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
