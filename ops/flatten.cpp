// flatten: [batch, d1, d2, ...] -> [batch, d1·d2·...] (Keras's Flatten). A reshape that needs
// no attribute; its gradient reshapes dy back.

#include "engine/exec/compile_context.hpp"
#include "engine/exec/loop_kernel.hpp"
#include "engine/graph/op.hpp"

namespace loom {

namespace {

class Flatten final : public Op {
 public:
  std::string_view name() const override { return "flatten"; }
  OpSignature signature() const override { return {.inputs = {"x"}}; }
  std::optional<size_t> in_place_input(const Node&) const override { return 0; }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    if (inputs[0].rank() < 1) fail_node(node, "expected x with a batch dimension, got a scalar");
    const int64_t batch = inputs[0].shape[0];
    return {TensorType{inputs[0].dtype, {batch, inputs[0].numel() / batch}}};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    return make_copy_kernel(context.address(node.inputs[0]), context.address(node.outputs[0]),
                            size_t(context.type(node.inputs[0]).bytes()));
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Shape& shape = builder.graph().value(request.node.inputs[0]).type.shape;
    return {builder.emit(request.node, "reshape", {request.output_gradient()}, {{"shape", shape}})};
  }
};

}  // namespace

void register_flatten(OpRegistry& registry) {
  registry.add(std::make_unique<Flatten>());
}

}  // namespace loom
