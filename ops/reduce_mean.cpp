// reduce_mean: the mean of x over the listed axes, which disappear (Keras's ops.mean with
// keepdims=False); oneDNN's reduction_mean. The gradient spreads dy / count back over them.

#include "engine/exec/compile_context.hpp"
#include "engine/exec/primitive_kernel.hpp"
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

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const TensorType& x = context.type(node.inputs[0]);
    const std::vector<bool> reduced = reduced_axes(node, x.rank());
    dnnl::memory::dims y_dims = to_dims(x.shape);
    for (size_t i = 0; i < reduced.size(); ++i) {
      if (reduced[i]) y_dims[i] = 1;
    }
    const auto x_desc = plain_desc(x);
    const auto y_desc = plain_desc(DType::f32, y_dims);
    const dnnl::reduction::primitive_desc descriptor(
        dnnl::reduction::desc(dnnl::algorithm::reduction_mean, x_desc, y_desc, 0.f, 0.f),
        kernel_attributes(), context.engine());
    return std::make_unique<PrimitiveKernel>(
        descriptor, dnnl::reduction(descriptor),
        std::vector<std::pair<int, dnnl::memory>>{
            {DNNL_ARG_SRC, context.memory(node.inputs[0], x_desc)},
            {DNNL_ARG_DST, context.memory(node.outputs[0], y_desc)}},
        context);
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
