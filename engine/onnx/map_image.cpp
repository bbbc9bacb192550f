// ONNX's image ops: Conv, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, Pad and
// BatchNormalization. ONNX lays images out [N, C, H, W], the engine [N, H, W, C] (oneDNN's
// fast kernels, Keras's layout): an image is transposed once where it enters a chain of these
// ops (NodeContext::channels_last), element-wise ops between them keep it so, and it is
// transposed back only where a node reads the ONNX layout (a Flatten before a Gemm).
// Weights keep ONNX's layout and name, so a checkpoint matches the exporter's state_dict: a
// Conv's [O, I/G, KH, KW] kernel is transposed to the engine's [KH, KW, I/G, O] in the graph.

#include <algorithm>

#include "engine/core/checked.hpp"
#include "engine/graph/conv_geometry.hpp"
#include "engine/onnx/node_context.hpp"

namespace loom {

namespace {

// An ONNX window attribute over the two spatial axes: `name` (kernel_shape, strides,
// dilations) with two entries, or the default for both.
std::vector<int64_t> spatial_pair(NodeContext& node, const std::string& name, int64_t fallback) {
  const std::vector<int64_t> values = node.integers(name, {fallback, fallback});
  if (values.size() != 2) {
    node.refuse(name + " has " + std::to_string(values.size()) +
                " entries; the engine's windows are 2-D (images [N, C, H, W])");
  }
  for (int64_t value : values) {
    if (value < 1 || value > kMaxWindowExtent) {
      node.refuse(name + " must be in [1, " + std::to_string(kMaxWindowExtent) + "], got " +
                  std::to_string(value));
    }
  }
  return values;
}

// Pads read from the file, each in [0, kMaxWindowExtent] (so that sums of them cannot
// overflow before the engine's op checks the window).
std::vector<int64_t> checked_pads(NodeContext& node, std::vector<int64_t> pads) {
  for (int64_t pad : pads) {
    if (pad < 0 || pad > kMaxWindowExtent) {
      node.refuse("pads " + to_string(pads) + ": each must be in [0, " +
                  std::to_string(kMaxWindowExtent) + "]");
    }
  }
  return pads;
}

struct OnnxWindow {
  std::vector<int64_t> kernel, strides, dilations;
  std::vector<int64_t> pads;  // [top, left, bottom, right], as ONNX and the engine order them
};

// SAME_UPPER puts an odd padding element at the end (the engine's `same`), SAME_LOWER at the
// beginning; NOTSET reads pads; VALID pads nothing.
std::vector<int64_t> onnx_pads(NodeContext& node, const OnnxWindow& w, const Shape& x_nhwc) {
  const std::string auto_pad = node.text("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET") {
    const std::vector<int64_t> pads = checked_pads(node, node.integers("pads", {0, 0, 0, 0}));
    if (pads.size() != 4) {
      node.refuse("pads has " + std::to_string(pads.size()) + " entries; expected 4 for an image");
    }
    return pads;
  }
  if (node.has_attribute("pads")) node.refuse("pads is given with auto_pad " + auto_pad);
  if (auto_pad == "VALID") return {0, 0, 0, 0};
  if (auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER") {
    node.refuse("unknown auto_pad '" + auto_pad +
                "' (known: NOTSET, SAME_UPPER, SAME_LOWER, VALID)");
  }
  std::vector<int64_t> pads(4);
  for (size_t axis = 0; axis < 2; ++axis) {
    std::optional<WindowAxis> same;
    try {
      same =
          window_axis(x_nhwc[axis + 1], w.kernel[axis], w.strides[axis], w.dilations[axis], "same");
    } catch (const SizeError& error) {
      node.refuse(error.what());
    }
    const bool lower = auto_pad == "SAME_LOWER";
    pads[axis] = lower ? same->pad_end : same->pad_begin;
    pads[axis + 2] = lower ? same->pad_begin : same->pad_end;
  }
  return pads;
}

// ceil_mode 1 rounds the output size up: the last window may run past the end, into padding
// added there for it. As in PyTorch and ONNX's reference, a window must start inside the
// image or its leading padding.
void add_ceil_padding(OnnxWindow& w, const Shape& x_nhwc) {
  for (size_t axis = 0; axis < 2; ++axis) {
    const int64_t padded = x_nhwc[axis + 1] + w.pads[axis] + w.pads[axis + 2];
    const int64_t extent = w.dilations[axis] * (w.kernel[axis] - 1) + 1;
    if (padded < extent) return;  // the engine's op refuses it, naming the sizes
    int64_t outputs = (padded - extent + w.strides[axis] - 1) / w.strides[axis] + 1;
    if ((outputs - 1) * w.strides[axis] >= x_nhwc[axis + 1] + w.pads[axis]) --outputs;
    w.pads[axis + 2] += (outputs - 1) * w.strides[axis] + extent - padded;
  }
}

OnnxWindow read_onnx_window(NodeContext& node, const Shape& x_nhwc, std::vector<int64_t> kernel) {
  OnnxWindow w{.kernel = std::move(kernel),
               .strides = spatial_pair(node, "strides", 1),
               .dilations = spatial_pair(node, "dilations", 1)};
  w.pads = onnx_pads(node, w, x_nhwc);
  return w;
}

// The engine's window attributes for `w`: strides, and padding valid or explicit with pads.
Attributes window_attributes(const OnnxWindow& w) {
  Attributes attributes;
  attributes.set("strides", w.strides);
  const bool padded = std::ranges::any_of(w.pads, [](int64_t pad) { return pad != 0; });
  attributes.set("padding", std::string(padded ? "explicit" : "valid"));
  if (padded) attributes.set("pads", w.pads);
  return attributes;
}

// The window's pads plus a Pad's zeros folded into it.
void add_pads(OnnxWindow& w, const std::vector<int64_t>& more) {
  for (size_t i = 0; i < 4; ++i) w.pads[i] += more[i];
}

bool any_nonzero(const std::vector<int64_t>& values) {
  return std::ranges::any_of(values, [](int64_t value) { return value != 0; });
}

void map_conv(NodeContext& node) {
  node.accept_attributes({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
  node.expect_inputs(2, 3);
  const std::vector<int64_t> padded = node.take_window_pad(0);
  const std::string x = node.channels_last(0, "Conv");
  const std::string onnx_kernel = node.value(1);
  if (node.batch_major(onnx_kernel)) node.refuse("its kernel is computed from the data");
  const Shape& w = node.shape(onnx_kernel);  // [O, I/G, KH, KW]
  if (w.size() != 4) node.refuse("expected a kernel [O, I/group, KH, KW], got " + to_string(w));
  const std::vector<int64_t> kernel = {w[2], w[3]};
  if (node.integers("kernel_shape", kernel) != kernel) {
    node.refuse("kernel_shape does not match the kernel " + to_string(w));
  }
  OnnxWindow window = read_onnx_window(node, node.shape(x), kernel);
  add_pads(window, padded);
  Attributes attributes = window_attributes(window);
  attributes.set("dilation", window.dilations);
  attributes.set("groups", node.integer("group", 1));
  std::vector<std::string> inputs = {
      x, node.step("kernel", "transpose", {onnx_kernel}, {{"perm", Shape{2, 3, 1, 0}}})};
  if (node.has_input(2)) inputs.push_back(node.weight(2, {w[0]}));
  node.emit_channels_last("conv2d", inputs, attributes);
}

// MaxPool and AveragePool (engine ops max_pool2d and avg_pool2d).
Mapper pool(const char* engine_op) {
  const bool max = std::string(engine_op) == "max_pool2d";
  return [engine_op, max](NodeContext& node) {
    if (max) {
      node.accept_attributes({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads",
                              "storage_order", "strides"});
      if (node.has_output(1)) node.refuse("its Indices output is read; the engine keeps them");
    } else {
      node.accept_attributes({"auto_pad", "ceil_mode", "count_include_pad", "dilations",
                              "kernel_shape", "pads", "strides"});
    }
    node.expect_inputs(1, 1);
    if (!node.has_attribute("kernel_shape")) node.refuse("kernel_shape is required");
    // A Pad's zeros before an average are taps it counts (a maximum's padding never wins, so
    // MaxPool reading a Pad is refused when it reads the Pad's output).
    const std::vector<int64_t> padded =
        max ? std::vector<int64_t>{0, 0, 0, 0} : node.take_window_pad(0);
    const std::string x = node.channels_last(0, node.op());
    OnnxWindow window =
        read_onnx_window(node, node.shape(x), spatial_pair(node, "kernel_shape", 1));
    if (window.dilations != std::vector<int64_t>{1, 1}) {
      node.refuse("dilations " + to_string(window.dilations) + ": the engine's pooling has none");
    }
    bool count_padding = node.integer("count_include_pad", 0) != 0;
    if (any_nonzero(padded)) {
      if (any_nonzero(window.pads) && !count_padding) {
        node.refuse(
            "reads a Pad's zeros, which it counts, and pads itself too, which it does "
            "not count; the engine counts all of its padding or none");
      }
      add_pads(window, padded);
      count_padding = true;
    }
    if (node.integer("ceil_mode", 0) != 0) {
      if (count_padding) {
        node.refuse(
            "ceil_mode with count_include_pad counts some padding and not the rest; "
            "the engine counts all of it or none");
      }
      add_ceil_padding(window, node.shape(x));
    }
    Attributes attributes = window_attributes(window);
    attributes.set("pool_size", window.kernel);
    if (count_padding) attributes.set("count_padding", true);
    node.emit_channels_last(engine_op, {x}, attributes);
  };
}

// Pad with zeros on the two image axes, read by a Conv or AveragePool that folds the zeros
// into its own padding (NodeContext::take_window_pad); any other reader is refused. Opsets
// before 11 give pads and value as attributes, later ones as inputs.
void map_pad(NodeContext& node) {
  node.accept_attributes({"mode", "pads", "value"});
  node.expect_inputs(1, node.opset() < 11 ? 1 : 3);
  if (node.text("mode", "constant") != "constant") {
    node.refuse("mode '" + node.text("mode", "constant") + "': the engine pads with zeros only");
  }
  const std::vector<int64_t> pads =
      checked_pads(node, node.opset() < 11 ? node.integers("pads", {}) : node.integer_constant(1));
  const double value = node.opset() < 11   ? node.real("value", 0.0)
                       : node.has_input(2) ? node.real_scalar(2)
                                           : 0.0;
  if (value != 0.0) node.refuse("pads with " + std::to_string(value) + "; the engine pads zeros");
  // [N, C, H, W] begins, then ends: only H and W may be padded, by non-negative amounts.
  if (pads.size() != 8 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0) {
    node.refuse("pads " + to_string(pads) +
                ": the engine folds only zero padding of an image's height and width into the "
                "Conv or AveragePool after it");
  }
  node.pad_for_window({pads[2], pads[3], pads[6], pads[7]});
}

// GlobalAveragePool: the engine's [N, C] mean, which is ONNX's [N, C, 1, 1] reshaped (no
// transpose: the image axes are 1).
void map_global_average_pool(NodeContext& node) {
  node.accept_attributes({});
  node.expect_inputs(1, 1);
  const std::string x = node.channels_last(0, "GlobalAveragePool");
  const int64_t channels = node.shape(x)[3];
  const std::string pooled = node.step("pooled", "global_avg_pool2d", {x});
  node.emit("reshape", {pooled}, {{"shape", Shape{-1, channels, 1, 1}}});
}

void map_global_max_pool(NodeContext& node) {
  node.accept_attributes({});
  node.expect_inputs(1, 1);
  const std::string x = node.channels_last(0, "GlobalMaxPool");
  const Shape& shape = node.shape(x);
  node.emit_channels_last("max_pool2d", {x}, {{"pool_size", Shape{shape[1], shape[2]}}});
}

// BatchNormalization: the engine's batch_norm, which normalizes with the batch's statistics
// while it trains and updates the moving ones (ONNX's and Keras's momentum), and uses the
// moving ones when it evaluates or predicts, as PyTorch's train() and eval() do. So both of
// PyTorch's exports map to it: eval (training_mode 0) and TRAINING (training_mode 1, whose
// running-statistics outputs feed a training runtime's update, which the op does in place).
// The moving statistics are parameters the op updates, not the optimizer.
void map_batch_normalization(NodeContext& node) {
  // is_test (opsets 6 and before) is training_mode's inverse; neither changes the mapping.
  node.accept_attributes({"epsilon", "is_test", "momentum", "spatial", "training_mode"});
  node.expect_inputs(5, 5);
  if (node.integer("spatial", 1) != 1) node.refuse("spatial 0 (per-position statistics)");
  if (node.output_read(1) || node.output_read(2)) {
    node.refuse(
        "its running statistics are read as values; the engine updates them in place "
        "while it trains, and a model's outputs are per sample");
  }
  const bool image = node.is_channels_last(0) || node.rank(node.value(0)) == 4;
  const std::string x = image ? node.channels_last(0, "BatchNormalization") : node.value(0);
  if (node.rank(x) != 2 && !image) {
    node.refuse("expected x [N, C] or [N, C, H, W], got " + to_string(node.shape(x)));
  }
  const int64_t channels = node.shape(x).back();
  node.mark_statistic(3);
  node.mark_statistic(4);
  std::vector<std::string> inputs = {x};
  for (int i = 1; i < 5; ++i) inputs.push_back(node.weight(i, {channels}));
  const Attributes attributes = {{"epsilon", node.real("epsilon", 1e-5)},
                                 {"momentum", node.real("momentum", 0.9)}};
  if (image) {
    node.emit_channels_last("batch_norm", inputs, attributes);
  } else {
    node.emit("batch_norm", inputs, attributes);
  }
}

}  // namespace

void add_image_mappers(MapperTable& table) {
  table["Conv"] = map_conv;
  table["Pad"] = map_pad;
  table["MaxPool"] = pool("max_pool2d");
  table["AveragePool"] = pool("avg_pool2d");
  table["GlobalAveragePool"] = map_global_average_pool;
  table["GlobalMaxPool"] = map_global_max_pool;
  table["BatchNormalization"] = map_batch_normalization;
}

}  // namespace loom
