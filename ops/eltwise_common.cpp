#include "ops/eltwise_common.hpp"

#include "engine/core/parallel.hpp"
#include "engine/exec/compile_context.hpp"
#include "engine/exec/layout.hpp"
#include "engine/exec/loop_kernel.hpp"
#include "engine/exec/primitive_kernel.hpp"

namespace loom {

namespace {

dnnl::algorithm algorithm_for(const EltwiseDefinition& definition, const Attributes& attributes) {
  return definition.choose_algorithm ? definition.choose_algorithm(attributes)
                                     : definition.algorithm;
}

// Evaluates the attribute functions once, so that a rejected value (or an attribute of the
// wrong type) is reported with the node's name when the node is added to the graph.
void check_attributes(const EltwiseDefinition& definition, const Node& node) {
  try {
    algorithm_for(definition, node.attributes);
    definition.alpha(node.attributes);
    definition.beta(node.attributes);
  } catch (const InputError& error) {
    fail_node(node, error.what());
  }
}

dnnl::eltwise_forward::primitive_desc forward_descriptor(const EltwiseDefinition& definition,
                                                         const Node& node,
                                                         const dnnl::memory::desc& desc,
                                                         const dnnl::engine& engine) {
  return dnnl::eltwise_forward::primitive_desc(
      dnnl::eltwise_forward::desc(
          dnnl::prop_kind::forward_training, algorithm_for(definition, node.attributes), desc,
          definition.alpha(node.attributes), definition.beta(node.attributes)),
      kernel_attributes(), engine);
}

std::vector<TensorType> same_shape_f32(const Node& node, std::span<const TensorType> inputs) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    expect_dtype(node, inputs, i, DType::f32);
    if (inputs[i] != inputs[0]) {
      fail_node(node, describe_input(node, inputs, i) + " does not match " +
                          describe_input(node, inputs, 0));
    }
  }
  return {inputs[0]};
}

class EltwiseOp final : public Op {
 public:
  explicit EltwiseOp(EltwiseDefinition definition) : definition_(std::move(definition)) {}

  std::string_view name() const override { return definition_.name; }
  OpSignature signature() const override {
    return {.inputs = {"x"}, .attributes = definition_.attributes, .role = definition_.role};
  }
  std::optional<size_t> in_place_input(const Node&) const override {
    return definition_.in_place ? std::optional<size_t>(0) : std::nullopt;
  }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    check_attributes(definition_, node);
    return same_shape_f32(node, inputs);
  }

  // Element-wise work runs in any layout: y keeps x's (a convolution's blocked output
  // stays blocked through its activation).
  // The exact loop reads plain memory only (a blocked layout's padding must stay zero).
  void negotiate_layouts(const Node&, LayoutNegotiation& negotiation) const override {
    if (definition_.exact_forward) return;
    negotiation.want(0, negotiation.incoming(0));
    negotiation.produce(0, negotiation.incoming(0));
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    if (const auto function = definition_.exact_forward) {
      const float* x = context.f32(node.inputs[0]);
      float* y = context.f32(node.outputs[0]);
      const int64_t count = context.type(node.inputs[0]).numel();
      return make_loop_kernel(
          [=] { for_each_element(count, [&](int64_t i) { y[i] = function(x[i]); }); });
    }
    dnnl::memory x = context.memory(node.inputs[0]);
    const auto descriptor = forward_descriptor(definition_, node, x.get_desc(), context.engine());
    return std::make_unique<PrimitiveKernel>(
        descriptor, dnnl::eltwise_forward(descriptor),
        std::vector<std::pair<int, dnnl::memory>>{{DNNL_ARG_SRC, std::move(x)},
                                                  {DNNL_ARG_DST, context.memory(node.outputs[0])}},
        context);
  }

  bool has_reference() const override { return bool(definition_.reference); }
  void reference(const ReferenceCall& call) const override {
    if (!definition_.reference) Op::reference(call);  // throws: there is none
    const std::span<const double> x = call.inputs[0];
    const std::span<double> y = call.outputs[0];
    for (size_t i = 0; i < x.size(); ++i) y[i] = definition_.reference(x[i], call.node.attributes);
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Node& node = request.node;
    const ValueId data = definition_.backward_reads_output ? node.outputs[0] : node.inputs[0];
    return {builder.emit(node, definition_.name + "_backward", {request.output_gradient(), data},
                         node.attributes)};
  }

 private:
  EltwiseDefinition definition_;
};

// <name>_backward(dy, data): dx, with data the forward output or input (see the header).
class EltwiseBackward final : public Op {
 public:
  explicit EltwiseBackward(EltwiseDefinition definition)
      : definition_(std::move(definition)), name_(definition_.name + "_backward") {}

  std::string_view name() const override { return name_; }
  OpSignature signature() const override {
    return {.inputs = {"dy", definition_.backward_reads_output ? "y" : "x"},
            .attributes = definition_.attributes,
            .internal = true};
  }
  std::optional<size_t> in_place_input(const Node&) const override { return 0; }  // dx over dy

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    check_attributes(definition_, node);
    return same_shape_f32(node, inputs);
  }

  // dy and dx take the layout of the forward tensor the derivative is read from.
  void negotiate_layouts(const Node&, LayoutNegotiation& negotiation) const override {
    negotiation.want(0, negotiation.incoming(1));
    negotiation.want(1, negotiation.incoming(1));
    negotiation.produce(0, negotiation.incoming(1));
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const ValueId dy = node.inputs[0], data = node.inputs[1], dx = node.outputs[0];
    const auto desc = context.memory(data).get_desc();
    const dnnl::eltwise_backward::primitive_desc descriptor(
        dnnl::eltwise_backward::desc(algorithm_for(definition_, node.attributes), desc, desc,
                                     definition_.alpha(node.attributes),
                                     definition_.beta(node.attributes)),
        kernel_attributes(), context.engine(),
        forward_descriptor(definition_, node, desc, context.engine()));
    const int data_argument = definition_.backward_reads_output ? DNNL_ARG_DST : DNNL_ARG_SRC;
    return std::make_unique<PrimitiveKernel>(
        descriptor, dnnl::eltwise_backward(descriptor),
        std::vector<std::pair<int, dnnl::memory>>{{data_argument, context.memory(data)},
                                                  {DNNL_ARG_DIFF_DST, context.memory(dy)},
                                                  {DNNL_ARG_DIFF_SRC, context.memory(dx)}},
        context);
  }

 private:
  EltwiseDefinition definition_;
  std::string name_;
};

}  // namespace

void register_eltwise(OpRegistry& registry, const EltwiseDefinition& definition) {
  registry.add(std::make_unique<EltwiseOp>(definition));
  registry.add(std::make_unique<EltwiseBackward>(definition));
}

}  // namespace loom
