// The exporter's image ops: conv2d, max_pool2d, avg_pool2d, global_avg_pool2d and batch_norm
// become Conv, MaxPool, AveragePool, GlobalAveragePool and BatchNormalization on [N, C, H, W]
// images, their outputs pending transposes back to the engine's channels-last values (see
// export_writer.hpp); element-wise ops on a pending image apply to it as it is.

#include "engine/onnx/export_writer.hpp"

namespace loom {

namespace {

// An engine pair attribute ([a, b], or [a] for both) as ONNX's two spatial entries.
std::vector<int64_t> spatial(const Attributes& attributes, const std::string& name,
                             std::vector<int64_t> fallback) {
  std::vector<int64_t> values = attributes.get_ints(name, std::move(fallback));
  if (values.size() == 1) values.push_back(values[0]);
  return values;
}

// strides, and the padding as ONNX states it: valid pads nothing, same is SAME_UPPER (the odd
// element at the end, as Keras), explicit is pads [top, left, bottom, right] as ONNX orders
// them.
void set_window(onnx::NodeProto& node, const Attributes& attributes,
                const std::vector<int64_t>& default_strides) {
  Writer::set(node, "strides", spatial(attributes, "strides", default_strides));
  const std::string padding = attributes.get_text("padding", "valid");
  if (padding == "same") Writer::set(node, "auto_pad", std::string("SAME_UPPER"));
  if (padding == "explicit") Writer::set(node, "pads", attributes.get_ints("pads", {}));
}

// The ONNX node for an image op reading input 0 as [N, C, H, W]; its output, NCHW, stands
// for the node's channels-last value.
onnx::NodeProto& image_node(NodeWriter& w, const std::string& op,
                            std::vector<std::string> more_inputs = {}) {
  std::vector<std::string> inputs = {w.writer.transposed(w.node.inputs[0], kToChannelsFirst)};
  inputs.insert(inputs.end(), more_inputs.begin(), more_inputs.end());
  const std::string output = w.node.name + "/nchw";
  auto& node = w.writer.node(op, inputs, output, w.node.name);
  w.writer.pending(w.node.name, output, kToChannelsLast);
  return node;
}

void write_conv2d(NodeWriter& w) {
  const Attributes& a = w.node.attributes;
  // The engine's kernel [KH, KW, I/G, O] is ONNX's [O, I/G, KH, KW] transposed.
  std::vector<std::string> weights = {w.writer.transposed(w.node.inputs[1], {3, 2, 0, 1})};
  if (w.node.inputs.size() == 3) weights.push_back(w.input(2));
  auto& conv = image_node(w, "Conv", weights);
  set_window(conv, a, {1, 1});
  Writer::set(conv, "dilations", spatial(a, "dilation", {1, 1}));
  Writer::set(conv, "group", a.get_int("groups", 1));
  if (a.get_text("activation", "none") == "relu") {
    const std::string relu = w.node.name + "/relu";
    w.writer.node("Relu", {w.node.name + "/nchw"}, relu, relu);
    w.writer.pending(w.node.name, relu, kToChannelsLast);
  }
}

// Pooling's strides default to the pool size.
NodeMapping pool(const char* op) {
  return [op](NodeWriter& w) {
    const Attributes& a = w.node.attributes;
    const std::vector<int64_t> size = spatial(a, "pool_size", {2, 2});
    auto& node = image_node(w, op);
    Writer::set(node, "kernel_shape", size);
    set_window(node, a, size);
    if (a.get_bool("count_padding", false)) Writer::set(node, "count_include_pad", int64_t{1});
  };
}

// [N, H, W, C] -> [N, C]: GlobalAveragePool's [N, C, 1, 1], flattened.
void write_global_avg_pool2d(NodeWriter& w) {
  const std::string pooled = w.node.name + "/pooled";
  w.writer.node("GlobalAveragePool", {w.writer.transposed(w.node.inputs[0], kToChannelsFirst)},
                pooled, pooled);
  Writer::set(w.writer.node("Flatten", {pooled}, w.node.name, w.node.name), "axis", int64_t{1});
}

// Inference: the moving statistics normalize (ONNX's training_mode 0). An image is normalized
// as [N, C, H, W], rows [N, C] as they are.
void write_batch_norm(NodeWriter& w) {
  const Attributes& a = w.node.attributes;
  std::vector<std::string> statistics;
  for (size_t i = 1; i < 5; ++i) statistics.push_back(w.input(i));
  onnx::NodeProto& node = w.rank(0) == 4 ? image_node(w, "BatchNormalization", statistics)
                                         : w.one("BatchNormalization", w.node.inputs);
  Writer::set(node, "epsilon", float(a.get_real("epsilon", 1e-3)));
  Writer::set(node, "momentum", float(a.get_real("momentum", 0.99)));
}

// An element-wise op of one input: on a pending image it applies to the image as written and
// its output stays pending, so a relu between two convolutions adds no transposes.
NodeMapping elementwise(NodeMapping write) {
  return [write](NodeWriter& w) {
    const auto pending = w.writer.pending_of(w.node.inputs[0]);
    if (!pending) {
      write(w);
      return;
    }
    ImportedNode on_source = w.node;
    on_source.name = w.node.name + "/source";
    on_source.inputs[0] = pending->first;
    NodeWriter source_writer{w.writer, on_source, w.bias, w.shapes};
    write(source_writer);
    w.writer.pending(w.node.name, on_source.name, pending->second);
  };
}

// add, sub, mul, div of two images pending the same transpose, of one shape: on the images.
NodeMapping binary(const char* op) {
  return [op](NodeWriter& w) {
    const auto a = w.writer.pending_of(w.node.inputs[0]);
    const auto b = w.writer.pending_of(w.node.inputs[1]);
    if (!a || !b || a->second != b->second || w.shape(0) != w.shape(1)) {
      w.one(op, w.node.inputs);
      return;
    }
    const std::string output = w.node.name + "/source";
    w.writer.node(op, {a->first, b->first}, output, w.node.name);
    w.writer.pending(w.node.name, output, a->second);
  };
}

}  // namespace

void add_image_writers(NodeMappings& table) {
  table["conv2d"] = write_conv2d;
  table["max_pool2d"] = pool("MaxPool");
  table["avg_pool2d"] = pool("AveragePool");
  table["global_avg_pool2d"] = write_global_avg_pool2d;
  table["batch_norm"] = write_batch_norm;
  for (const auto& [engine_op, onnx_op] : {std::pair{"add", "Add"}, std::pair{"sub", "Sub"},
                                           std::pair{"mul", "Mul"}, std::pair{"div", "Div"}}) {
    table[engine_op] = binary(onnx_op);
  }
  for (const char* op : {"relu", "sigmoid", "tanh", "softplus", "exp", "log", "sqrt", "elu",
                         "leaky_relu", "scale", "dropout"}) {
    table[op] = elementwise(table.at(op));
  }
}

}  // namespace loom
