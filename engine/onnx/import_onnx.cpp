// The importer's driver: the file's graph inputs become engine inputs, each node goes to its
// op's mapper in the file's order (the checker guarantees a topological one), initializers
// become parameters when a mapper reads them as weights, and the outputs are looked up last.

#include <algorithm>

#include "engine/core/error.hpp"
#include "engine/core/join_names.hpp"
#include "engine/onnx/node_context.hpp"
#include "engine/onnx/onnx_import.hpp"

namespace loom {

namespace fs = std::filesystem;

namespace {

const MapperTable& mappers() {
  static const MapperTable table = [] {
    MapperTable built;
    add_elementwise_mappers(built);
    add_matrix_mappers(built);
    add_structure_mappers(built);
    add_image_mappers(built);
    return built;
  }();
  return table;
}

// A Constant node's value, in any of the attribute forms ONNX allows, kept as a tensor for
// the mappers that read constants (Reshape's shape) or weights.
void map_constant(const onnx::NodeProto& node, NodeContext& context, ImportState& state) {
  context.accept_attributes({"value", "value_float", "value_floats", "value_int", "value_ints"});
  onnx::TensorProto tensor;
  if (context.has_attribute("value")) {
    tensor = context.tensor_attribute("value");
  } else if (context.has_attribute("value_float") || context.has_attribute("value_floats")) {
    tensor.set_data_type(onnx::TensorProto_DataType_FLOAT);
    for (const auto& attribute : node.attribute()) {
      if (attribute.name() == "value_float") tensor.add_float_data(attribute.f());
      for (float value : attribute.floats()) tensor.add_float_data(value);
      if (attribute.name() == "value_floats") tensor.add_dims(attribute.floats_size());
    }
  } else if (context.has_attribute("value_int") || context.has_attribute("value_ints")) {
    tensor.set_data_type(onnx::TensorProto_DataType_INT64);
    for (const auto& attribute : node.attribute()) {
      if (attribute.name() == "value_int") tensor.add_int64_data(attribute.i());
      for (int64_t value : attribute.ints()) tensor.add_int64_data(value);
      if (attribute.name() == "value_ints") tensor.add_dims(attribute.ints_size());
    }
  } else {
    context.refuse("expected a value attribute");
  }
  if (tensor.data_location() == onnx::TensorProto_DataLocation_EXTERNAL) {
    context.refuse("a Constant's value with external data is not supported");
  }
  state.constants[node.output(0)] = std::move(tensor);
}

// The batch axis of a graph input: a fixed extent or a symbolic one (then 1 stands for it).
int64_t batch_extent(const onnx::TensorShapeProto_Dimension& dimension) {
  return dimension.has_dim_value() ? dimension.dim_value() : 1;
}

void add_input(const onnx::ValueInfoProto& input, ImportState& state, bool first) {
  const std::string where = state.file + ": input '" + input.name() + "'";
  if (!input.type().has_tensor_type() ||
      input.type().tensor_type().elem_type() != onnx::TensorProto_DataType_FLOAT) {
    throw InputError(where + ": the engine reads FLOAT tensors, not " +
                     (input.type().has_tensor_type()
                          ? onnx_type_name(input.type().tensor_type().elem_type())
                          : std::string("this kind of value")));
  }
  const auto& tensor_type = input.type().tensor_type();
  if (!tensor_type.has_shape() || tensor_type.shape().dim_size() == 0) {
    throw InputError(where + ": needs a shape with a batch axis first");
  }
  const auto& dims = tensor_type.shape().dim();
  const int64_t batch = batch_extent(dims[0]);
  if (batch <= 0) throw InputError(where + ": the batch axis has extent " + std::to_string(batch));
  if (first) state.model.batch = batch;
  if (batch != state.model.batch) {
    throw InputError(where + ": batch " + std::to_string(batch) + " where the first input has " +
                     std::to_string(state.model.batch));
  }
  Shape shape = {batch};
  for (int i = 1; i < dims.size(); ++i) {
    if (!dims[i].has_dim_value() || dims[i].dim_value() <= 0) {
      throw InputError(where + ": dimension " + std::to_string(i) + " is " +
                       (dims[i].has_dim_param() ? "'" + dims[i].dim_param() + "'" : "unknown") +
                       "; the engine needs fixed sizes except the batch axis (axis 0)");
    }
    shape.push_back(dims[i].dim_value());
  }
  const std::string name = state.shapes.unique_name(input.name());
  try {
    state.shapes.add_input(name, {DType::f32, shape});
  } catch (const InputError& error) {
    throw InputError(where + ": " + error.what());
  }
  state.values[input.name()] = name;
  state.batch_major.insert(name);
  state.model.inputs.push_back({name, shape});
}

// A node's name for messages: its own, else its position and first output.
std::string display_name(const onnx::NodeProto& node, int index) {
  if (!node.name().empty()) return node.name();
  return "#" + std::to_string(index) + (node.output_size() > 0 ? " -> " + node.output(0) : "");
}

void map_node(const onnx::NodeProto& node, int index, ImportState& state) {
  NodeContext context(node, state, display_name(node, index));
  if (!node.domain().empty() && node.domain() != "ai.onnx") {
    context.refuse("the domain '" + node.domain() + "' is not supported (only the default one)");
  }
  if (node.output_size() == 0 || node.output(0).empty()) {
    context.refuse("its first output has no name");
  }
  if (node.op_type() == "Constant") {
    map_constant(node, context, state);
    return;
  }
  const auto mapper = mappers().find(node.op_type());
  if (mapper == mappers().end()) {
    context.refuse("the op is not mapped; the engine maps " + join_names(onnx_supported_ops()));
  }
  mapper->second(context);
}

}  // namespace

std::vector<std::string> onnx_supported_ops() {
  std::vector<std::string> names = {"Constant"};
  for (const auto& [name, mapper] : mappers()) names.push_back(name);
  std::ranges::sort(names);
  return names;
}

ImportedModel import_onnx(const fs::path& file, const ImportOptions& options) {
  const onnx::ModelProto model = read_onnx_model(file);
  ImportState state;
  state.file = file.string();
  state.source.model_directory = file.has_parent_path() ? file.parent_path() : fs::path(".");
  state.opset = default_opset(model, file);
  state.model.opset = state.opset;
  state.model.producer = model.producer_name() + " " + model.producer_version();
  const onnx::GraphProto& graph = model.graph();
  for (const auto& initializer : graph.initializer()) {
    state.initializers[initializer.name()] = &initializer;
  }
  for (const auto& [name, bytes] : options.bound_inputs) {
    if (!state.constants[name].ParseFromString(bytes)) {
      throw InputError(state.file + ": the value bound to input '" + name +
                       "' is not an ONNX tensor");
    }
  }
  bool first = true;
  for (const auto& input : graph.input()) {
    // Before IR version 4 initializers were listed as inputs too.
    if (state.initializers.contains(input.name()) || state.constants.contains(input.name())) {
      continue;
    }
    add_input(input, state, first);
    first = false;
  }
  if (state.model.inputs.empty()) throw InputError(state.file + ": the graph has no data input");
  if (graph.node_size() > kMaxOnnxNodes) {
    throw InputError(state.file + ": " + std::to_string(graph.node_size()) +
                     " nodes; the engine imports at most " + std::to_string(kMaxOnnxNodes));
  }
  for (const auto& node : graph.node()) state.read.insert(node.input().begin(), node.input().end());
  for (const auto& output : graph.output()) state.read.insert(output.name());
  for (int i = 0; i < graph.node_size(); ++i) map_node(graph.node(i), i, state);
  for (const auto& output : graph.output()) {
    if (state.window_pads.contains(output.name())) {
      throw InputError(state.file + ": output '" + output.name() +
                       "' is a Pad's; the engine folds a Pad only into the Conv or AveragePool "
                       "reading it");
    }
    const bool mapped =
        state.values.contains(output.name()) || state.channels_last.contains(output.name());
    const std::string value = mapped ? onnx_layout(state, output.name()) : std::string();
    if (!mapped || !state.batch_major.contains(value)) {
      throw InputError(state.file + ": output '" + output.name() +
                       "' is not computed from the inputs");
    }
    state.model.outputs.push_back(value);
    state.model.output_shapes.push_back(
        state.shapes.value(state.shapes.value_named(value)).type.shape);
  }
  return std::move(state.model);
}

}  // namespace loom
