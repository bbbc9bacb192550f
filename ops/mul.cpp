// mul: y = a ⊙ b with numpy broadcasting (Keras's ops.multiply).
// da = dy ⊙ b and db = dy ⊙ a, each summed back to its operand's shape.

#include "ops/broadcast_common.hpp"

namespace loom {

namespace {

class Mul final : public BroadcastingBinaryOp {
 public:
  Mul() : BroadcastingBinaryOp("mul", BinaryKind::mul) {}

  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override {
    broadcast_reference(call, [](double a, double b) { return a * b; });
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Node& node = request.node;
    const ValueId dy = request.output_gradient();
    const ValueId a = node.inputs[0], b = node.inputs[1];
    std::optional<ValueId> da, db;
    if (request.wanted[0]) {
      da = reduce_to_operand(builder, node, builder.emit(node, "mul", {dy, b}), a);
    }
    if (request.wanted[1]) {
      db = reduce_to_operand(builder, node, builder.emit(node, "mul", {dy, a}), b);
    }
    return {da, db};
  }
};

}  // namespace

void register_mul(OpRegistry& registry) {
  registry.add(std::make_unique<Mul>());
}

}  // namespace loom
