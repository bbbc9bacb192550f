// Element-wise ONNX ops: activations (one engine op each) and the broadcasting arithmetic.

#include "engine/onnx/node_context.hpp"

namespace loom {

namespace {

// An ONNX op that is one engine op of one input with no attributes.
Mapper unary(const char* engine_op) {
  return [engine_op](NodeContext& node) {
    node.accept_attributes({});
    node.expect_inputs(1, 1);
    node.emit_elementwise(engine_op);
  };
}

// Add, Sub, Mul, Div: numpy broadcasting, as the engine's ops do (opset 7 on; the older
// `broadcast`/`axis` attributes are refused by accept_attributes). A weight that lines up
// with a data value's batch axis would fix the batch size, and is refused.
Mapper binary(const char* engine_op) {
  return [engine_op](NodeContext& node) {
    node.accept_attributes({});
    node.expect_inputs(2, 2);
    // Two images both held channels last (a residual connection) are added as they are.
    if (node.is_channels_last(0) && node.is_channels_last(1)) {
      const std::string a = node.channels_last(0, node.op()), b = node.channels_last(1, node.op());
      if (node.shape(a) == node.shape(b)) {
        node.emit_channels_last(engine_op, {a, b});
        return;
      }
    }
    const std::string a = node.value(0), b = node.value(1);
    for (const auto& [data, other] : {std::pair{a, b}, std::pair{b, a}}) {
      if (!node.batch_major(data)) continue;
      const Shape& other_shape = node.shape(other);
      const bool lines_up = node.batch_major(other)
                                ? node.rank(other) != node.rank(data)
                                : node.rank(other) > node.rank(data) ||
                                      (node.rank(other) == node.rank(data) && other_shape[0] != 1);
      if (lines_up) {
        node.refuse("'" + other + "' " + to_string(other_shape) +
                    " does not broadcast along the batch axis of '" + data + "' " +
                    to_string(node.shape(data)) +
                    "; the engine's models keep axis 0 as the batch, of any size");
      }
    }
    node.emit(engine_op, {a, b});
  };
}

void map_leaky_relu(NodeContext& node) {
  node.accept_attributes({"alpha"});
  node.expect_inputs(1, 1);
  node.emit_elementwise("leaky_relu", {{"negative_slope", node.real("alpha", 0.01)}});
}

void map_elu(NodeContext& node) {
  node.accept_attributes({"alpha"});
  node.expect_inputs(1, 1);
  node.emit_elementwise("elu", {{"alpha", node.real("alpha", 1.0)}});
}

void map_neg(NodeContext& node) {
  node.accept_attributes({});
  node.expect_inputs(1, 1);
  node.emit_elementwise("scale", {{"factor", -1.0}});
}

}  // namespace

void add_elementwise_mappers(MapperTable& table) {
  table["Relu"] = unary("relu");
  table["Sigmoid"] = unary("sigmoid");
  table["Tanh"] = unary("tanh");
  table["Softplus"] = unary("softplus");
  table["Exp"] = unary("exp");
  table["Log"] = unary("log");
  table["Sqrt"] = unary("sqrt");
  table["LeakyRelu"] = map_leaky_relu;
  table["Elu"] = map_elu;
  table["Neg"] = map_neg;
  table["Add"] = binary("add");
  table["Sub"] = binary("sub");
  table["Mul"] = binary("mul");
  table["Div"] = binary("div");
}

}  // namespace loom
