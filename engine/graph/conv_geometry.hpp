#pragma once
// The arithmetic of 2-D windows (convolution and pooling), as Keras and TensorFlow define it,
// shared by the ops and by the `layers:` expansion that must know each layer's output shape:
//   valid: out = floor((in - dilation·(kernel - 1) - 1) / stride) + 1, no padding
//   same:  out = ceil(in / stride), padding total = max((out - 1)·stride + dilation·(kernel - 1)
//          + 1 - in, 0), split with the odd element at the end (bottom / right)

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

// nullopt when the window does not fit (a valid window larger than the input). The
// attributes are checked first (SizeError): a dilation of 2^62 must be refused here, at the
// forward op or layer, not wrap around and reach oneDNN or a generated backward node.
inline std::optional<WindowAxis> window_axis(int64_t input, int64_t kernel, int64_t stride,
                                             int64_t dilation, const std::string& padding) {
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
  if (padding == "valid") {
    if (input < extent) return std::nullopt;
    return WindowAxis{(input - extent) / stride + 1, 0, 0};
  }
  const int64_t output = (input + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((output - 1) * stride + extent - input, 0);
  return WindowAxis{output, total / 2, total - total / 2};
}

}  // namespace loom
