// add: y = x0 + x1 + ... for tensors of one shape. Autodiff emits it to sum the gradient
// contributions of a value read by several nodes. oneDNN's sum primitive adds them all in
// one pass.

#include "engine/exec/compile_context.hpp"
#include "engine/exec/primitive_kernel.hpp"
#include "engine/graph/op.hpp"

namespace loom {

namespace {

class Add final : public Op {
 public:
  std::string_view name() const override { return "add"; }
  std::optional<size_t> in_place_input(const Node&) const override { return 0; }

  OpSignature signature() const override { return {.inputs = {"x"}, .variadic = true}; }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    for (size_t i = 1; i < inputs.size(); ++i) {
      if (inputs[i] != inputs[0]) {
        fail_node(node, "input " + std::to_string(i) + " is " + to_string(inputs[i]) +
                            " but input 0 is " + to_string(inputs[0]) +
                            " (add needs equal shapes)");
      }
    }
    expect_dtype(node, inputs, 0, DType::f32);
    return {inputs[0]};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const auto desc = plain_desc(context.type(node.outputs[0]));
    const std::vector<float> scales(node.inputs.size(), 1.0f);
    const std::vector<dnnl::memory::desc> sources(node.inputs.size(), desc);
    const dnnl::sum::primitive_desc descriptor(desc, scales, sources, context.engine(),
                                               kernel_attributes());
    std::vector<std::pair<int, dnnl::memory>> arguments;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      arguments.emplace_back(DNNL_ARG_MULTIPLE_SRC + int(i), context.memory(node.inputs[i]));
    }
    arguments.emplace_back(DNNL_ARG_DST, context.memory(node.outputs[0]));
    return std::make_unique<PrimitiveKernel>(descriptor, dnnl::sum(descriptor),
                                             std::move(arguments), context);
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder&,
                                               const GradientRequest& request) const override {
    return std::vector<std::optional<ValueId>>(request.node.inputs.size(),
                                               request.output_gradient());
  }
};

}  // namespace

void register_add(OpRegistry& registry) {
  registry.add(std::make_unique<Add>());
}

}  // namespace loom
