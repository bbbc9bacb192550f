#include "engine/onnx/export_writer.hpp"

#include "engine/core/error.hpp"

namespace loom {

namespace {

bool is_identity(const Permutation& perm) {
  for (size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] != int64_t(i)) return false;
  }
  return true;
}

// Transpose(Transpose(x, first), then): axis i of the result is axis first[then[i]] of x.
Permutation compose(const Permutation& first, const Permutation& then) {
  Permutation result(then.size());
  for (size_t i = 0; i < then.size(); ++i) result[i] = first.at(size_t(then[i]));
  return result;
}

}  // namespace

onnx::NodeProto& Writer::node(const std::string& op, const std::vector<std::string>& inputs,
                              const std::string& output, const std::string& name) {
  onnx::NodeProto& node = *graph_.add_node();
  node.set_op_type(op);
  node.set_name(name);
  for (const std::string& input : inputs) node.add_input(input);
  node.add_output(output);
  return node;
}

void Writer::set(onnx::NodeProto& node, const std::string& name, int64_t value) {
  auto& attribute = *node.add_attribute();
  attribute.set_name(name);
  attribute.set_type(onnx::AttributeProto_AttributeType_INT);
  attribute.set_i(value);
}

void Writer::set(onnx::NodeProto& node, const std::string& name, float value) {
  auto& attribute = *node.add_attribute();
  attribute.set_name(name);
  attribute.set_type(onnx::AttributeProto_AttributeType_FLOAT);
  attribute.set_f(value);
}

void Writer::set(onnx::NodeProto& node, const std::string& name, const std::string& value) {
  auto& attribute = *node.add_attribute();
  attribute.set_name(name);
  attribute.set_type(onnx::AttributeProto_AttributeType_STRING);
  attribute.set_s(value);
}

void Writer::set(onnx::NodeProto& node, const std::string& name,
                 const std::vector<int64_t>& values) {
  auto& attribute = *node.add_attribute();
  attribute.set_name(name);
  attribute.set_type(onnx::AttributeProto_AttributeType_INTS);
  for (int64_t value : values) attribute.add_ints(value);
}

void Writer::floats(const std::string& name, const Shape& shape, const std::vector<float>& values) {
  auto& tensor = *graph_.add_initializer();
  tensor.set_name(name);
  tensor.set_data_type(onnx::TensorProto_DataType_FLOAT);
  for (int64_t extent : shape) tensor.add_dims(extent);
  tensor.set_raw_data(
      std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
}

void Writer::integers(const std::string& name, const std::vector<int64_t>& values) {
  auto& tensor = *graph_.add_initializer();
  tensor.set_name(name);
  tensor.set_data_type(onnx::TensorProto_DataType_INT64);
  tensor.add_dims(int64_t(values.size()));
  for (int64_t value : values) tensor.add_int64_data(value);
}

void Writer::pending(const std::string& value, const std::string& source, const Permutation& perm) {
  pending_[value] = {source, perm};
}

std::pair<std::string, Permutation> Writer::resolve(const std::string& value) const {
  const auto found = pending_.find(value);
  if (found == pending_.end()) return {value, {}};
  auto [base, first] = resolve(found->second.first);
  const Permutation& then = found->second.second;
  return {base, first.empty() ? then : compose(first, then)};
}

std::optional<std::pair<std::string, Permutation>> Writer::pending_of(
    const std::string& value) const {
  auto resolved = resolve(value);
  if (resolved.second.empty() || is_identity(resolved.second)) return std::nullopt;
  return resolved;
}

std::string Writer::value(const std::string& value) {
  const auto [base, perm] = resolve(value);
  if (perm.empty() || is_identity(perm)) return base;
  const auto written = written_.find({base, perm});
  if (written != written_.end()) return written->second;
  Writer::set(node("Transpose", {base}, value, value), "perm", perm);
  written_[{base, perm}] = value;
  return value;
}

std::string Writer::transposed(const std::string& value, const Permutation& perm) {
  const auto [base, first] = resolve(value);
  const Permutation total = first.empty() ? perm : compose(first, perm);
  if (is_identity(total)) return base;
  const auto written = written_.find({base, total});
  if (written != written_.end()) return written->second;
  std::string name = value + "/perm";
  for (int64_t axis : total) name += std::to_string(axis);
  Writer::set(node("Transpose", {base}, name, name), "perm", total);
  written_[{base, total}] = name;
  return name;
}

void NodeWriter::refuse(const std::string& what) const {
  throw InputError("node '" + node.name + "' (" + node.op + "): " + what);
}

onnx::NodeProto& NodeWriter::one(const std::string& op, const std::vector<std::string>& inputs) {
  std::vector<std::string> read;
  for (const std::string& name : inputs) read.push_back(writer.value(name));
  return writer.node(op, read, node.name, node.name);
}

}  // namespace loom
