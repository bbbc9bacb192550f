// div: y = a / b with numpy broadcasting (Keras's ops.divide).
// da = dy / b and db = -dy ⊙ y / b (= -dy·a/b²), each summed back to its operand's shape.

#include "ops/broadcast_common.hpp"

namespace loom {

namespace {

class Div final : public BroadcastingBinaryOp {
 public:
  Div() : BroadcastingBinaryOp("div", BinaryKind::div) {}

  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override {
    broadcast_reference(call, [](double a, double b) { return a / b; });
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Node& node = request.node;
    const ValueId dy = request.output_gradient();
    const ValueId a = node.inputs[0], b = node.inputs[1], y = node.outputs[0];
    std::optional<ValueId> da, db;
    if (request.wanted[0]) {
      da = reduce_to_operand(builder, node, builder.emit(node, "div", {dy, b}), a);
    }
    if (request.wanted[1]) {
      const ValueId dy_y = builder.emit(node, "mul", {dy, y});
      const ValueId quotient = builder.emit(node, "div", {dy_y, b});
      db = reduce_to_operand(builder, node,
                             builder.emit(node, "scale", {quotient}, {{"factor", -1.0}}), b);
    }
    return {da, db};
  }
};

}  // namespace

void register_div(OpRegistry& registry) {
  registry.add(std::make_unique<Div>());
}

}  // namespace loom
