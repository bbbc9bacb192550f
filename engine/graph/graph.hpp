#pragma once
// The static dataflow graph: typed values and the op nodes that produce them.
// Invariant: nodes are stored in a topological order (every input is defined before the
// node that reads it), so "run the nodes in order" is always a valid schedule.

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/core/tensor_type.hpp"
#include "engine/graph/attributes.hpp"
#include "engine/graph/initializer.hpp"

namespace loom {

class Op;

using ValueId = int32_t;
using NodeId = int32_t;
inline constexpr NodeId kNoProducer = -1;

enum class ValueRole {
  input,         // a batch of data, written by the data pipeline before each step
  label,         // a batch of targets
  parameter,     // a weight owned by the ParameterStore, shared by every plan
  constant,      // filled once when a plan is compiled (e.g. the loss seed 1.0)
  intermediate,  // produced by a node
};

struct Value {
  std::string name;
  TensorType type;
  ValueRole role = ValueRole::intermediate;
  NodeId producer = kNoProducer;
  Initializer initializer;  // parameters only
  bool trainable = false;   // parameters only
  float fill = 0.0f;        // constants only
};

struct Node {
  std::string name;
  const Op* op = nullptr;
  Attributes attributes;
  std::vector<ValueId> inputs;
  std::vector<ValueId> outputs;
  bool backward = false;  // emitted by autodiff
};

struct ParameterGradient {
  ValueId parameter;
  ValueId gradient;
};

class Graph {
 public:
  ValueId add_input(const std::string& name, TensorType type, ValueRole role = ValueRole::input);
  ValueId add_parameter(const std::string& name, TensorType type, Initializer initializer,
                        bool trainable = true);
  ValueId add_constant(const std::string& name, TensorType type, float fill);

  // Appends a node, infers its output types (errors name the node and the shapes) and
  // returns its outputs. The first output is named like the node, the others "name:1", ...
  std::vector<ValueId> add_node(const std::string& name, std::string_view op_name,
                                std::vector<ValueId> inputs, Attributes attributes = {},
                                bool backward = false);
  ValueId add_node1(const std::string& name, std::string_view op_name, std::vector<ValueId> inputs,
                    Attributes attributes = {}, bool backward = false);

  const Value& value(ValueId id) const { return values_.at(static_cast<size_t>(id)); }
  const Node& node(NodeId id) const { return nodes_.at(static_cast<size_t>(id)); }
  const std::deque<Value>& values() const { return values_; }
  std::span<const Node> nodes() const { return nodes_; }
  std::optional<ValueId> find_value(std::string_view name) const;
  ValueId value_named(std::string_view name) const;  // throws when absent
  bool has_name(std::string_view name) const;
  std::string unique_name(const std::string& base) const;

  // Replaces the node list (used by rewriting passes); re-links producers and checks the
  // topological invariant. Values that lose their producer must not be read any more.
  void replace_nodes(std::vector<Node> nodes);

  std::vector<ValueId> parameters() const;
  std::vector<std::vector<NodeId>> consumers() const;

  // Whether the graph trains: ops that behave differently in training (dropout) read it
  // when they are compiled.
  void set_training(bool training) { training_ = training; }
  bool training() const { return training_; }

  void set_loss(ValueId loss) { loss_ = loss; }
  std::optional<ValueId> loss() const { return loss_; }
  void set_prediction(ValueId prediction) { prediction_ = prediction; }
  std::optional<ValueId> prediction() const { return prediction_; }
  void set_parameter_gradients(std::vector<ParameterGradient> gradients) {
    parameter_gradients_ = std::move(gradients);
  }
  std::span<const ParameterGradient> parameter_gradients() const { return parameter_gradients_; }
  // Other values the caller reads after a run (a test reading an op's output): like the loss,
  // the prediction and the parameter gradients, they are kept alive and plain (row-major).
  void add_output(ValueId value) { outputs_.push_back(value); }
  std::span<const ValueId> outputs() const { return outputs_; }

  // A table of every node with its op, inputs and output shapes (darknet prints one too).
  std::string describe() const;

 private:
  ValueId new_value(Value value);

  // A deque, not a vector: adding values never moves the existing ones, so a reference to a
  // value (or its shape) stays valid while nodes are added. Gradient rules hold such
  // references across GradientBuilder::emit; with a vector, the emit that reallocated left
  // them dangling.
  std::deque<Value> values_;
  std::vector<Node> nodes_;
  std::unordered_map<std::string, ValueId> value_by_name_;
  std::unordered_map<std::string, NodeId> node_by_name_;
  bool training_ = false;
  std::optional<ValueId> loss_;
  std::optional<ValueId> prediction_;
  std::vector<ParameterGradient> parameter_gradients_;
  std::vector<ValueId> outputs_;
};

}  // namespace loom
