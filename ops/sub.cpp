// sub: y = a - b with numpy broadcasting (Keras's ops.subtract).
// da = dy and db = -dy, each summed back to its operand's shape.

#include "ops/broadcast_common.hpp"

namespace loom {

namespace {

class Sub final : public Op {
 public:
  std::string_view name() const override { return "sub"; }
  OpSignature signature() const override { return {.inputs = {"a", "b"}}; }
  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_dtype(node, inputs, 0, DType::f32);
    expect_dtype(node, inputs, 1, DType::f32);
    return {TensorType{DType::f32, broadcast_shape(node, inputs[0].shape, inputs[1].shape)}};
  }
  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    return compile_binary(BinaryKind::sub, node, context);
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
