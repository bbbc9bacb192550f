#pragma once
// The arithmetic of 2-D windows (convolution and pooling), as Keras and TensorFlow define it,
// shared by the ops and by the `layers:` expansion that must know each layer's output shape:
//   valid: out = floor((in - dilation·(kernel - 1) - 1) / stride) + 1, no padding
//   same:  out = ceil(in / stride), padding total = max((out - 1)·stride + dilation·(kernel - 1)
//          + 1 - in, 0), split with the odd element at the end (bottom / right)
//   explicit (ONNX's and PyTorch's pads): out = floor((in + begin + end - extent) / stride) + 1
//          with extent = dilation·(kernel - 1) + 1

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

#include "engine/core/checked.hpp"

namespace loom {

struct WindowAxis {
  int64_t output = 0;
  int64_t pad_begin = 0;
  int64_t pad_end = 0;
};

// The positions a window spans, dilation·(kernel - 1) + 1. The attributes are checked first
// (SizeError): a dilation of 2^62 must be refused here, at the forward op or layer, not wrap
// around and reach oneDNN or a generated backward node.
inline int64_t window_extent(int64_t input, int64_t kernel, int64_t stride, int64_t dilation) {
  checked_range(kernel, 1, kMaxWindowExtent, "kernel size");
  checked_range(stride, 1, kMaxWindowExtent, "stride");
  checked_range(dilation, 1, kMaxWindowExtent, "dilation");
  checked_range(input, 1, kMaxElements, "input size");
  // Both factors are below 2^31, so the product fits; the extent is then bounded like them.
  const int64_t extent = dilation * (kernel - 1) + 1;
  if (extent > kMaxWindowExtent) {
    throw SizeError("a window of " + std::to_string(kernel) + " with dilation " +
                    std::to_string(dilation) + " spans " + std::to_string(extent) +
                    " positions, more than the limit of " + std::to_string(kMaxWindowExtent));
  }
  return extent;
}

// nullopt when the window does not fit (a valid window larger than the input).
inline std::optional<WindowAxis> window_axis(int64_t input, int64_t kernel, int64_t stride,
                                             int64_t dilation, const std::string& padding) {
  const int64_t extent = window_extent(input, kernel, stride, dilation);
  if (padding == "valid") {
    if (input < extent) return std::nullopt;
    return WindowAxis{(input - extent) / stride + 1, 0, 0};
  }
  const int64_t output = (input + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((output - 1) * stride + extent - input, 0);
  return WindowAxis{output, total / 2, total - total / 2};
}

// An axis padded by `begin` and `end` positions (ONNX's and PyTorch's pads); nullopt when the
// window does not fit the padded input.
inline std::optional<WindowAxis> explicit_window_axis(int64_t input, int64_t kernel, int64_t stride,
                                                      int64_t dilation, int64_t begin,
                                                      int64_t end) {
  const int64_t extent = window_extent(input, kernel, stride, dilation);
  for (int64_t pad : {begin, end}) {
    checked_range(pad, 0, kMaxWindowExtent, "pad");
  }
  if (input + begin + end < extent) return std::nullopt;
  return WindowAxis{(input + begin + end - extent) / stride + 1, begin, end};
}

}  // namespace loom
