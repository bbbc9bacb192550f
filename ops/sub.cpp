// sub: y = a - b with numpy broadcasting (Keras's ops.subtract).
// da = dy and db = -dy, each summed back to its operand's shape.

#include "ops/broadcast_common.hpp"

namespace loom {

namespace {

class Sub final : public BroadcastingBinaryOp {
 public:
  Sub() : BroadcastingBinaryOp("sub", BinaryKind::sub) {}

  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override {
    broadcast_reference(call, [](double a, double b) { return a - b; });
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Node& node = request.node;
    const ValueId dy = request.output_gradient();
    std::optional<ValueId> da, db;
    if (request.wanted[0]) da = reduce_to_operand(builder, node, dy, node.inputs[0]);
    if (request.wanted[1]) {
      const ValueId negated = builder.emit(node, "scale", {dy}, {{"factor", -1.0}});
      db = reduce_to_operand(builder, node, negated, node.inputs[1]);
    }
    return {da, db};
  }
};

}  // namespace

void register_sub(OpRegistry& registry) {
  registry.add(std::make_unique<Sub>());
}

}  // namespace loom
