#pragma once
// What max_pool2d, avg_pool2d and their backward ops share: the window read from pool_size
// (strides default to it), the pooled shape, and the activation formats pooling walks.

#include <oneapi/dnnl/dnnl.hpp>

#include "ops/window_common.hpp"

namespace loom {

// The window of a pooling node on x [N, H, W, C]; refuses anything but a 4-D x and one or two
// positive pool sizes.
Window pool_window(const Node& node, const Shape& x);

inline Shape pooled_shape(const Shape& x, const Window& w) {
  return {x[0], w.axes[0].output, w.axes[1].output, x[3]};
}

// The activation format `desc` is in (nhwc, nchw or channels blocked by 16, 8 or 4), applied
// to an f32 image of shape x; nhwc when the format is none of these.
dnnl::memory::desc same_format(const dnnl::memory::desc& desc, const Shape& x);

}  // namespace loom
