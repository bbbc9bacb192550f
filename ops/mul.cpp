// mul: y = a ⊙ b with numpy broadcasting (Keras's ops.multiply).
// da = dy ⊙ b and db = dy ⊙ a, each summed back to its operand's shape.

#include "ops/broadcast_common.hpp"

namespace loom {

namespace {

class Mul final : public Op {
 public:
  std::string_view name() const override { return "mul"; }
  OpSignature signature() const override { return {.inputs = {"a", "b"}}; }
  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_dtype(node, inputs, 0, DType::f32);
    expect_dtype(node, inputs, 1, DType::f32);
    return {TensorType{DType::f32, broadcast_shape(node, inputs[0].shape, inputs[1].shape)}};
  }
  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    return compile_binary(BinaryKind::mul, node, context);
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
