#include "engine/onnx/node_context.hpp"

#include <algorithm>

#include "engine/core/error.hpp"
#include "engine/core/join_names.hpp"

namespace loom {

std::string NodeContext::where() const {
  return state_.file + ": node '" + name_ + "' (" + node_.op_type() + ")";
}

void NodeContext::refuse(const std::string& what) const {
  throw InputError(where() + ": " + what);
}

const onnx::AttributeProto* NodeContext::find_attribute(const std::string& name) const {
  for (const auto& attribute : node_.attribute()) {
    if (attribute.name() == name) return &attribute;
  }
  return nullptr;
}

void NodeContext::accept_attributes(std::initializer_list<const char*> supported) const {
  for (const auto& attribute : node_.attribute()) {
    if (std::ranges::none_of(supported, [&](const char* s) { return attribute.name() == s; })) {
      std::vector<std::string> names(supported.begin(), supported.end());
      refuse("attribute '" + attribute.name() + "' is not supported" +
             (names.empty() ? std::string(" (none is)") : "; supported: " + join_names(names)));
    }
  }
}

bool NodeContext::has_attribute(const std::string& name) const {
  return find_attribute(name) != nullptr;
}

int64_t NodeContext::integer(const std::string& name, int64_t fallback) const {
  const auto* attribute = find_attribute(name);
  if (!attribute) return fallback;
  if (attribute->type() != onnx::AttributeProto_AttributeType_INT) {
    refuse("attribute '" + name + "' must be an integer");
  }
  return attribute->i();
}

double NodeContext::real(const std::string& name, double fallback) const {
  const auto* attribute = find_attribute(name);
  if (!attribute) return fallback;
  if (attribute->type() != onnx::AttributeProto_AttributeType_FLOAT) {
    refuse("attribute '" + name + "' must be a float");
  }
  return attribute->f();
}

std::vector<int64_t> NodeContext::integers(const std::string& name,
                                           std::vector<int64_t> fallback) const {
  const auto* attribute = find_attribute(name);
  if (!attribute) return fallback;
  if (attribute->type() != onnx::AttributeProto_AttributeType_INTS) {
    refuse("attribute '" + name + "' must be a list of integers");
  }
  return {attribute->ints().begin(), attribute->ints().end()};
}

std::string NodeContext::text(const std::string& name, const std::string& fallback) const {
  const auto* attribute = find_attribute(name);
  if (!attribute) return fallback;
  if (attribute->type() != onnx::AttributeProto_AttributeType_STRING) {
    refuse("attribute '" + name + "' must be a string");
  }
  return attribute->s();
}

const onnx::TensorProto& NodeContext::tensor_attribute(const std::string& name) const {
  const auto* attribute = find_attribute(name);
  if (!attribute || attribute->type() != onnx::AttributeProto_AttributeType_TENSOR) {
    refuse("expected the attribute '" + name + "' (a tensor)");
  }
  return attribute->t();
}

void NodeContext::expect_inputs(int min, int max) const {
  int given = 0;
  for (int i = 0; i < node_.input_size(); ++i) given += node_.input(i).empty() ? 0 : 1;
  if (given < min || node_.input_size() > max) {
    refuse("expected " + std::to_string(min) + (min == max ? "" : " to " + std::to_string(max)) +
           " inputs, got " + std::to_string(node_.input_size()));
  }
}

bool NodeContext::is_constant(int i) const {
  if (!has_input(i)) return false;
  const std::string& name = node_.input(i);
  return !state_.values.contains(name) &&
         (state_.initializers.contains(name) || state_.constants.contains(name));
}

const onnx::TensorProto& NodeContext::constant(int i) const {
  if (!is_constant(i)) {
    refuse("input " + std::to_string(i) + (has_input(i) ? " '" + node_.input(i) + "'" : "") +
           " must be a constant (an initializer or a Constant node): the engine fixes it "
           "when the model is imported");
  }
  const std::string& name = node_.input(i);
  const auto found = state_.constants.find(name);
  return found != state_.constants.end() ? found->second : *state_.initializers.at(name);
}

std::vector<int64_t> NodeContext::integer_constant(int i) const {
  return integer_values(constant(i), state_.source, where() + ": input '" + node_.input(i) + "'");
}

std::vector<float> NodeContext::real_constant(int i) const {
  return float_values(constant(i), state_.source, where() + ": input '" + node_.input(i) + "'");
}

template <typename T>
T NodeContext::only_value(const std::vector<T>& values, int i) const {
  if (values.size() != 1) {
    refuse("input '" + node_.input(i) + "' must be one value, not " +
           std::to_string(values.size()));
  }
  return values[0];
}

double NodeContext::real_scalar(int i) const {
  return only_value(real_constant(i), i);
}

int64_t NodeContext::integer_scalar(int i) const {
  return only_value(integer_constant(i), i);
}

Shape NodeContext::constant_shape(int i) const {
  return tensor_shape(constant(i), where() + ": input '" + node_.input(i) + "'");
}

const std::string& NodeContext::input_name(int i) const {
  if (!has_input(i)) refuse("input " + std::to_string(i) + " is required");
  if (const auto instead = read_instead_.find(i); instead != read_instead_.end()) {
    return instead->second;
  }
  const std::string& name = node_.input(i);
  if (state_.window_pads.contains(name)) {
    refuse("reads '" + name +
           "', the output of a Pad; the engine folds a Pad only into the "
           "Conv or AveragePool reading it");
  }
  return name;
}

std::vector<int64_t> NodeContext::take_window_pad(int i) {
  const auto pad =
      has_input(i) ? state_.window_pads.find(node_.input(i)) : state_.window_pads.end();
  if (pad == state_.window_pads.end()) return {0, 0, 0, 0};
  read_instead_[i] = pad->second.first;
  return pad->second.second;
}

void NodeContext::pad_for_window(const std::vector<int64_t>& pads) {
  state_.window_pads[node_.output(0)] = {input_name(0), pads};
}

std::string NodeContext::value(int i) {
  const std::string& name = input_name(i);
  if (const auto mapped = state_.values.find(name); mapped != state_.values.end()) {
    return mapped->second;
  }
  if (state_.channels_last.contains(name)) {
    try {
      return onnx_layout(state_, name);
    } catch (const InputError& error) {
      refuse(error.what());
    }
  }
  if (!is_constant(i)) refuse("input '" + name + "' is not defined before the node");
  return weight(i, constant_shape(i));
}

bool NodeContext::is_channels_last(int i) const {
  return has_input(i) && state_.channels_last.contains(input_name(i));
}

// Engine images are [N, H, W, C]: ONNX's [N, C, H, W] read with perm [0, 2, 3, 1].
std::string NodeContext::channels_last(int i, const std::string& what) {
  const std::string& name = input_name(i);
  if (const auto held = state_.channels_last.find(name); held != state_.channels_last.end()) {
    return held->second;
  }
  const std::string x = value(i);
  if (rank(x) != 4) {
    refuse(what + " reads images [batch, channels, height, width]; '" + name + "' is " +
           to_string(shape(x)));
  }
  const std::string transposed = add_node(state_.shapes.unique_name(name + "/channels_last"),
                                          "transpose", {x}, {{"perm", Shape{0, 2, 3, 1}}});
  state_.channels_last[name] = transposed;
  return transposed;
}

std::string onnx_layout(ImportState& state, const std::string& name) {
  if (const auto mapped = state.values.find(name); mapped != state.values.end()) {
    return mapped->second;
  }
  const std::string transposed =
      add_engine_node(state, state.shapes.unique_name(name + "/onnx_layout"), "transpose",
                      {state.channels_last.at(name)}, {{"perm", Shape{0, 3, 1, 2}}});
  state.values[name] = transposed;
  return transposed;
}

void NodeContext::mark_statistic(int i) {
  const std::string& name = input_name(i);
  if (!is_constant(i)) refuse("input '" + name + "' must be a constant (an initializer)");
  if (state_.values.contains(name)) refuse("'" + name + "' is read as a weight by another node");
  state_.frozen_initializers.insert(name);
}

std::string NodeContext::weight(int i, const Shape& shape) {
  const std::string& name = node_.input(i);
  if (const auto mapped = state_.values.find(name); mapped != state_.values.end()) {
    if (this->shape(mapped->second) != shape) {
      refuse("the weight '" + name + "' is read as " + to_string(shape) + " here and as " +
             to_string(this->shape(mapped->second)) + " by another node");
    }
    return mapped->second;
  }
  if (numel(shape) != numel(constant_shape(i))) {
    refuse("the weight '" + name + "' " + to_string(constant_shape(i)) + " cannot be read as " +
           to_string(shape));
  }
  // A weight: an initializer is trainable unless frozen; a Constant node's value is not.
  const bool trainable =
      state_.initializers.contains(name) && !state_.frozen_initializers.contains(name);
  const std::string parameter = state_.shapes.unique_name(name);
  auto values = std::make_shared<const std::vector<float>>(real_constant(i));
  try {
    state_.shapes.add_parameter(parameter, {DType::f32, shape}, Initializer::given(values),
                                trainable);
  } catch (const InputError& error) {
    refuse(error.what());
  }
  state_.model.parameters.push_back({parameter, shape, values, trainable});
  state_.values[name] = parameter;
  return parameter;
}

const Shape& NodeContext::shape(const std::string& value) const {
  return state_.shapes.value(state_.shapes.value_named(value)).type.shape;
}

int64_t NodeContext::axis(int64_t axis, int64_t rank, const std::string& what) const {
  if (axis < -rank || axis >= rank) {
    refuse(what + " " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  }
  return axis < 0 ? axis + rank : axis;
}

void NodeContext::expect_not_batch_axis(const std::string& value, int64_t axis,
                                        const std::string& what) const {
  if (axis == 0 && batch_major(value)) {
    refuse(what + " is axis 0 of '" + value +
           "', the batch axis; the engine's models keep axis 0 as the batch");
  }
}

std::string add_engine_node(ImportState& state, const std::string& name, const std::string& op,
                            std::vector<std::string> inputs, Attributes attributes) {
  std::vector<ValueId> ids;
  bool batch = false;
  for (const std::string& input : inputs) {
    ids.push_back(state.shapes.value_named(input));
    batch = batch || state.batch_major.contains(input);
  }
  state.shapes.add_node(name, op, ids, attributes);
  if (batch) state.batch_major.insert(name);
  state.model.nodes.push_back({name, op, std::move(inputs), std::move(attributes)});
  return name;
}

std::string NodeContext::add_node(const std::string& name, const std::string& op,
                                  std::vector<std::string> inputs, Attributes attributes) {
  try {
    return add_engine_node(state_, name, op, std::move(inputs), std::move(attributes));
  } catch (const InputError& error) {
    refuse(error.what());
  }
}

std::string NodeContext::emit(const std::string& op, std::vector<std::string> inputs,
                              Attributes attributes, int output) {
  const std::string name = state_.shapes.unique_name(node_.output(output));
  add_node(name, op, std::move(inputs), std::move(attributes));
  state_.values[node_.output(output)] = name;
  return name;
}

std::string NodeContext::step(const std::string& step, const std::string& op,
                              std::vector<std::string> inputs, Attributes attributes) {
  const std::string name = state_.shapes.unique_name(node_.output(0) + "/" + step);
  return add_node(name, op, std::move(inputs), std::move(attributes));
}

std::string NodeContext::emit_channels_last(const std::string& op, std::vector<std::string> inputs,
                                            Attributes attributes) {
  const std::string name = state_.shapes.unique_name(node_.output(0));
  add_node(name, op, std::move(inputs), std::move(attributes));
  state_.channels_last[node_.output(0)] = name;
  return name;
}

std::string NodeContext::emit_elementwise(const std::string& op, Attributes attributes) {
  if (is_channels_last(0)) {
    return emit_channels_last(op, {channels_last(0, op)}, std::move(attributes));
  }
  return emit(op, {value(0)}, std::move(attributes));
}

void NodeContext::alias(int output, const std::string& value) {
  state_.values[node_.output(output)] = value;
}

void NodeContext::alias_channels_last(int output, const std::string& value) {
  state_.channels_last[node_.output(output)] = value;
}

std::string NodeContext::add_parameter(const std::string& step, Shape shape,
                                       std::vector<float> values, bool trainable) {
  const std::string name = state_.shapes.unique_name(node_.output(0) + "/" + step);
  auto shared = std::make_shared<const std::vector<float>>(std::move(values));
  state_.shapes.add_parameter(name, {DType::f32, shape}, Initializer::given(shared), trainable);
  state_.model.parameters.push_back({name, std::move(shape), shared, trainable});
  return name;
}

}  // namespace loom
