// reduce_mean: the mean of x over the listed axes, which disappear (Keras's ops.mean with
// keepdims=False); oneDNN's reduction_mean. The gradient spreads dy / count back over them.

#include "engine/exec/compile_context.hpp"
#include "ops/reduce_common.hpp"

namespace loom {

namespace {

class ReduceMean final : public Op {
 public:
  std::string_view name() const override { return "reduce_mean"; }
  OpSignature signature() const override {
    return {.inputs = {"x"},
            .attributes = {{"axes", AttributeKind::integers, "the axes to average over"}}};
  }
  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    return reduce_shape_rule(node, inputs);
  }

  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override { reduce_reference(call, true); }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    return compile_reduction(dnnl::algorithm::reduction_mean, node, context,
                             kept_dims(node, context.type(node.inputs[0])));
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const TensorType& x = builder.graph().value(request.node.inputs[0]).type;
    const TensorType& y = builder.graph().value(request.node.outputs[0]).type;
    const double count = double(x.numel()) / double(y.numel());
    return {
        spread_over_reduced_axes(builder, request.node, request.output_gradient(), 1.0 / count)};
  }
};

}  // namespace

void register_reduce_mean(OpRegistry& registry) {
  registry.add(std::make_unique<ReduceMean>());
}

}  // namespace loom
