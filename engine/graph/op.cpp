#include "engine/graph/op.hpp"

#include <algorithm>

namespace loom {

ValueId GradientRequest::output_gradient(size_t i) const {
  if (i >= output_gradients.size() || !output_gradients[i]) {
    throw RuntimeError("node '" + node.name + "': output " + std::to_string(i) +
                       " has no incoming gradient");
  }
  return *output_gradients[i];
}

std::vector<std::optional<ValueId>> Op::gradient(GradientBuilder&,
                                                 const GradientRequest& request) const {
  throw InputError("node '" + request.node.name + "' (" + std::string(name()) +
                   "): the op has no gradient rule, so nothing before it can be trained");
}

void Op::reference(const ReferenceCall& call) const {
  throw RuntimeError("node '" + call.node.name + "' (" + std::string(name()) +
                     "): the op has no double-precision reference forward");
}

ValueId GradientBuilder::emit(const Node& forward, std::string_view op_name,
                              std::vector<ValueId> inputs, Attributes attributes) {
  const std::string name = graph_.unique_name("d/" + forward.name + "/" + std::string(op_name));
  return graph_.add_node1(name, op_name, std::move(inputs), std::move(attributes), true);
}

std::vector<ValueId> GradientBuilder::emit_multi(const Node& forward, std::string_view op_name,
                                                 std::vector<ValueId> inputs,
                                                 Attributes attributes) {
  const std::string name = graph_.unique_name("d/" + forward.name + "/" + std::string(op_name));
  return graph_.add_node(name, op_name, std::move(inputs), std::move(attributes), true);
}

void fail_node(const Node& node, const std::string& what) {
  const std::string op = node.op ? std::string(node.op->name()) : "?";
  throw InputError("node '" + node.name + "' (" + op + "): " + what);
}

std::string describe_input(const Node& node, std::span<const TensorType> inputs, size_t index) {
  const OpSignature signature = node.op->signature();
  const std::string role =
      index < signature.inputs.size() ? signature.inputs[index] : "input " + std::to_string(index);
  return role + " " + to_string(inputs[index]);
}

int64_t normalize_axis(const Node& node, int64_t axis, int64_t rank) {
  const int64_t normalized = axis < 0 ? axis + rank : axis;
  if (normalized < 0 || normalized >= rank) {
    fail_node(node,
              "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  }
  return normalized;
}

void expect_rank(const Node& node, std::span<const TensorType> inputs, size_t index, int64_t rank) {
  if (inputs[index].rank() != rank) {
    fail_node(node, "expected " + node.op->signature().inputs.at(index) + " of rank " +
                        std::to_string(rank) + ", got " + to_string(inputs[index]));
  }
}

void expect_dtype(const Node& node, std::span<const TensorType> inputs, size_t index, DType dtype) {
  if (inputs[index].dtype != dtype) {
    fail_node(node, "expected " + node.op->signature().inputs.at(index) + " of type " +
                        to_string(dtype) + ", got " + to_string(inputs[index]));
  }
}

OpRegistry& OpRegistry::global() {
  static OpRegistry registry;  // the built-in ops add themselves (ops/builtin_ops.cpp)
  return registry;
}

void OpRegistry::add(std::unique_ptr<Op> op) {
  if (find(op->name())) {
    throw InputError("op '" + std::string(op->name()) + "' is registered twice");
  }
  ops_.push_back(std::move(op));
}

const Op* OpRegistry::find(std::string_view name) const {
  for (const auto& op : ops_) {
    if (op->name() == name) return op.get();
  }
  return nullptr;
}

const Op& OpRegistry::get(std::string_view name) const {
  if (const Op* op = find(name)) return *op;
  std::string known;
  for (const std::string& n : names()) known += (known.empty() ? "" : ", ") + n;
  throw InputError("unknown op '" + std::string(name) + "' (known: " + known + ")");
}

std::vector<std::string> OpRegistry::names() const {
  std::vector<std::string> result;
  for (const auto& op : ops_) {
    if (!op->signature().internal) result.emplace_back(op->name());
  }
  std::sort(result.begin(), result.end());
  return result;
}

std::vector<std::string> OpRegistry::names_with_role(OpRole role) const {
  std::vector<std::string> result;
  for (const auto& op : ops_) {
    const OpSignature signature = op->signature();
    if (!signature.internal && signature.role == role) result.emplace_back(op->name());
  }
  std::sort(result.begin(), result.end());
  return result;
}

std::vector<std::string> OpRegistry::all_names() const {
  std::vector<std::string> result;
  for (const auto& op : ops_) result.emplace_back(op->name());
  std::sort(result.begin(), result.end());
  return result;
}

}  // namespace loom
