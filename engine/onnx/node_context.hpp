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
  // ONNX images [N, C, H, W] that the engine holds channels last, [N, H, W, C], as its
  // convolutions and poolings read and write them: ONNX name -> engine value. A value held
  // only this way gets its ONNX layout (one transpose) when a node reads it so.
  std::map<std::string, std::string> channels_last;
  // Pad nodes' outputs, which only a window op may read, folding the zeros into its own
  // padding (PyTorch writes AvgPool2d(padding=p) as Pad + AveragePool): ONNX name -> the
  // Pad's input and its spatial pads [top, left, bottom, right].
  std::map<std::string, std::pair<std::string, std::vector<int64_t>>> window_pads;
  std::set<std::string> batch_major;          // engine values whose axis 0 is the batch
  std::set<std::string> frozen_initializers;  // read as statistics, not weights
  std::set<std::string> read;                 // values some node or the graph's outputs read
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
  // Input i as an engine value in ONNX's layout: a mapped value, or an initializer made a
  // parameter.
  std::string value(int i);
  // Image input i [N, C, H, W] as the engine's [N, H, W, C] (transposed once, then shared);
  // refused for any other rank, naming `what` reads it.
  std::string channels_last(int i, const std::string& what);
  // Whether input i is held channels last already, so an element-wise node can stay so.
  bool is_channels_last(int i) const;
  // When input i is a Pad's output: its zero padding [top, left, bottom, right], which this
  // window op adds to its own, and input i reads the Pad's input from then on. Else zeros.
  std::vector<int64_t> take_window_pad(int i);
  // Records output 0 as input 0 padded with zeros by `pads` (a Pad node).
  void pad_for_window(const std::vector<int64_t>& pads);
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
  // A one-input element-wise op on input 0: on the channels-last form when the input is held
  // so (the output is then held so too), else on the ONNX layout.
  std::string emit_elementwise(const std::string& op, Attributes attributes = {});
  // Like emit, for a node whose output 0 is the ONNX output held channels last.
  std::string emit_channels_last(const std::string& op, std::vector<std::string> inputs,
                                 Attributes attributes = {});
  // The ONNX output `output` is the engine value `value` (Identity, Dropout at inference).
  void alias(int output, const std::string& value);
  void alias_channels_last(int output, const std::string& value);
  // Marks constant input i as a statistic (batch norm's moving mean): a parameter the op
  // updates itself, never the optimizer.
  void mark_statistic(int i);
  // A parameter of the engine's own (a reshaped Gemm bias), not trainable unless asked.
  std::string add_parameter(const std::string& step, Shape shape, std::vector<float> values,
                            bool trainable);
  int output_count() const { return node_.output_size(); }
  // How many engine nodes the import has emitted so far (a default seed per dropout node).
  int64_t nodes_emitted() const { return int64_t(state_.model.nodes.size()); }
  bool has_output(int i) const { return i < node_.output_size() && !node_.output(i).empty(); }
  // Whether output i is read by a node or is a graph output.
  bool output_read(int i) const { return has_output(i) && state_.read.contains(node_.output(i)); }

 private:
  const onnx::TensorProto& constant(int i) const;
  template <typename T>
  T only_value(const std::vector<T>& values, int i) const;
  std::string add_node(const std::string& name, const std::string& op,
                       std::vector<std::string> inputs, Attributes attributes);
  const std::string& input_name(int i) const;
  const onnx::AttributeProto* find_attribute(const std::string& name) const;

  const onnx::NodeProto& node_;
  ImportState& state_;
  std::string name_;
  std::map<int, std::string> read_instead_;  // input i -> the ONNX value read (a Pad's input)
};

// Adds an engine node to the import (InputError when the engine's op refuses it).
std::string add_engine_node(ImportState& state, const std::string& name, const std::string& op,
                            std::vector<std::string> inputs, Attributes attributes);
// The ONNX value `name` in ONNX's layout, transposing a value held only channels last.
std::string onnx_layout(ImportState& state, const std::string& name);

using Mapper = std::function<void(NodeContext&)>;
using MapperTable = std::map<std::string, Mapper>;

// Each map_*.cpp adds its ops.
void add_elementwise_mappers(MapperTable& table);
void add_matrix_mappers(MapperTable& table);
void add_structure_mappers(MapperTable& table);
void add_image_mappers(MapperTable& table);

}  // namespace loom
