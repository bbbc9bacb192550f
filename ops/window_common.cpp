#include "ops/window_common.hpp"

#include <algorithm>

namespace loom {

namespace {

// An integer pair attribute, given as [a, b] (or a single-element list for both).
void read_pair(const Node& node, const std::string& name, int64_t fallback, int64_t out[2]) {
  const std::vector<int64_t> values = node.attributes.get_ints(name, {fallback, fallback});
  if (values.empty() || values.size() > 2 || values[0] < 1 || values.back() < 1) {
    fail_node(node, name + " must be one or two positive integers, got " +
                        to_string(AttributeValue(values)));
  }
  out[0] = values[0];
  out[1] = values.back();
}

// The pads attribute: four non-negative integers with padding explicit, absent otherwise.
std::vector<int64_t> read_pads(const Node& node, bool explicit_padding) {
  if (!explicit_padding) {
    if (node.attributes.has("pads")) fail_node(node, "pads needs padding: explicit");
    return {};
  }
  const std::vector<int64_t> pads = node.attributes.get_ints("pads", {});
  if (pads.size() != 4) {
    fail_node(node, "padding explicit needs pads [top, left, bottom, right], got " +
                        (node.attributes.has("pads") ? to_string(AttributeValue(pads))
                                                     : std::string("none")));
  }
  return pads;
}

}  // namespace

std::vector<AttributeSpec> window_attributes(bool pooling) {
  std::vector<AttributeSpec> specs = {
      {"strides", AttributeKind::integers, "[sh, sw] (default 1, or the pool size)"},
      {"padding", AttributeKind::text, "valid (default), same or explicit (with pads)"},
      {"pads", AttributeKind::integers,
       "[top, left, bottom, right] with padding explicit (ONNX's and PyTorch's padding)"}};
  if (pooling) {
    specs.push_back({"pool_size", AttributeKind::integers, "[ph, pw] (default [2, 2])"});
    specs.push_back({"count_padding", AttributeKind::boolean,
                     "avg_pool2d: count padded taps in the mean (PyTorch's count_include_pad; "
                     "default false, as Keras)"});
  } else {
    specs.push_back({"dilation", AttributeKind::integers, "[dh, dw] (default 1)"});
  }
  return specs;
}

Window read_window(const Node& node, int64_t input_h, int64_t input_w, int64_t kernel_h,
                   int64_t kernel_w, bool allow_dilation) {
  Window window{};
  window.kernel[0] = kernel_h;
  window.kernel[1] = kernel_w;
  read_pair(node, "strides", allow_dilation ? 1 : kernel_h, window.strides);
  if (!allow_dilation && !node.attributes.has("strides")) window.strides[1] = kernel_w;
  read_pair(node, "dilation", 1, window.dilation);
  window.padding = node.attributes.get_text("padding", "valid");
  if (window.padding != "valid" && window.padding != "same" && window.padding != "explicit") {
    fail_node(node, "unknown padding '" + window.padding + "' (known: explicit, same, valid)");
  }
  const std::vector<int64_t> pads = read_pads(node, window.padding == "explicit");
  const int64_t inputs[2] = {input_h, input_w};
  for (int axis = 0; axis < 2; ++axis) {
    std::optional<WindowAxis> computed;
    try {
      computed = pads.empty() ? window_axis(inputs[axis], window.kernel[axis], window.strides[axis],
                                            window.dilation[axis], window.padding)
                              : explicit_window_axis(inputs[axis], window.kernel[axis],
                                                     window.strides[axis], window.dilation[axis],
                                                     pads[size_t(axis)], pads[size_t(axis) + 2]);
    } catch (const SizeError& error) {
      fail_node(node, error.what());
    }
    if (!computed) {
      fail_node(node, "a " + std::to_string(window.kernel[axis]) + "-wide window (dilation " +
                          std::to_string(window.dilation[axis]) + ") does not fit an input of " +
                          std::to_string(inputs[axis]) + " with padding '" + window.padding + "'" +
                          (pads.empty() ? "" : " " + to_string(AttributeValue(pads))));
    }
    // A pooling window lying wholly in the padding would have no taps to take.
    if (!allow_dilation &&
        std::max(computed->pad_begin, computed->pad_end) >= window.kernel[axis]) {
      fail_node(node, "pads " + to_string(AttributeValue(pads)) +
                          " reach past a pooling window of " + std::to_string(window.kernel[axis]) +
                          " (each pad must be smaller)");
    }
    window.axes[axis] = *computed;
  }
  return window;
}

dnnl::memory::desc nhwc_desc(const Shape& shape) {
  return dnnl::memory::desc({shape[0], shape[3], shape[1], shape[2]}, dnnl::memory::data_type::f32,
                            dnnl::memory::format_tag::nhwc);
}

dnnl::memory::desc any_image_desc(const Shape& shape) {
  return dnnl::memory::desc({shape[0], shape[3], shape[1], shape[2]}, dnnl::memory::data_type::f32,
                            dnnl::memory::format_tag::any);
}

}  // namespace loom
