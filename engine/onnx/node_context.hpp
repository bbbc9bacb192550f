#pragma once
// What a mapper (one per ONNX op, map_*.cpp) sees of the import: the ONNX node's attributes
// and inputs, the shapes of the values mapped so far, and a way to emit engine nodes.
// Shapes come from the engine's own shape inference: every emitted node is also added to a
// graph at the model's batch, so a mapping the engine's ops would refuse is refused here,
// naming the ONNX node.

#include <onnx/onnx_pb.h>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/graph/graph.hpp"
#include "engine/onnx/onnx_file.hpp"
#include "engine/onnx/onnx_import.hpp"

namespace loom {

struct ImportState {
  std::string file;  // for messages
  TensorSource source;
  int64_t opset = 0;
  ImportedModel model;
  Graph shapes;  // the model so far at batch `model.batch`
  std::map<std::string, const onnx::TensorProto*> initializers;  // by ONNX name
  std::map<std::string, onnx::TensorProto> constants;            // Constant nodes' outputs
  std::map<std::string, std::string> values;  // ONNX value name -> engine value name
  std::set<std::string> batch_major;          // engine values whose axis 0 is the batch
  std::set<std::string> frozen_initializers;  // read as statistics, not weights
};

class NodeContext {
 public:
  NodeContext(const onnx::NodeProto& node, ImportState& state, std::string name)
      : node_(node), state_(state), name_(std::move(name)) {}

  const std::string& op() const { return node_.op_type(); }
  int64_t opset() const { return state_.opset; }
  // "model.onnx: node 'fc1' (Gemm)", the start of every message about this node.
  std::string where() const;
  [[noreturn]] void refuse(const std::string& what) const;

  // Refuses any attribute the node sets that is not in `supported`.
  void accept_attributes(std::initializer_list<const char*> supported) const;
  bool has_attribute(const std::string& name) const;
  int64_t integer(const std::string& name, int64_t fallback) const;
  double real(const std::string& name, double fallback) const;
  std::vector<int64_t> integers(const std::string& name, std::vector<int64_t> fallback) const;
  std::string text(const std::string& name, const std::string& fallback) const;
  const onnx::TensorProto& tensor_attribute(const std::string& name) const;

  // Inputs: an absent optional input has an empty name in ONNX.
  int input_count() const { return node_.input_size(); }
  bool has_input(int i) const { return i < node_.input_size() && !node_.input(i).empty(); }
  void expect_inputs(int min, int max) const;
  // Whether input i is a constant (an initializer or a Constant node's output).
  bool is_constant(int i) const;
  // Input i as an engine value: a mapped value, or an initializer made a parameter.
  std::string value(int i);
  // Constant input i as a parameter of `shape` (its values, another shape of the same size,
  // e.g. a Gemm bias [1, N] as [N]), keeping the initializer's name.
  std::string weight(int i, const Shape& shape);
  std::vector<int64_t> integer_constant(int i) const;  // the values of a constant input
  std::vector<float> real_constant(int i) const;
  // A constant input of one value (Dropout's ratio), refused when it holds another count.
  double real_scalar(int i) const;
  int64_t integer_scalar(int i) const;
  Shape constant_shape(int i) const;

  const Shape& shape(const std::string& value) const;
  int64_t rank(const std::string& value) const { return int64_t(shape(value).size()); }
  bool batch_major(const std::string& value) const { return state_.batch_major.contains(value); }
  // An axis attribute in [-rank, rank) made non-negative, or refused.
  int64_t axis(int64_t axis, int64_t rank, const std::string& what) const;
  // Refuses when `axis` of `value` is its batch axis.
  void expect_not_batch_axis(const std::string& value, int64_t axis, const std::string& what) const;

  // Adds an engine node. The last node of a mapping takes the ONNX output's name (`output`
  // is the ONNX output's index); steps before it are named after it with `step`.
  std::string emit(const std::string& op, std::vector<std::string> inputs,
                   Attributes attributes = {}, int output = 0);
  std::string step(const std::string& step, const std::string& op, std::vector<std::string> inputs,
                   Attributes attributes = {});
  // The ONNX output `output` is the engine value `value` (Identity, Dropout at inference).
  void alias(int output, const std::string& value);
  // A parameter of the engine's own (a reshaped Gemm bias), not trainable unless asked.
  std::string add_parameter(const std::string& step, Shape shape, std::vector<float> values,
                            bool trainable);
  int output_count() const { return node_.output_size(); }
  // How many engine nodes the import has emitted so far (a default seed per dropout node).
  int64_t nodes_emitted() const { return int64_t(state_.model.nodes.size()); }
  bool has_output(int i) const { return i < node_.output_size() && !node_.output(i).empty(); }

 private:
  const onnx::TensorProto& constant(int i) const;
  template <typename T>
  T only_value(const std::vector<T>& values, int i) const;
  std::string add_node(const std::string& name, const std::string& op,
                       std::vector<std::string> inputs, Attributes attributes);
  const onnx::AttributeProto* find_attribute(const std::string& name) const;

  const onnx::NodeProto& node_;
  ImportState& state_;
  std::string name_;
};

using Mapper = std::function<void(NodeContext&)>;
using MapperTable = std::map<std::string, Mapper>;

// Each map_*.cpp adds its ops.
void add_elementwise_mappers(MapperTable& table);
void add_matrix_mappers(MapperTable& table);
void add_structure_mappers(MapperTable& table);

}  // namespace loom
