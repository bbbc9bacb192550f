// relu: y = max(x, 0). Its gradient reads the output, not the input (dx = dy where y > 0),
// through oneDNN's "use dst for backward" variant: the input can then be overwritten or fused
// away, and only y must stay alive for the backward pass.

#include "engine/exec/compile_context.hpp"
#include "engine/exec/primitive_kernel.hpp"
#include "engine/graph/op.hpp"

namespace loom {

namespace {

constexpr auto kAlgorithm = dnnl::algorithm::eltwise_relu_use_dst_for_bwd;

dnnl::eltwise_forward::primitive_desc forward_descriptor(const dnnl::memory::desc& desc,
                                                         const dnnl::engine& engine) {
  return dnnl::eltwise_forward::primitive_desc(
      dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training, kAlgorithm, desc, 0.f, 0.f),
      kernel_attributes(), engine);
}

std::vector<TensorType> same_as_first_f32(const Node& node, std::span<const TensorType> inputs) {
  expect_dtype(node, inputs, 0, DType::f32);
  for (size_t i = 1; i < inputs.size(); ++i) {
    if (inputs[i] != inputs[0]) {
      fail_node(node, describe_input(node, inputs, i) + " does not match " +
                          describe_input(node, inputs, 0));
    }
  }
  return {inputs[0]};
}

class Relu final : public Op {
 public:
  std::string_view name() const override { return "relu"; }
  std::optional<size_t> in_place_input(const Node&) const override { return 0; }
  OpSignature signature() const override { return {.inputs = {"x"}}; }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    return same_as_first_f32(node, inputs);
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const auto desc = plain_desc(context.type(node.inputs[0]));
    const auto descriptor = forward_descriptor(desc, context.engine());
    return std::make_unique<PrimitiveKernel>(
        descriptor, dnnl::eltwise_forward(descriptor),
        std::vector<std::pair<int, dnnl::memory>>{{DNNL_ARG_SRC, context.memory(node.inputs[0])},
                                                  {DNNL_ARG_DST, context.memory(node.outputs[0])}},
        context);
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Node& node = request.node;
    return {builder.emit(node, "relu_backward", {request.output_gradient(), node.outputs[0]})};
  }
};

// relu_backward(dy, y): dx = dy where y > 0, else 0.
class ReluBackward final : public Op {
 public:
  std::string_view name() const override { return "relu_backward"; }
  std::optional<size_t> in_place_input(const Node&) const override { return 0; }  // dx over dy
  OpSignature signature() const override { return {.inputs = {"dy", "y"}, .internal = true}; }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    return same_as_first_f32(node, inputs);
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const ValueId dy = node.inputs[0], y = node.inputs[1], dx = node.outputs[0];
    const auto desc = plain_desc(context.type(y));
    const dnnl::eltwise_backward::primitive_desc descriptor(
        dnnl::eltwise_backward::desc(kAlgorithm, desc, desc, 0.f, 0.f), kernel_attributes(),
        context.engine(), forward_descriptor(desc, context.engine()));
    return std::make_unique<PrimitiveKernel>(
        descriptor, dnnl::eltwise_backward(descriptor),
        std::vector<std::pair<int, dnnl::memory>>{{DNNL_ARG_DST, context.memory(y)},
                                                  {DNNL_ARG_DIFF_DST, context.memory(dy)},
                                                  {DNNL_ARG_DIFF_SRC, context.memory(dx)}},
        context);
  }
};

}  // namespace

void register_relu(OpRegistry& registry) {
  registry.add(std::make_unique<Relu>());
  registry.add(std::make_unique<ReluBackward>());
}

}  // namespace loom
