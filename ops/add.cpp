// add: y = x0 + x1 + ... . Tensors of one shape are summed by oneDNN's sum primitive in one
// pass (autodiff emits this form to sum the gradient contributions of a value read by several
// nodes); two tensors of different shapes broadcast as numpy does (Keras's ops.add).

#include "engine/exec/compile_context.hpp"
#include "engine/exec/primitive_kernel.hpp"
#include "ops/broadcast_common.hpp"

namespace loom {

namespace {

bool same_shapes(const Node& node, const CompileContext& context) {
  for (ValueId input : node.inputs) {
    if (context.type(input) != context.type(node.outputs[0])) return false;
  }
  return true;
}

class Add final : public Op {
 public:
  std::string_view name() const override { return "add"; }
  OpSignature signature() const override { return {.inputs = {"x"}, .variadic = true}; }
  std::optional<size_t> in_place_input(const Node&) const override { return 0; }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    for (size_t i = 0; i < inputs.size(); ++i) expect_dtype(node, inputs, i, DType::f32);
    if (inputs.size() == 2) {
      return {TensorType{DType::f32, broadcast_shape(node, inputs[0].shape, inputs[1].shape)}};
    }
    for (size_t i = 1; i < inputs.size(); ++i) {
      if (inputs[i] != inputs[0]) {
        fail_node(node, "input " + std::to_string(i) + " is " + to_string(inputs[i]) +
                            " but input 0 is " + to_string(inputs[0]) +
                            " (more than two inputs must have one shape)");
      }
    }
    return {inputs[0]};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    if (!same_shapes(node, context)) return compile_binary(BinaryKind::add, node, context);
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

  // Two operands broadcast as numpy does; more have one shape and are summed element-wise.
  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override {
    if (call.inputs.size() == 2) {
      broadcast_reference(call, [](double a, double b) { return a + b; });
      return;
    }
    for (const std::span<const double> x : call.inputs) {
      for (size_t i = 0; i < x.size(); ++i) call.outputs[0][i] += x[i];
    }
  }

  // Each input receives dy, summed down to its own shape where it was broadcast.
  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    std::vector<std::optional<ValueId>> gradients;
    for (size_t i = 0; i < request.node.inputs.size(); ++i) {
      gradients.push_back(request.wanted[i] ? std::optional(reduce_to_operand(
                                                  builder, request.node, request.output_gradient(),
                                                  request.node.inputs[i]))
                                            : std::nullopt);
    }
    return gradients;
  }
};

}  // namespace

void register_add(OpRegistry& registry) {
  registry.add(std::make_unique<Add>());
}

}  // namespace loom
